"""Daily counters of orders placed and cancelled, kept in the orders table.

``STATS#COUNTS / <day>#<kind>#<channel>#<gateway>#<initiator>``  ``n`` (ADD)
``ORDER#<id> / COUNTED#<kind>``                                  the order was counted (marker)

Each count is one transaction: the marker (only if absent) and the counter
increment. A redelivered event or a retried saga step finds the marker and
counts nothing, so every order is counted once as placed and at most once as
cancelled. Days are UTC dates; sort keys start with the ISO date, so any
window is one Query.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

from backout import metric_names as names
from backout.ops.emit import emit
from backout.ops.rates import CANCELLED, PLACED, Count, Kind
from backout.repo.dynamo import from_item, to_item, values, written_once
from backout.repo.orders import OrdersRepository, now_iso

COUNTS_PK = "STATS#COUNTS"


def today() -> date:
    """The current UTC day."""
    return datetime.now(timezone.utc).date()


def _count(repo: OrdersRepository, order: dict[str, Any], kind: Kind, day: date, initiator: str = "") -> bool:
    """One idempotent count: the order's marker and the day's counter, in one transaction."""
    channel, gateway = str(order.get("channel", "")), str(order.get("gateway", ""))
    sk = f"{day.isoformat()}#{kind}#{channel}#{gateway}#{initiator}"
    marker = {"pk": f"ORDER#{order['order_id']}", "sk": f"COUNTED#{kind}", "counter": sk, "at": now_iso()}
    return written_once(lambda: repo.ddb.transact_write_items(TransactItems=[
        {"Put": {"TableName": repo.table, "Item": to_item(marker), "ConditionExpression": "attribute_not_exists(pk)"}},
        {"Update": {"TableName": repo.table, "Key": to_item({"pk": COUNTS_PK, "sk": sk}),
                    "UpdateExpression": "ADD n :one SET #d = :d, kind = :k, channel = :c, gateway = :g, initiator = :i",
                    "ExpressionAttributeNames": {"#d": "day"},
                    "ExpressionAttributeValues": values({":one": 1, ":d": day.isoformat(), ":k": kind,
                                                         ":c": channel, ":g": gateway, ":i": initiator})}},
    ]))


def day_of(when: datetime | date | None) -> date:
    """The UTC day of a timestamp (today when None)."""
    if when is None:
        return today()
    if isinstance(when, datetime):
        return (when if when.tzinfo else when.replace(tzinfo=timezone.utc)).astimezone(timezone.utc).date()
    return when


def count_placed(repo: OrdersRepository, order: dict[str, Any], when: datetime | date | None = None) -> bool:
    """Count an order as placed (the rates' denominator), once; False if it was counted already."""
    counted = _count(repo, order, PLACED, day_of(when))
    if counted:
        emit(names.ORDERS_PLACED, channel=str(order.get("channel", "")))
    return counted


def count_cancelled(repo: OrdersRepository, order: dict[str, Any], initiator: str,
                    when: datetime | date | None = None) -> bool:
    """Count an order as cancelled by ``initiator``, once; False if it was counted already."""
    initiator = initiator or "unknown"
    counted = _count(repo, order, CANCELLED, day_of(when), initiator)
    if counted:
        emit(names.CANCELLATIONS, channel=str(order.get("channel", "")), initiator=initiator)
    return counted


def load_counts(repo: OrdersRepository, since: date) -> list[Count]:
    """Every daily counter from ``since`` on (one paginated Query)."""
    kwargs: dict[str, Any] = {
        "TableName": repo.table,
        "KeyConditionExpression": "pk = :pk AND sk >= :since",
        "ExpressionAttributeValues": values({":pk": COUNTS_PK, ":since": since.isoformat()}),
    }
    out: list[Count] = []
    while True:
        resp = repo.ddb.query(**kwargs)
        for raw in resp.get("Items", []):
            item = from_item(raw) or {}
            out.append(Count(date.fromisoformat(str(item["day"])), item["kind"], str(item["channel"]),
                             str(item["gateway"]), int(item["n"]), str(item.get("initiator", ""))))
        if "LastEvaluatedKey" not in resp:
            return out
        kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]


def recent_counts(repo: OrdersRepository, days: int, end: date | None = None) -> list[Count]:
    """The counters of the ``days`` days up to ``end`` (default today)."""
    return load_counts(repo, (end or today()) - timedelta(days=days - 1))


def seconds_since(iso: str) -> float | None:
    """Seconds from an ISO timestamp (as the repositories write them) to now; None when absent or unreadable."""
    try:
        then = datetime.fromisoformat(iso)
    except ValueError:
        return None
    return max(0.0, (datetime.now(timezone.utc) - then).total_seconds())
