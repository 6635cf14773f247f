"""The order aggregate's rules: pure Python, no AWS, tested on their own.

The repository persists what these functions decide; it never decides.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import Any

from backout.errors import IllegalTransition, NoCancellationRequest, OverRefund


class OrderStatus(str, Enum):
    """Where an order stands in Backout's eyes."""

    OPEN = "OPEN"
    CANCEL_REQUESTED = "CANCEL_REQUESTED"
    CANCELLING = "CANCELLING"
    CANCELLED = "CANCELLED"
    ON_HOLD = "ON_HOLD"


#: Allowed moves; anything else is refused, not applied.
TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.OPEN: frozenset({OrderStatus.CANCEL_REQUESTED}),
    OrderStatus.CANCEL_REQUESTED: frozenset(
        {OrderStatus.CANCELLING, OrderStatus.OPEN, OrderStatus.ON_HOLD}
    ),
    OrderStatus.CANCELLING: frozenset({OrderStatus.CANCELLED, OrderStatus.ON_HOLD}),
    OrderStatus.ON_HOLD: frozenset({OrderStatus.CANCELLING, OrderStatus.OPEN, OrderStatus.CANCELLED}),
    # a cancelled order is never re-opened for sale (a re-order is a new order, rule 8); only money
    # found owed afterwards (a refund that failed after it succeeded) puts it before an operator again
    OrderStatus.CANCELLED: frozenset({OrderStatus.ON_HOLD}),
}


#: Statuses no order webhook may refresh and no cancel request may leave: cancelled stays cancelled (rule 8).
TERMINAL: frozenset[OrderStatus] = frozenset({OrderStatus.CANCELLED})

#: Fields only the saga writes on an order record; an order webhook never sets them.
SAGA_FIELDS = frozenset({"order_id", "status", "refunded_total", "active_request_id", "hold_reason",
                         "created_at", "updated_at", "source_at"})


def order_refresh(update: Mapping[str, Any]) -> dict[str, Any]:
    """What a newer order webhook may change on a known order record.

    Never the saga's fields (status, refunded total, the active request...), never a
    value to nothing, and never "not shipped" (a parcel cannot be un-shipped). The
    repository also refuses any refresh of a terminal order (rule 7: it is kept as it
    ended; rule 8: buying again is a new order with its own id).
    """
    fields = {k: v for k, v in update.items() if k not in SAGA_FIELDS and v is not None}
    if not fields.get("shipped"):
        fields.pop("shipped", None)
    return fields


def can_transition(old: OrderStatus, new: OrderStatus) -> bool:
    """True when the aggregate may move from ``old`` to ``new``."""
    return new in TRANSITIONS[old]


#: Where an order that was cancelled once may never go again, though it is before an operator (rule 8).
NEVER_AFTER_CANCELLED: frozenset[OrderStatus] = frozenset({OrderStatus.OPEN, OrderStatus.CANCEL_REQUESTED})


def check_transition(old: OrderStatus | str, new: OrderStatus | str, was_cancelled: bool = False) -> OrderStatus:
    """Return ``new`` as a status, or raise IllegalTransition.

    ``was_cancelled``: the order was cancelled before and reopened for money found owed; it can
    only end cancelled again, never be open for sale (a re-order is a new order).
    """
    old_s, new_s = OrderStatus(old), OrderStatus(new)
    if old_s == new_s:
        return new_s  # replays of the same step are no-ops, not errors
    if not can_transition(old_s, new_s) or (was_cancelled and new_s in NEVER_AFTER_CANCELLED):
        raise IllegalTransition(f"order cannot go from {old_s.value} to {new_s.value}")
    return new_s


def sources_for(new: OrderStatus) -> list[str]:
    """Statuses from which ``new`` may be reached (for conditional writes), itself included."""
    return sorted({old.value for old, nexts in TRANSITIONS.items() if new in nexts} | {new.value})


def require_request(request: object | None, request_id: str) -> None:
    """Rule 3: money moves only for a recorded cancellation request, and only for that one.

    A request recorded under another id (another cancellation, another order's) does
    not authorise this one.
    """
    if request is None or not request_id:
        raise NoCancellationRequest(f"no recorded cancellation request {request_id!r}")
    recorded = request.get("request_id") if isinstance(request, Mapping) else None
    if recorded is not None and recorded != request_id:
        raise NoCancellationRequest(f"recorded request {recorded!r} is not request {request_id!r}")


def refundable(captured: int, already_refunded: int, wanted: int | None = None) -> int:
    """How much may be refunded now: never more than captured minus refunded.

    ``wanted`` None means "everything still refundable"; an explicit amount
    larger than what is left raises OverRefund.
    """
    if captured < 0 or already_refunded < 0:
        raise ValueError("amounts are non-negative minor units")
    left = captured - already_refunded
    if left < 0:
        raise OverRefund(f"already refunded {already_refunded} of {captured}")
    if wanted is None:
        return left
    if wanted <= 0:
        raise ValueError("a refund is a positive amount")
    if wanted > left:
        raise OverRefund(f"refund {wanted} exceeds refundable {left}")
    return wanted
