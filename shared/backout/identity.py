"""Rule 8 where a store reuses its order numbers: a new order under an old number is a new order.

A self-hosted store (WooCommerce restored from a backup, a sequential-numbers plugin reset) can hand
an order number out again. Backout's id for an order is ``channel:number``, so the second order
would land on the first one's record: a cancelled record is never refreshed (rule 7), and the new
buyer's request would be answered by the old order's state. Each such order is an *incarnation*:

- the first keeps ``channel:number``; the k-th is ``channel:number~k``;
- a placement is a new incarnation when the latest one ended (terminal) and the placement names a
  payment that is not one of that incarnation's (``rules.is_reorder``); a placement naming a payment
  an incarnation already has is that incarnation's (a late update of it);
- each incarnation points at the next (``reissued_as``, set once by a conditional write, so racing
  deliveries agree), and records when it was placed (``placed_at``);
- an event carrying the number belongs to the latest incarnation placed at or before the event's
  time; payment, refund and dispute events are then matched by the payment they name, as always.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from backout.domain import rules
from backout.domain.events import OrderPlaced
from backout.repo.orders import OrdersRepository

#: Between the store's number and the incarnation's ordinal.
SEP = "~"
#: A chain longer than this is a fault, not a store: stop following it.
MAX_INCARNATIONS = 50


def incarnation_id(base: str, ordinal: int) -> str:
    """The id of the ``ordinal``-th order under one store number (the first keeps the plain id)."""
    return base if ordinal <= 1 else f"{base}{SEP}{ordinal}"


def base_of(order_id: str) -> str:
    """The store number's plain id for any incarnation's id."""
    head, sep, tail = order_id.rpartition(SEP)
    return head if sep and tail.isdigit() else order_id


def route(repo: OrdersRepository, order: dict[str, Any], at: datetime) -> dict[str, Any]:
    """The incarnation an event of time ``at`` carrying ``order``'s number belongs to (``order`` if none later)."""
    current = order
    for _ in range(MAX_INCARNATIONS):
        nxt_id = current.get("reissued_as")
        nxt = repo.get_order(str(nxt_id)) if nxt_id else None
        if nxt is None or datetime.fromisoformat(str(nxt.get("placed_at") or nxt["source_at"])) > at:
            return current
        current = nxt
    return current


def placement(repo: OrdersRepository, ev: OrderPlaced) -> OrderPlaced:
    """The placement addressed to the incarnation it is: an earlier one by its payment, the latest, or a new one.

    Asked only when the order it carries refused it as stale (older, or ended), so a placement of a
    new or live order costs no read."""
    base = base_of(str(ev.order_id))
    if ev.payment_ref:
        owner = repo.order_for_payment(ev.payment_ref)
        if owner and base_of(owner) == base:
            return ev if owner == ev.order_id else ev.model_copy(update={"order_id": owner})
    order = repo.get_order(base)
    ordinal = 1
    while order is not None and order.get("reissued_as") and ordinal < MAX_INCARNATIONS:
        nxt = repo.get_order(str(order["reissued_as"]))
        if nxt is None:  # pointed at but not yet recorded (a crash in between): reissue() hands back the pointer
            break
        ordinal, order = ordinal + 1, nxt
    if order is None or not rules.is_reorder(order, ev.payment_ref):
        latest = ev.order_id if order is None else order["order_id"]
        return ev if latest == ev.order_id else ev.model_copy(update={"order_id": latest})
    new_id = repo.reissue(str(order["order_id"]), incarnation_id(base, ordinal + 1))
    return ev.model_copy(update={"order_id": new_id})
