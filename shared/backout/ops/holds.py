"""The operator queue: every order waiting for a person, oldest first (GET /operator/holds)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from backout.domain.holds import deadline, owed_minor
from backout.domain.order import OrderStatus
from backout.repo.lookup import held_orders
from backout.repo.orders import OrdersRepository


def _age_seconds(since: str, now: datetime) -> int:
    try:
        return max(0, int((now - datetime.fromisoformat(since)).total_seconds()))
    except ValueError:
        return 0


def hold_item(repo: OrdersRepository, order_id: str, since: str, now: datetime) -> dict[str, Any] | None:
    """One held order as the queue shows it; None when it is no longer held (the index lags the table)."""
    snap = repo.snapshot(order_id)
    order = snap.order
    if order is None or order.get("status") != OrderStatus.ON_HOLD.value:
        return None
    request = snap.requests.get(str(order.get("hold_request_id") or order.get("active_request_id") or ""))
    due, kind = deadline(snap.facts(), request)
    since = str(order.get("held_since") or since)
    return {"order_id": order_id, "channel": str(order.get("channel", "")),
            "platform_order_id": str(order.get("external_id", "")), "reason": str(order.get("hold_reason", "")),
            "since": since, "age_seconds": _age_seconds(since, now),
            "owed_minor": owed_minor(order, snap.facts()), "currency": str(order.get("currency", "")),
            "deadline": due.isoformat() if due else None, "deadline_kind": kind}


def list_holds(repo: OrdersRepository | None = None, now: datetime | None = None) -> list[dict[str, Any]]:
    """Every ON_HOLD order with its reason, age, amount owed and deadline, oldest first."""
    repo = repo or OrdersRepository()
    now = now or datetime.now(timezone.utc)
    items = (hold_item(repo, order_id, since, now) for order_id, since in held_orders(repo))
    return sorted((i for i in items if i is not None), key=lambda i: i["since"])
