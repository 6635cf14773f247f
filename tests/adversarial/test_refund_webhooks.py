"""Refund webhooks that lie about their order, come early, or report a failure twice. Rules 1, 3, 12:
money returned equals money owed, never twice."""

from __future__ import annotations

import time
from typing import Any

import stripe

from tests.adversarial import kit
from tests.conftest import Shop, line, place_order


def test_a_dashboard_refund_naming_another_order_moves_neither_order_wrongly(shop: Shop, local_env: Any) -> None:
    """Story: orders A and B. In Stripe's dashboard the merchant refunds 10.00 of A's payment, but types
    B's order number into the refund's metadata. Its webhook arrives. Then both buyers cancel. A gets
    back the rest of its own payment (total - 10.00), B its whole payment; nothing more anywhere."""
    a = place_order(shop, [line(1, kit.sku("META-A", 0), 1, "70.00")])
    b = place_order(shop, [line(1, kit.sku("META-B", 0), 1, "30.00")])
    local_env.stack.wait_idle()
    outside = stripe.Refund.create(payment_intent=a["pi"], amount=1000, metadata={"order_id": str(b["no"])}).to_dict()
    kit.refund_event(local_env, outside, "refund.updated")
    local_env.stack.wait_idle()
    kit.woo(shop, b, "cancel-request", offset=1)
    kit.woo(shop, a, "cancel-request", offset=1)
    assert kit.eventually(lambda: kit.status(a["order_id"])[0] == "CANCELLED" == kit.status(b["order_id"])[0]), \
        (kit.status(a["order_id"]), kit.status(b["order_id"]))
    local_env.stack.wait_idle()
    assert kit.live_refunded(a["pi"]) == a["total_minor"]
    assert kit.live_refunded(b["pi"]) == b["total_minor"]
    assert sorted(r["amount"] for r in kit.refunds(a["pi"])) == [1000, a["total_minor"] - 1000]


def test_a_dashboard_refund_webhook_before_the_order_then_a_cancel(shop: Shop, local_env: Any) -> None:
    """Story: the payment is taken and the merchant refunds 5.00 of it in the dashboard at once (a
    goodwill discount, rule 12); Stripe's webhook beats the store's order.created. Then the buyer
    cancels: Backout refunds exactly the rest."""
    from backout_dev.demo import _payment_intent
    from tests.conftest import order_body_for

    import itertools
    no = 880_000 + int(time.time()) % 100_000
    pi = _payment_intent(4500, "USD", True, no)
    outside = stripe.Refund.create(payment_intent=pi, amount=500).to_dict()
    kit.refund_event(local_env, outside, "refund.updated")
    local_env.stack.wait_idle()
    shop.env.woo.orders[str(no)] = {"id": no, "status": "processing"}
    order = {"no": no, "order_id": f"woocommerce:{no}", "pi": pi, "currency": "USD", "total": "45.00",
             "total_minor": 4500, "lines": [line(1, kit.sku("EARLY", 0), 1, "45.00")], "gateway": "stripe"}
    assert shop.send(shop.created, order_body_for(shop, order, "processing", offset=-5))[0] == 200
    local_env.stack.wait_idle()
    kit.woo(shop, order, "cancel-request", offset=1)
    assert kit.eventually(lambda: kit.status(order["order_id"])[0] == "CANCELLED"), kit.status(order["order_id"])
    local_env.stack.wait_idle()
    assert sorted(r["amount"] for r in kit.refunds(pi)) == [500, 4000]
    del itertools


def test_a_refund_failing_after_the_order_closed_reported_twice_is_refunded_once_more(shop: Shop,
                                                                                      local_env: Any) -> None:
    """Story: the order is cancelled and refunded; days later the bank returns the refund (the card was
    closed): Stripe sends ``refund.failed`` and, a second later, ``charge.refund.updated`` for the same
    change. Backout puts the order before a person once; the operator approves; exactly one new refund
    is made, so the buyer gets the total back exactly once, whatever further copies arrive."""
    s = kit.sku("FAILTWICE", 0)
    order = place_order(shop, [line(1, s, 1, "33.00")])
    kit.woo(shop, order, "cancel-request", offset=1)
    assert kit.eventually(lambda: kit.status(order["order_id"])[0] == "CANCELLED")
    local_env.stack.wait_idle()
    [first] = kit.refunds(order["pi"])
    failed = local_env.stripe.set_refund_status(first["id"], "failed", failure_reason="expired_or_canceled_card")
    now = int(time.time())
    kit.refund_event(local_env, failed, "refund.failed", created=now)
    kit.refund_event(local_env, failed, "charge.refund.updated", created=now + 1)
    assert kit.eventually(lambda: kit.status(order["order_id"])[0] == "ON_HOLD"), kit.status(order["order_id"])
    local_env.stack.wait_idle()
    code, answer = kit.decide(local_env, order["order_id"], "approve")
    assert code == 200, answer
    assert kit.eventually(lambda: kit.status(order["order_id"])[0] == "CANCELLED"), \
        (f"approved, but {kit.status(order['order_id'])}; refunds at Stripe: "
         f"{[(r['amount'], r['status']) for r in kit.refunds(order['pi'])]}")
    kit.refund_event(local_env, failed, "refund.updated", created=now + 2)  # a late copy of the failure
    local_env.stack.wait_idle()
    kit.eventually(lambda: kit.status(order["order_id"])[0] == "ON_HOLD", timeout=5)
    local_env.stack.wait_idle()
    m = kit.stripe_money(local_env, order["pi"])
    assert (m.refunded, m.pending, m.failed) == (order["total_minor"], 0, order["total_minor"]), m
    assert kit.status(order["order_id"])[0] == "CANCELLED", kit.status(order["order_id"])
    assert kit.stock(s) == 1
