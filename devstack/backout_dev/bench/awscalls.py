"""Count AWS API calls through botocore's event hooks, per caller.

The hook is a ``before-call`` handler added to botocore's built-in handlers,
so every botocore session created afterwards (boto3's default session,
Powertools' providers, moto's own clients) carries it. Calls are attributed
to the caller named by :meth:`AwsCallCounter.caller` on the current thread;
calls made outside any caller (the embedded AWS talking to itself, the
benchmark's own reads) are filed under ``None`` and not reported as ours.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class AwsCallCounter:
    """Counts ``service.Operation`` calls by caller; install once per process, before clients exist."""

    _installed: "AwsCallCounter | None" = None

    def __init__(self) -> None:
        self.calls: Counter[tuple[str | None, str]] = Counter()
        #: Items written or read per call (a transaction or batch carries several; others one).
        self.items: Counter[tuple[str | None, str]] = Counter()
        self._lock = threading.Lock()
        self._local = threading.local()

    @classmethod
    def install(cls) -> "AwsCallCounter":
        """The process's counter, hooked into botocore (new sessions and boto3's default one)."""
        if cls._installed is None:
            import boto3
            from botocore import handlers

            counter = cls()
            handlers.BUILTIN_HANDLERS.append(("before-call", counter._on_call))
            boto3.DEFAULT_SESSION = None  # the next default session registers the hook
            cls._installed = counter
        return cls._installed

    def _on_call(self, model: Any = None, params: Any = None, **_: Any) -> None:
        name = f"{model.service_model.service_id.hyphenize()}.{model.name}" if model is not None else "?"
        items = _item_count(name, params)
        with self._lock:
            key = (getattr(self._local, "caller", None), name)
            self.calls[key] += 1
            self.items[key] += items

    @contextmanager
    def caller(self, name: str) -> Iterator[None]:
        """Attribute the calls this thread makes inside the block to ``name``."""
        previous = getattr(self._local, "caller", None)
        self._local.caller = name
        try:
            yield
        finally:
            self._local.caller = previous

    def snapshot(self, items: bool = False) -> Counter[tuple[str | None, str]]:
        """A copy of the call counts (or item counts) so far; subtract two snapshots for a phase."""
        with self._lock:
            return Counter(self.items if items else self.calls)

    @staticmethod
    def by_operation(counts: Counter[tuple[str | None, str]], caller: str | None = "*") -> Counter[str]:
        """Counts per operation for one caller (``"*"``: every named caller, never the untagged ones)."""
        out: Counter[str] = Counter()
        for (who, op), n in counts.items():
            if (caller == "*" and who is not None) or who == caller:
                out[op] += n
        return out


def _item_count(name: str, params: Any) -> int:
    """How many items a DynamoDB call touches (TransactWriteItems and batches carry several)."""
    if name not in ("dynamodb.TransactWriteItems", "dynamodb.TransactGetItems", "dynamodb.BatchWriteItem"):
        return 1
    import json

    try:
        body = json.loads((params or {}).get("body") or b"{}")
    except ValueError:
        return 1
    if "TransactItems" in body:
        return len(body["TransactItems"])
    return sum(len(v) for v in (body.get("RequestItems") or {}).values()) or 1
