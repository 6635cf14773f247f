"""Stateful property tests of the order aggregate's rules (shared/backout/domain/order.py).

A RuleBasedStateMachine drives an order through any sequence of domain steps:
payments captured, cancellation requests, status moves (legal or not),
refunds (with or without a request, within or over what is left), webhook
refreshes. The aggregate here applies a step only through the domain
functions, so whatever they refuse must leave the state untouched.
Expectations are written independently of ``TRANSITIONS`` where it matters:
CANCELLED is terminal, money moves only for a recorded request, refunds never
exceed the capture.
"""

from __future__ import annotations

from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from backout.domain.order import (
    NEVER_AFTER_CANCELLED,
    OrderStatus,
    can_transition,
    check_transition,
    order_refresh,
    refundable,
    require_request,
    sources_for,
)
from backout.errors import IllegalTransition, NoCancellationRequest, OverRefund

STATUSES = st.sampled_from(list(OrderStatus))
REQUESTS = st.sampled_from(["req-a", "req-b", "req-c"])


class OrderAggregate(RuleBasedStateMachine):
    """One order record, changed only through the domain rules."""

    def __init__(self) -> None:
        super().__init__()
        self.status = OrderStatus.OPEN
        self.captured = 0
        self.refunded = 0
        self.requests: set[str] = set()
        self.refunds: list[tuple[str, int]] = []  # (request, amount): what would have gone to the gateway
        self.history: list[tuple[OrderStatus, OrderStatus]] = []
        self.record: dict[str, Any] = {"status": "OPEN", "shipped": False, "refunded_total": 0}
        self.was_cancelled = False

    def _snapshot(self) -> tuple[Any, ...]:
        return (self.status, self.captured, self.refunded, frozenset(self.requests), len(self.refunds),
                len(self.history), dict(self.record))

    @rule(amount=st.integers(min_value=1, max_value=10**9))
    @precondition(lambda self: self.captured == 0 and self.status == OrderStatus.OPEN)
    def capture(self, amount: int) -> None:
        self.captured = amount

    @rule(request=REQUESTS)
    def record_request(self, request: str) -> None:
        self.requests.add(request)

    @rule(new=STATUSES)
    def move(self, new: OrderStatus) -> None:
        before, old = self._snapshot(), self.status
        try:
            applied = check_transition(old, new, self.was_cancelled)
        except IllegalTransition:
            # refused, not applied: nothing changed, and the move really is not allowed
            assert self._snapshot() == before
            assert old != new
            assert not can_transition(old, new) or (self.was_cancelled and new in NEVER_AFTER_CANCELLED)
            return
        assert applied == new and (old == new or can_transition(old, new))
        if old != new:
            self.history.append((old, new))
        self.status = new
        self.record["status"] = new.value
        self.was_cancelled |= new == OrderStatus.CANCELLED

    @rule(request=REQUESTS, wanted=st.one_of(st.none(), st.integers(min_value=1, max_value=2 * 10**9)))
    def refund(self, request: str, wanted: int | None) -> None:
        before = self._snapshot()
        try:
            require_request(request if request in self.requests else None, request)
            amount = refundable(self.captured, self.refunded, wanted)
        except NoCancellationRequest:
            assert request not in self.requests and self._snapshot() == before
            return
        except OverRefund:
            assert wanted is not None and wanted > self.captured - self.refunded and self._snapshot() == before
            return
        if amount:
            self.refunds.append((request, amount))
            self.refunded += amount
            self.record["refunded_total"] = self.refunded

    @rule(update=st.fixed_dictionaries({}, optional={
        "status": st.just("OPEN"), "refunded_total": st.integers(0, 10), "shipped": st.booleans(),
        "currency": st.sampled_from(["USD", "JPY"]), "total": st.integers(0, 10**6), "active_request_id": st.just("x"),
        "note": st.none()}))
    def webhook_refresh(self, update: dict[str, Any]) -> None:
        fields = order_refresh(update)
        # a webhook never sets the saga's fields, never a value to nothing, never un-ships
        assert not {"status", "refunded_total", "active_request_id"} & fields.keys()
        assert None not in fields.values() and fields.get("shipped", True) is True
        self.record.update(fields)
        self.record["shipped"] = self.record["shipped"] or bool(fields.get("shipped"))

    @invariant()
    def money_never_exceeds_the_capture(self) -> None:
        assert 0 <= self.refunded <= self.captured
        assert sum(a for _, a in self.refunds) == self.refunded == self.record["refunded_total"]

    @invariant()
    def every_refund_traces_to_a_recorded_request(self) -> None:
        assert all(r in self.requests and a > 0 for r, a in self.refunds)

    @invariant()
    def cancelled_is_terminal(self) -> None:
        """Once cancelled, never open for sale again: only before an operator for money found owed, then closed."""
        if self.was_cancelled:
            assert self.status not in NEVER_AFTER_CANCELLED

    @invariant()
    def history_holds_only_allowed_moves(self) -> None:
        assert all(can_transition(a, b) and a.value in sources_for(b) for a, b in self.history)
        assert self.record["status"] == self.status.value


OrderAggregate.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
TestOrderAggregate = OrderAggregate.TestCase


def test_sources_for_is_the_inverse_of_the_transition_table() -> None:
    for new in OrderStatus:
        expected = {old.value for old in OrderStatus if can_transition(old, new)} | {new.value}
        assert set(sources_for(new)) == expected
