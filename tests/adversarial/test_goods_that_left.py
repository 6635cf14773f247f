"""Rule 6 with rules 2 and 9: stock goes back only for goods that are back. An operator's approval
of a held cancellation whose goods are with the buyer must not put them back on the shelf."""

from __future__ import annotations

import time
from typing import Any

import pytest
import stripe

from tests.adversarial import kit
from tests.conftest import Shop, line, place_order


def test_expired_authorization_on_a_shipped_order_approved_does_not_restock(shop: Shop, local_env: Any) -> None:
    """Story: a card order is only authorized; the store ships it (order.updated ``completed``, AfterShip
    in transit). A week later Stripe lets the authorization lapse (``payment_intent.canceled``, reason
    ``automatic``). Rule 9: revenue at risk, a person decides: Backout holds it. The operator approves
    (write the money off, close the order). The buyer has the goods, so no unit may go back into stock,
    and no money may move (there is none to move)."""
    s = kit.sku("RAR", 0)
    order = place_order(shop, [line(1, s, 2, "30.00")], capture=False)
    tracking = f"RAR{order['no']}"
    kit.woo(shop, order, "completed", offset=1)
    kit.scan(local_env, order["order_id"], tracking, "InTransit", "InTransit_001")
    local_env.stack.wait_idle()
    stripe.PaymentIntent.cancel(order["pi"])  # what Stripe does itself after ~7 days
    kit.stripe_event(local_env, "payment_intent.canceled", {
        "id": order["pi"], "amount": order["total_minor"], "cancellation_reason": "automatic",
        "canceled_at": int(time.time()), "metadata": {"order_id": str(order["no"])}})
    assert kit.eventually(lambda: kit.status(order["order_id"]) == ("ON_HOLD", "RevenueAtRisk")), \
        kit.status(order["order_id"])
    code, answer = kit.decide(local_env, order["order_id"], "approve")
    assert code == 200, answer
    kit.eventually(lambda: kit.status(order["order_id"])[0] == "CANCELLED", timeout=30)
    local_env.stack.wait_idle()
    assert kit.refunds(order["pi"]) == []
    assert kit.stock(s) == 0, f"stock of {s} moved to {kit.stock(s)} though both units are with the buyer"


def test_return_never_scanned_then_operator_refunds_does_not_restock(shop: Shop, local_env: Any,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Story: a captured order shipped; the buyer asks to cancel; the intercept fails and the parcel is
    delivered (rule 2): Backout issues a prepaid return label and waits for the return scan. The scan
    never comes (the buyer never posts it); the wait times out and the order goes to the operator. The
    operator approves a goodwill refund. The money goes back once, in full, but the goods are still
    with the buyer: the stock must not move (rule 6, "never for goods that left")."""
    monkeypatch.setenv("CARRIER_WAIT_TIMEOUT_SECONDS", "8")  # the template's CarrierWaitTimeoutSeconds, shortened
    s = kit.sku("NORET", 0)
    order = place_order(shop, [line(1, s, 1, "60.00")])
    tracking = f"NR{order['no']}"
    local_env.carrier.add_shipment(tracking, "in_transit", "fail")
    kit.woo(shop, order, "completed", offset=1)
    kit.scan(local_env, order["order_id"], tracking, "InTransit", "InTransit_001")
    local_env.stack.wait_idle()
    kit.woo(shop, order, "cancel-request", offset=2)
    from tests.integration.flow import steps

    assert kit.eventually(lambda: "waiting_for_carrier" in steps(order["order_id"]))
    kit.scan(local_env, order["order_id"], tracking, "Delivered", "Delivered_001")
    assert kit.eventually(lambda: "waiting_for_return" in steps(order["order_id"]))
    assert kit.eventually(lambda: kit.status(order["order_id"])[0] == "ON_HOLD", timeout=40), \
        kit.status(order["order_id"])
    assert kit.refunds(order["pi"]) == []
    code, answer = kit.decide(local_env, order["order_id"], "approve")
    assert code == 200, answer
    assert kit.eventually(lambda: kit.live_refunded(order["pi"]) == order["total_minor"]
                          and kit.status(order["order_id"])[0] == "CANCELLED")
    local_env.stack.wait_idle()
    assert kit.live_refunded(order["pi"]) == order["total_minor"]
    assert kit.stock(s) == 0, f"stock of {s} moved to {kit.stock(s)}: the parcel never came back"
