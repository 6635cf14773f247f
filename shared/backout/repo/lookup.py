"""The orders table's two sparse indexes, for the operator: the hold queue and provider objects.

* ``HoldQueue`` (hash ``hold_queue``, range ``held_since``): an order META carries ``hold_queue``
  only once it has been held (``OrdersRepository.transition``): ``ON_HOLD`` while held, and on its way
  out the order's own ``RELEASED#<order id>`` (rule 7: nothing, not even an attribute, is removed; a
  value per order puts no hot key in the index). The ``ON_HOLD`` partition is exactly the queue,
  oldest first; orders never held are not in the index at all.
* ``ByProviderObject`` (hash ``object_ref``): a ledger fact about a refund or a parcel carries its
  provider id (refund id, tracking number) as ``object_ref`` (``repo.facts``), so an operator's
  refund id or tracking number finds its order without a scan.

Both are KEYS_ONLY and eventually consistent: callers re-read the order itself before trusting it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from backout.repo.dynamo import from_item, values

HOLD_INDEX = "HoldQueue"
HOLD_KEY = "hold_queue"
HOLD_SINCE = "held_since"
#: The one value of ``hold_queue``: the queue is small (orders waiting for a person), one partition holds it.
HOLD_QUEUE = "ON_HOLD"
RELEASED = "RELEASED#"
OBJECT_INDEX = "ByProviderObject"
OBJECT_REF = "object_ref"
#: Ledger kinds indexed by their provider id (payments are found through ``PAY#`` already).
INDEXED_KINDS = frozenset({"refund", "parcel"})


def hold_queue_change(order_id: str, old: str, new: str) -> dict[str, str]:
    """The ``:hq`` value a status change writes: on the queue, off it, or nothing (``{}``) when neither."""
    if new == HOLD_QUEUE and old != HOLD_QUEUE:
        return {":hq": HOLD_QUEUE}
    if old == HOLD_QUEUE and new != HOLD_QUEUE:
        return {":hq": f"{RELEASED}{order_id}"}
    return {}


def _query(repo: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:
    kwargs["TableName"] = repo.table
    while True:
        resp = repo.ddb.query(**kwargs)
        yield from (from_item(i) or {} for i in resp.get("Items", []))
        if "LastEvaluatedKey" not in resp:
            return
        kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]


def held_orders(repo: Any) -> list[tuple[str, str]]:
    """(order id, held since) of every order on the hold queue, oldest first."""
    items = _query(repo, IndexName=HOLD_INDEX, KeyConditionExpression="#q = :q",
                   ExpressionAttributeNames={"#q": HOLD_KEY}, ExpressionAttributeValues=values({":q": HOLD_QUEUE}),
                   ScanIndexForward=True)
    return [(str(i["pk"]).removeprefix("ORDER#"), str(i.get(HOLD_SINCE, ""))) for i in items]


def orders_for_object(repo: Any, object_id: str) -> list[tuple[str, str]]:
    """(order id, ledger kind) of every order whose ledger names the provider object ``object_id``."""
    items = _query(repo, IndexName=OBJECT_INDEX, KeyConditionExpression="#r = :r",
                   ExpressionAttributeNames={"#r": OBJECT_REF}, ExpressionAttributeValues=values({":r": object_id}))
    out = []
    for item in items:
        kind = str(item.get("sk", "")).split("#")[1] if str(item.get("sk", "")).startswith("F#") else ""
        out.append((str(item["pk"]).removeprefix("ORDER#"), kind))
    return out
