"""Money edge cases on the local stack, both gateways: several captures, a partial refund made
outside Backout, partial capture, zero-decimal (JPY) and three-decimal (KWD) currencies.

Each order is cancelled through a signed WooCommerce webhook; the gateway (localstripe, the
fake PayPal) is then asked what was refunded: never more than captured minus refunded, in
the order's own minor units.
"""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from backout.repo.orders import OrdersRepository
from tests.conftest import Shop, line, order_body_for, place_order
from tests.integration.flow import wait_until


def cancel_and_wait(shop: Shop, order: dict[str, Any]) -> dict[str, Any]:
    """Send the cancel request; wait for CANCELLED; return the recorded settlement."""
    assert shop.send(shop.cancel, order_body_for(shop, order, "cancel-request"))[0] == 200
    repo = OrdersRepository()
    wait_until(lambda: (repo.get_order(order["order_id"]) or {}).get("status") == "CANCELLED")
    [settled] = [s for s in repo.timeline(order["order_id"]) if s["step"].startswith("payment_")]
    return dict(settled["detail"])


def backout_refunds(pi: str) -> list[Any]:
    return [r for r in stripe.Refund.list(payment_intent=pi, limit=100).data
            if (r.to_dict().get("metadata") or {}).get("backout_effect")]


# ---------------------------------------------------------------- Stripe (localstripe)
def test_stripe_partial_refund_made_outside_backout_is_not_refunded_again(shop: Shop, local_env: Any) -> None:
    order = place_order(shop, [line(1, "EDGE-S1", 1, "80.00")])
    stripe.Refund.create(payment_intent=order["pi"], amount=2500)  # in the Stripe dashboard, before the cancel
    settled = cancel_and_wait(shop, order)
    [ours] = backout_refunds(order["pi"])
    assert ours.amount == 8000 - 2500 == settled["amount"]
    assert sum(r.amount for r in stripe.Refund.list(payment_intent=order["pi"]).data) == 8000


def test_stripe_partial_capture_refunds_only_what_was_captured(shop: Shop, local_env: Any) -> None:
    order = place_order(shop, [line(1, "EDGE-S2", 1, "100.00")], capture=False)
    stripe.PaymentIntent.capture(order["pi"], amount_to_capture=6000)  # 40.00 of the hold released
    settled = cancel_and_wait(shop, order)
    [ours] = backout_refunds(order["pi"])
    assert (settled["outcome"], ours.amount) == ("refunded", 6000)


@pytest.mark.parametrize(("currency", "total", "minor"), [("JPY", "5000", 5000), ("KWD", "12.340", 12340)])
def test_stripe_zero_and_three_decimal_currencies(shop: Shop, local_env: Any, currency: str, total: str,
                                                  minor: int) -> None:
    order = place_order(shop, [line(1, f"EDGE-S-{currency}", 1, total)], currency=currency)
    assert order["total_minor"] == minor
    settled = cancel_and_wait(shop, order)
    [ours] = backout_refunds(order["pi"])
    assert (ours.amount, ours.currency.upper(), settled["currency"]) == (minor, currency, currency)


# ---------------------------------------------------------------- PayPal (fake)
def test_paypal_several_captures_are_each_refunded_the_rest(shop: Shop, local_env: Any) -> None:
    paypal = local_env.paypal
    order = place_order(shop, [line(1, "EDGE-P1", 1, "30.00")], gateway="paypal", capture=False)
    first, second = paypal.capture(order["pi"], "10.00"), paypal.capture(order["pi"], "20.00")  # two shipments
    settled = cancel_and_wait(shop, order)
    refunds = {e["capture_id"]: e["amount"] for e in paypal.effects("refund") if e["capture_id"] in (first, second)}
    assert refunds == {first: 1000, second: 2000}
    assert settled["amount"] == 3000 and len(settled["refund_ids"]) == 2


def test_paypal_several_captures_after_a_partial_refund_outside_backout(shop: Shop, local_env: Any) -> None:
    from backout.adapters.paypal_gateway import PayPalGateway

    paypal, creds = local_env.paypal, local_env.secrets["credentials"]
    order = place_order(shop, [line(1, "EDGE-P2", 1, "30.00")], gateway="paypal", capture=False)
    first, second = paypal.capture(order["pi"], "10.00"), paypal.capture(order["pi"], "20.00")
    # the merchant refunded 4.00 of the first capture in PayPal's dashboard (no Backout tag)
    outside = PayPalGateway(paypal.url, creds["paypal_client_id"], creds["paypal_client_secret"])
    status, _ = outside._api("POST", f"/v2/payments/captures/{first}/refund",
                             body={"amount": {"value": "4.00", "currency_code": "USD"}})
    assert status == 201
    settled = cancel_and_wait(shop, order)
    ours = [e for e in paypal.effects("refund") if e["capture_id"] in (first, second) and e["invoice_id"]]
    assert {e["capture_id"]: e["amount"] for e in ours} == {first: 600, second: 2000}
    assert settled["amount"] == 3000 - 400  # captured minus refunded
    assert paypal.refunded_minor(first) + paypal.refunded_minor(second) == 3000


def test_paypal_zero_decimal_currency(shop: Shop, local_env: Any) -> None:
    order = place_order(shop, [line(1, "EDGE-P-JPY", 1, "7300")], currency="JPY", gateway="paypal")
    settled = cancel_and_wait(shop, order)
    [refund] = [e for e in local_env.paypal.effects("refund") if e["capture_id"] == order["pi"]]
    assert (refund["amount"], refund["currency"], settled["amount"]) == (7300, "JPY", 7300)
    assert local_env.paypal.refunds[refund["refund_id"]]["amount"] == {"currency_code": "JPY", "value": "7300"}
