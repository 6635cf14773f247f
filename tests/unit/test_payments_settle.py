"""SettlePayment's money rules without AWS: an in-memory order record and an in-memory gateway.

Several captures, partial refunds made outside Backout, zero- and three-decimal
currencies, a crash between the gateway's refund and Backout's record, failed
refunds and disputes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from backout.adapters.gateway import CaptureState, EvidenceSubmission, PaymentState, RefundRecord
from backout.errors import NoCancellationRequest, OverRefund, PaymentNotAllowed, RefundFailed
from backout.saga.payments import effect_key, refund_plan, settle
from tests.unit.memory_repo import ORDER, REQUEST, MemoryRepo



@dataclass
class Capture:
    capture_id: str
    amount: int
    refunds: list[tuple[str, int, str | None, str]] = field(default_factory=list)  # (id, amount, key, status)

    def refunded(self) -> int:
        return sum(a for _, a, _, s in self.refunds if s in ("succeeded", "pending"))


class MemoryGateway:
    """A gateway with several captures per payment; keys are looked up per capture."""

    name = "memory"

    def __init__(self, currency: str, captures: list[int], status: str = "captured", disputed: bool = False,
                 refund_status: str = "succeeded") -> None:
        self.currency, self.status, self.disputed, self.refund_status = currency, status, disputed, refund_status
        self.captures = [Capture(f"CAP{i}", amount) for i, amount in enumerate(captures)]
        self.created: list[tuple[str, int, str]] = []
        self.crash_after_create = 0
        self.voids: list[str] = []

    def _target(self, capture_id: str | None) -> Capture:
        if capture_id is None:
            assert len(self.captures) == 1, "several captures: the capture must be named"
            return self.captures[0]
        return next(c for c in self.captures if c.capture_id == capture_id)

    def retrieve(self, payment_ref: str) -> PaymentState:
        states = tuple(CaptureState(c.capture_id, c.amount, c.refunded()) for c in self.captures)
        total = sum(c.amount for c in self.captures)
        return PaymentState(payment_ref, self.status, self.currency, total,  # type: ignore[arg-type]
                            total if self.status == "captured" else 0, sum(s.refunded for s in states),
                            self.disputed, states if self.status == "captured" else ())

    def void(self, payment_ref: str, key: str) -> None:
        self.voids.append(key)

    def find_refund(self, payment_ref: str, key: str, capture_id: str | None = None) -> RefundRecord | None:
        for rid, amount, tag, status in self._target(capture_id).refunds:
            if tag == key:
                return RefundRecord(rid, amount, self.currency, status)
        return None

    def create_refund(self, payment_ref: str, amount: int, key: str, metadata: dict[str, str],
                      capture_id: str | None = None) -> RefundRecord:
        capture = self._target(capture_id)
        if amount > capture.amount - capture.refunded():
            raise OverRefund("memory: more than is left on the capture")
        rid = f"R{len(self.created)}"
        capture.refunds.append((rid, amount, key, self.refund_status))
        self.created.append((capture.capture_id, amount, key))
        if self.crash_after_create:
            self.crash_after_create -= 1
            raise RuntimeError("simulated crash after the gateway created the refund")
        return RefundRecord(rid, amount, self.currency, self.refund_status)

    def refund_outside(self, capture_index: int, amount: int) -> None:
        """A refund made in the gateway's dashboard (no Backout key)."""
        self.captures[capture_index].refunds.append((f"X{capture_index}", amount, None, "succeeded"))

    def submit_dispute_evidence(self, dispute_id: str, evidence: dict[str, Any], key: str) -> EvidenceSubmission:
        raise AssertionError("not used by settle")


def run(gateway: MemoryGateway, currency: str, repo: MemoryRepo | None = None) -> tuple[dict[str, Any], MemoryRepo]:
    repo = repo or MemoryRepo(gateway="memory", payment_ref="PAY1", currency=currency, total=0)
    return settle(ORDER, REQUEST, repo, lambda name: gateway), repo  # type: ignore[arg-type,return-value]


def test_several_captures_are_each_refunded_what_is_left() -> None:
    gateway = MemoryGateway("EUR", [4000, 2500, 3500])
    gateway.refund_outside(1, 1000)  # a partial refund made outside Backout on the second capture
    result, repo = run(gateway, "EUR")
    key = effect_key(ORDER, REQUEST)
    assert gateway.created == [("CAP0", 4000, f"{key}#CAP0"), ("CAP1", 1500, f"{key}#CAP1"),
                               ("CAP2", 3500, f"{key}#CAP2")]
    assert (result["outcome"], result["amount"]) == ("refunded", 10000 - 1000)  # captured minus refunded
    assert len(result["refund_ids"]) == 3
    assert repo.order["refunded_total"] == 9000
    assert all(c.refunded() == c.amount for c in gateway.captures)


def test_a_fully_refunded_capture_is_skipped() -> None:
    gateway = MemoryGateway("USD", [1000, 2000])
    gateway.refund_outside(0, 1000)
    result, _ = run(gateway, "USD")
    assert [c for c, _, _ in gateway.created] == ["CAP1"]
    assert result["amount"] == 2000


