"""Memoise work moto repeats on every call, for the in-process local stack only.

A profile of the simulation (py-spy, 30 orders) showed a third of the stack's
CPU in work whose answer never changes between calls:

* ``AmazonStateLanguageParser.parse``: the ANTLR parse of the state machine's
  definition, redone for every execution (16 %). The evaluation tree it
  builds holds no per-execution state (each execution's data lives in its
  ``Environment``), so one tree per definition string serves every execution.
* ``jsonpath_ng.ext.parse``: a new PLY parser with its tables for every
  JSONPath the interpreter evaluates (6 %); the parsed path is immutable.
* ``BackendDict.__getitem__``: a linear ``in`` scan over every registered
  moto service on each backend lookup (7 %). The fast path returns an
  account's backend that already exists; the first lookup, and the first
  after a moto reset (which empties the dict), still take moto's own path.
* ``boto_client_for``: a new boto3 client (endpoint, SSL context, loaders)
  for each Lambda task the interpreter invokes (5 %). moto's function
  ignores the state's credentials (it always signs with dummy keys), and
  clients are thread-safe: one per (region, service) serves every task.
* botocore's per-request ``invocation-id`` (``uuid.uuid4``, an ``os.urandom``
  system call, 7 % in this sandbox, where system calls are dear): an id
  from a seeded-once PRNG instead. It only labels the request's retries.
* ``method_names_from_class``: ``inspect.getmembers`` on the response class
  for every request moto dispatches (2 %).
* ``Table.query`` on the base table: moto builds and sorts a list of *every*
  item in the table, then keeps the partition's. Each Query therefore costs
  time in proportion to the table: at 1,000 orders the dispatcher's lookup of
  parked events took 40 % of the stack's CPU, and it grows with each order.
  While a base-table query runs, ``all_items`` answers with the queried
  partition only (the query filters to that hash key and sorts by range key
  anyway). Index queries and scans keep moto's own path.

Nothing here changes an answer moto gives; the whole suite runs with it on.
``install``/``uninstall`` are idempotent and put every original back.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

_undo: list[Callable[[], None]] = []
_lock = threading.Lock()


def _swap(owner: Any, name: str, replacement: Any) -> None:
    """Set ``owner.name`` and remember how to put the original back."""
    original = owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)
    setattr(owner, name, replacement)
    _undo.append(lambda: setattr(owner, name, original))


def install() -> None:
    """Patch moto (idempotent)."""
    with _lock:
        if _undo:
            return
        _memoise_asl_parse()
        _memoise_jsonpath()
        _fast_backend_lookup()
        _reuse_task_clients()
        _memoise_method_names()
        _cheap_invocation_ids()
        _partition_queries()


def uninstall() -> None:
    """Put every original back (in reverse order)."""
    with _lock:
        while _undo:
            _undo.pop()()


def _memoise_asl_parse() -> None:
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    original = AmazonStateLanguageParser.parse
    parsed = functools.lru_cache(maxsize=64)(original)
    _swap(AmazonStateLanguageParser, "parse", staticmethod(parsed))


def _memoise_jsonpath() -> None:
    from moto.stepfunctions.parser.asl.utils import json_path

    _swap(json_path, "parse", functools.lru_cache(maxsize=4096)(json_path.parse))


def _fast_backend_lookup() -> None:
    from moto.core.base_backend import BackendDict

    original = BackendDict.__getitem__

    def getitem(self: Any, account_id: str) -> Any:
        try:
            return dict.__getitem__(self, account_id)  # created (and registered) earlier; a reset empties the dict
        except KeyError:
            return original(self, account_id)

    _swap(BackendDict, "__getitem__", getitem)


def _reuse_task_clients() -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

    original = lambda_eval_utils.boto_client_for
    clients: dict[tuple[str, str], Any] = {}
    guard = threading.Lock()

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        with guard:
            if (region, service) not in clients:
                clients[(region, service)] = original(region, service, state_credentials)
            return clients[(region, service)]

    _swap(lambda_eval_utils, "boto_client_for", boto_client_for)


def _memoise_method_names() -> None:
    from moto.core import responses

    _swap(responses, "method_names_from_class", functools.lru_cache(maxsize=None)(responses.method_names_from_class))


def _cheap_invocation_ids() -> None:
    import random
    import types
    import uuid

    from botocore import endpoint

    rng = random.Random()  # seeded once from the OS; no system call per request after that
    shim = types.SimpleNamespace(uuid4=lambda: uuid.UUID(int=rng.getrandbits(128), version=4))
    _swap(endpoint, "uuid", shim)


def _partition_queries() -> None:
    from moto.dynamodb.models.table import Table

    original_query, original_all = Table.query, Table.all_items
    querying = threading.local()

    def all_items(self: Any) -> Any:
        key = getattr(querying, "hash_key", None)
        if key is None or not self.range_key_attr:
            return original_all(self)
        return list(self.items.get(key, {}).values())  # .get: never create a partition in the defaultdict

    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("index_name") or len(args) >= 7 and args[6]:  # index_name, by keyword or position
            return original_query(self, hash_key, *args, **kwargs)
        querying.hash_key = hash_key
        try:
            return original_query(self, hash_key, *args, **kwargs)
        finally:
            querying.hash_key = None

    _swap(Table, "query", query)
    _swap(Table, "all_items", all_items)
