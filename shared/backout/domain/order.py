"""The order aggregate's rules: pure Python, no AWS, tested on their own.

The repository persists what these functions decide; it never decides.
"""

from __future__ import annotations

from enum import Enum

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
    OrderStatus.CANCELLED: frozenset(),  # terminal: a re-order is a new order
}


def can_transition(old: OrderStatus, new: OrderStatus) -> bool:
    """True when the aggregate may move from ``old`` to ``new``."""
    return new in TRANSITIONS[old]


def check_transition(old: OrderStatus | str, new: OrderStatus | str) -> OrderStatus:
    """Return ``new`` as a status, or raise IllegalTransition."""
    old_s, new_s = OrderStatus(old), OrderStatus(new)
    if old_s == new_s:
        return new_s  # replays of the same step are no-ops, not errors
    if not can_transition(old_s, new_s):
        raise IllegalTransition(f"order cannot go from {old_s.value} to {new_s.value}")
    return new_s


def sources_for(new: OrderStatus) -> list[str]:
    """Statuses from which ``new`` may be reached (for conditional writes), itself included."""
    return sorted({old.value for old, nexts in TRANSITIONS.items() if new in nexts} | {new.value})


def require_request(request: object | None, request_id: str) -> None:
    """Rule 3: money moves only for a recorded cancellation request."""
    if request is None:
        raise NoCancellationRequest(f"no recorded cancellation request {request_id}")


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