def test_partial_refund_outside_backout_on_a_single_capture() -> None:
    gateway = MemoryGateway("USD", [5000])
    gateway.refund_outside(0, 1250)
    result, _ = run(gateway, "USD")
    assert gateway.created == [("CAP0", 3750, effect_key(ORDER, REQUEST))]  # one capture keeps the plain key
    assert result["amount"] == 3750


def test_everything_refunded_outside_is_already_refunded() -> None:
    gateway = MemoryGateway("USD", [5000])
    gateway.refund_outside(0, 5000)
    result, repo = run(gateway, "USD")
    assert (result["outcome"], result["amount"], gateway.created) == ("already_refunded", 0, [])
    assert repo.order["refunded_total"] == 0


@pytest.mark.parametrize(("currency", "captures", "outside", "expected"),
                         [("JPY", [3000, 1999], 1, 4998), ("KWD", [12340, 5000], 10, 17330)])
def test_zero_and_three_decimal_currencies_are_minor_units(currency: str, captures: list[int], outside: int,
                                                           expected: int) -> None:
    gateway = MemoryGateway(currency, captures)
    gateway.refund_outside(0, outside)
    result, _ = run(gateway, currency)
    assert (result["currency"], result["amount"]) == (currency, expected)
    assert sum(a for _, a, _ in gateway.created) == expected


def test_crash_after_the_gateway_refunded_then_retry_refunds_each_capture_once() -> None:
    gateway = MemoryGateway("USD", [4000, 6000])
    gateway.crash_after_create = 1  # dies after the first capture's refund, before Backout recorded anything
    repo = MemoryRepo(gateway="memory", payment_ref="PAY1", currency="USD", total=10000)
    with pytest.raises(RuntimeError):
        run(gateway, "USD", repo)
    result, _ = run(gateway, "USD", repo)  # the saga's Retry
    assert [c for c, _, _ in gateway.created] == ["CAP0", "CAP1"]  # CAP0 found by its key, not refunded again
    assert result["amount"] == 10000
    again, _ = run(gateway, "USD", repo)  # after the result was recorded: returned as recorded, marked replayed
    assert again == {**result, "replayed": True} and len(gateway.created) == 2


def test_pending_refunds_are_not_called_refunded() -> None:
    gateway = MemoryGateway("USD", [1000, 2000], refund_status="pending")
    result, repo = run(gateway, "USD")
    assert (result["outcome"], result["amount"]) == ("refund_pending", 3000)
    assert repo.order["refunded_total"] == 0


def test_a_failed_refund_goes_to_the_operator() -> None:
    gateway = MemoryGateway("USD", [1000], refund_status="failed")
    with pytest.raises(RefundFailed):
        run(gateway, "USD")


def test_authorized_is_voided_and_nothing_is_refunded() -> None:
    gateway = MemoryGateway("USD", [1000], status="authorized")
    result, _ = run(gateway, "USD")
    assert (result["outcome"], gateway.voids, gateway.created) == ("voided", [effect_key(ORDER, REQUEST)], [])


@pytest.mark.parametrize("flagged_on", ["order", "gateway"])
def test_a_disputed_payment_is_never_refunded(flagged_on: str) -> None:
    gateway = MemoryGateway("USD", [1000], disputed=flagged_on == "gateway")
    repo = MemoryRepo(gateway="memory", payment_ref="PAY1", currency="USD", total=1000,
                       disputed=flagged_on == "order")
    with pytest.raises(PaymentNotAllowed, match="dispute"):
        run(gateway, "USD", repo)
    assert gateway.created == []


def test_no_request_no_refund_and_wrong_currency_is_refused() -> None:
    gateway = MemoryGateway("USD", [1000])
    with pytest.raises(NoCancellationRequest):
        run(gateway, "USD", MemoryRepo(requests={}, gateway="memory", payment_ref="P", currency="USD"))
    with pytest.raises(PaymentNotAllowed, match="currency"):
        run(gateway, "EUR")
    assert gateway.created == []


def test_refund_plan_keys_and_the_over_refund_rule() -> None:
    key = "backout:settle:o:r"
    one = PaymentState("P", "captured", "USD", 100, 100, 30, captures=(CaptureState("P", 100, 30),))
    assert refund_plan(one, key) == [(None, key, 70)]
    legacy = PaymentState("P", "captured", "USD", 100, 100, 30)  # a gateway that lists no captures
    assert refund_plan(legacy, key) == [(None, key, 70)]
    two = PaymentState("P", "captured", "USD", 100, 100, 0,
                       captures=(CaptureState("A", 60, 0), CaptureState("B", 40, 40)))
    assert refund_plan(two, key) == [("A", f"{key}#A", 60), ("B", f"{key}#B", 0)]
    broken = PaymentState("P", "captured", "USD", 100, 100, 120, captures=(CaptureState("A", 100, 120),))
    with pytest.raises(OverRefund):
        refund_plan(broken, key)
