"""Rule 10: a disputed charge is not also refunded; a lost dispute counts as money returned, to the unit.
The operator route refuses an approval while a dispute is open (409 with the reason)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.adversarial import kit
from tests.conftest import Shop, line, place_order


def _dispute(env: Any, order: dict[str, Any], amount: int) -> str:
    fake = env.stripe_disputes
    dp = fake.open_dispute(order["pi"], amount, order["currency"].lower(), reason="product_not_received")
    kit.dispute_event(env, "charge.dispute.created", fake.disputes[dp])
    return dp


def test_approve_on_a_dispute_hold_is_409_then_a_won_dispute_refunds_once(shop: Shop, local_env: Any) -> None:
    """Story: the buyer disputes the charge, then asks the store to cancel. Backout holds (rule 10).
    The operator tries to approve: 409 with a reason, nothing refunded. The bank decides for the
    merchant (won: the merchant keeps the money). The buyer's cancellation still stands: the
    operator approves again and the money goes back once, in full."""
    s = kit.sku("DWON", 0)
    order = place_order(shop, [line(1, s, 1, "49.00")])
    local_env.stack.wait_idle()
    dp = _dispute(local_env, order, order["total_minor"])
    local_env.stack.wait_idle()
    kit.woo(shop, order, "cancel-request", offset=1)
    assert kit.eventually(lambda: kit.status(order["order_id"])[0] == "ON_HOLD"), kit.status(order["order_id"])
    code, answer = kit.decide(local_env, order["order_id"], "approve")
    assert code == 409 and isinstance(answer, dict) and "dispute" in str(answer.get("message", "")), (code, answer)
    assert kit.refunds(order["pi"]) == []
    kit.dispute_event(local_env, "charge.dispute.closed", local_env.stripe_disputes.close_dispute(dp, "won"))
    local_env.stack.wait_idle()
    code, answer = kit.decide(local_env, order["order_id"], "approve")
    assert code == 200, answer
    assert kit.eventually(lambda: kit.status(order["order_id"])[0] == "CANCELLED"), kit.status(order["order_id"])
    local_env.stack.wait_idle()
    assert [r["amount"] for r in kit.refunds(order["pi"])] == [order["total_minor"]]
    assert kit.stock(s) == 1


@pytest.mark.parametrize(("currency", "total", "disputed"), [("USD", "80.00", 3000), ("JPY", "5000", 1999),
                                                              ("KWD", "12.345", 4321)])
def test_pending_refund_fails_under_a_partial_dispute_lost_then_approved(
        shop: Shop, local_env: Any, currency: str, total: str, disputed: int) -> None:
    """Story: the cancel's refund is pending at the bank; meanwhile the buyer disputes part of the charge;
    the refund then fails. The order waits for a person (refund failed); approving is refused while the
    dispute is open. The bank decides the dispute for the buyer (lost: that part went back through the
    card network). The operator approves: Backout refunds exactly the rest, to the minor unit, so that
    refunds + lost dispute == what was paid, never more."""
    s = kit.sku(f"DPF{currency}", 0)
    order = place_order(shop, [line(1, s, 1, total)], currency=currency)
    local_env.stack.wait_idle()
    local_env.stripe.hold_refunds(order["pi"], hold=True)
    kit.woo(shop, order, "cancel-request", offset=1)
    assert kit.eventually(lambda: any(r["status"] == "pending" for r in kit.refunds(order["pi"])))
    dp = _dispute(local_env, order, disputed)
    local_env.stack.wait_idle()
    [pending] = kit.refunds(order["pi"])
    failed = local_env.stripe.set_refund_status(pending["id"], "failed", failure_reason="expired_or_canceled_card")
    local_env.stripe.hold_refunds(order["pi"], hold=False)
    kit.refund_event(local_env, failed, "refund.failed")
    assert kit.eventually(lambda: kit.status(order["order_id"])[0] == "ON_HOLD"), kit.status(order["order_id"])
    code, answer = kit.decide(local_env, order["order_id"], "approve")
    assert code == 409 and isinstance(answer, dict), (code, answer)
    kit.dispute_event(local_env, "charge.dispute.closed", local_env.stripe_disputes.close_dispute(dp, "lost"))
    local_env.stack.wait_idle()
    code, answer = kit.decide(local_env, order["order_id"], "approve")
    assert code == 200, answer
    assert kit.eventually(lambda: kit.status(order["order_id"])[0] == "CANCELLED"), kit.status(order["order_id"])
    local_env.stack.wait_idle()
    m = kit.stripe_money(local_env, order["pi"])
    assert m.lost == disputed
    assert (m.refunded + m.pending, m.returned) == (order["total_minor"] - disputed, order["total_minor"]), m
