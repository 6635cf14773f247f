"""The order aggregate's rules, without AWS."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backout.domain.order import (
    TRANSITIONS,
    OrderStatus,
    can_transition,
    check_transition,
    refundable,
    require_request,
    sources_for,
)
from backout.errors import IllegalTransition, NoCancellationRequest, OverRefund


def test_no_refund_without_a_recorded_request() -> None:
    with pytest.raises(NoCancellationRequest):
        require_request(None, "req-1")
    require_request({"request_id": "req-1"}, "req-1")


@given(st.integers(0, 10**9), st.integers(0, 10**9))
def test_never_refund_more_than_captured_minus_refunded(captured: int, refunded: int) -> None:
    if refunded > captured:
        with pytest.raises(OverRefund):
            refundable(captured, refunded)
        return
    left = refundable(captured, refunded)
    assert left == captured - refunded
    if left:
        assert refundable(captured, refunded, left) == left
    with pytest.raises(OverRefund):
        refundable(captured, refunded, left + 1)


def test_refund_amounts_are_positive() -> None:
    with pytest.raises(ValueError):
        refundable(100, 0, 0)
    with pytest.raises(ValueError):
        refundable(-1, 0)


def test_cancelled_is_terminal_a_reorder_is_a_new_order() -> None:
    for status in OrderStatus:
        if status not in (OrderStatus.CANCELLED, OrderStatus.ON_HOLD):
            assert not can_transition(OrderStatus.CANCELLED, status)
    with pytest.raises(IllegalTransition):
        check_transition("CANCELLED", "CANCEL_REQUESTED")
    # reopened for money found owed (a refund failed afterwards): before an operator, never open for sale
    assert check_transition("CANCELLED", "ON_HOLD") == OrderStatus.ON_HOLD
    for never in ("OPEN", "CANCEL_REQUESTED"):
        with pytest.raises(IllegalTransition):
            check_transition("ON_HOLD", never, was_cancelled=True)


def test_money_only_moves_after_a_request() -> None:
    # OPEN cannot jump to CANCELLING or CANCELLED: a request must come first
    assert not can_transition(OrderStatus.OPEN, OrderStatus.CANCELLING)
    assert not can_transition(OrderStatus.OPEN, OrderStatus.CANCELLED)


@given(st.lists(st.sampled_from(list(OrderStatus)), max_size=30))
def test_any_sequence_of_moves_keeps_a_valid_status(moves: list[OrderStatus]) -> None:
    status = OrderStatus.OPEN
    for new in moves:
        try:
            status = check_transition(status, new)
        except IllegalTransition:
            assert new not in TRANSITIONS[status] and new != status
    assert status in OrderStatus


def test_sources_for_lists_every_predecessor() -> None:
    assert set(sources_for(OrderStatus.CANCELLING)) == {"CANCEL_REQUESTED", "ON_HOLD", "CANCELLING"}
