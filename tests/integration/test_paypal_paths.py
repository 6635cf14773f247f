"""PayPal end to end on the local stack: WooCommerce orders paid through PayPal (the fake
PayPal REST API), cancelled through signed WooCommerce webhooks, with PayPal's refund
webhooks signed by the local fake CA and verified by the real receiver."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

import pytest

from backout.adapters.paypal_gateway import PayPalGateway, effect_tag
from backout.repo.orders import OrdersRepository
from backout.saga.payments import effect_key
from tests.conftest import Shop, line, order_body_for, place_order, send_gateway_event
from tests.integration.flow import wait_until, steps, status


def cancel(shop: Shop, order: dict[str, Any], times: int = 1) -> None:
    body = order_body_for(shop, order, "cancel-request")
    for _ in range(times):
        assert shop.send(shop.cancel, body)[0] == 200


def refunds_of(env: Any, capture_id: str) -> list[dict[str, Any]]:
    return [e for e in env.paypal.effects("refund") if e["capture_id"] == capture_id]


def refund_webhook(env: Any, resource: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """PayPal's PAYMENT.CAPTURE.REFUNDED for a refund resource, signed and posted."""
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = {"id": f"WH-{uuid.uuid4().hex[:20].upper()}", "event_version": "1.0", "create_time": now,
            "resource_type": "refund", "resource_version": "2.0", "event_type": "PAYMENT.CAPTURE.REFUNDED",
            "summary": "A capture payment was refunded", "resource": {**resource, "update_time": now}}
    return send_gateway_event(env, "paypal/PAYMENT.CAPTURE.REFUNDED.json", body)


@pytest.fixture()
def pending_refunds(local_env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fake PayPal makes new refunds PENDING (an eCheck refund), settled later by webhook."""
    monkeypatch.setattr(local_env.paypal, "refund_status", "PENDING")


def test_captured_order_is_refunded_once_in_full_after_the_refund_webhook(
        shop: Shop, local_env: Any, pending_refunds: None) -> None:
    order = place_order(shop, [line(1, "PP-A", 2, "20.00")], gateway="paypal")
    cancel(shop, order, times=3)  # delivered three times
    wait_until(lambda: "waiting_for_refund_settlement" in steps(order["order_id"]))
    assert status(order["order_id"]) == "CANCELLING"  # a PENDING refund is not a refund yet
    [refund] = refunds_of(local_env, order["pi"])
    assert (refund["amount"], refund["currency"], refund["custom_id"]) == (order["total_minor"], "USD", order["order_id"])
    # PayPal completes the refund and says so by webhook (signed by the local fake CA)
    resource = local_env.paypal.set_refund_status(refund["refund_id"], "COMPLETED")
    assert refund_webhook(local_env, resource)[0] == 200
    wait_until(lambda: status(order["order_id"]) == "CANCELLED")
    local_env.stack.wait_idle()
    assert len(refunds_of(local_env, order["pi"])) == 1
    assert local_env.paypal.captures[order["pi"]]["status"] == "REFUNDED"
    assert local_env.woo.orders[str(order["no"])]["status"] == "cancelled"
    from backout.repo.orders import OrdersRepository

    assert OrdersRepository().require_order(order["order_id"])["refunded_total"] == order["total_minor"]


def test_authorized_order_is_voided(shop: Shop, local_env: Any) -> None:
    order = place_order(shop, [line(1, "PP-V", 1, "15.00")], gateway="paypal", capture=False)
    cancel(shop, order)
    wait_until(lambda: status(order["order_id"]) == "CANCELLED")
    assert local_env.paypal.authorizations[order["pi"]]["status"] == "VOIDED"
    voids = [e for e in local_env.paypal.effects("void") if e["authorization_id"] == order["pi"]]
    assert len(voids) == 1
    assert "payment_voided" in steps(order["order_id"])


def test_a_refund_that_fails_goes_to_the_operator(shop: Shop, local_env: Any, pending_refunds: None) -> None:
    order = place_order(shop, [line(1, "PP-F", 1, "30.00")], gateway="paypal")
    cancel(shop, order)
    wait_until(lambda: "waiting_for_refund_settlement" in steps(order["order_id"]))
    [refund] = refunds_of(local_env, order["pi"])
    resource = local_env.paypal.set_refund_status(refund["refund_id"], "FAILED")
    assert refund_webhook(local_env, resource)[0] == 200
    # the definition retries the failed wait (backoff 1+2+4+8 s) before it holds: allow for it
    wait_until(lambda: "held_for_operator" in steps(order["order_id"]), timeout=60)
    held = [s for s in OrdersRepository().timeline(order["order_id"]) if s["step"] == "held_for_operator"]
    assert held[0]["detail"]["error"]["Error"] == "RefundFailed"
    assert status(order["order_id"]) == "ON_HOLD"


def test_a_refund_refused_at_once_goes_to_the_operator(shop: Shop, local_env: Any) -> None:
    order = place_order(shop, [line(1, "PP-R", 1, "30.00")], gateway="paypal")
    local_env.paypal.fail_next(1, 422, method="POST", path_contains=f"/captures/{order['pi']}/refund")
    cancel(shop, order)
    wait_until(lambda: "held_for_operator" in steps(order["order_id"]))
    held = [s for s in OrdersRepository().timeline(order["order_id"]) if s["step"] == "held_for_operator"]
    assert held[0]["detail"]["error"]["Error"] == "RefundFailed"
    assert refunds_of(local_env, order["pi"]) == []


@pytest.mark.parametrize("crash", ["answer_lost", "lambda_died"])
def test_crash_after_paypal_refunded_still_leaves_exactly_one_refund(
        shop: Shop, local_env: Any, monkeypatch: pytest.MonkeyPatch, crash: str) -> None:
    order = place_order(shop, [line(1, f"PP-C-{crash}", 1, "25.00")], gateway="paypal")
    crashes: list[str] = []
    if crash == "answer_lost":  # PayPal refunded, its answer never came back (a 500 after the effect)
        local_env.paypal.drop_next_response(method="POST", path_contains=f"/captures/{order['pi']}/refund")
    else:  # the answer came back, then the Lambda died before Backout recorded it
        original = PayPalGateway.create_refund

        def create_then_crash(self: PayPalGateway, *args: Any, **kwargs: Any) -> Any:
            record = original(self, *args, **kwargs)
            if not crashes:
                crashes.append(record.refund_id)
                raise RuntimeError("simulated crash before Backout recorded the refund")
            return record

        monkeypatch.setattr(PayPalGateway, "create_refund", create_then_crash)
    cancel(shop, order, times=2)
    wait_until(lambda: status(order["order_id"]) == "CANCELLED")
    local_env.stack.wait_idle()
    [refund] = refunds_of(local_env, order["pi"])  # the retry found it by its tag, PayPal-Request-Id replays it
    [request] = OrdersRepository().items(order["order_id"], "REQ#")
    request_id = request["request_id"]
    assert refund["invoice_id"] == effect_tag(effect_key(order["order_id"], request_id))
    assert refund["amount"] == 2500
    assert crash == "answer_lost" or crashes == [refund["refund_id"]]
    settled = [s for s in OrdersRepository().timeline(order["order_id"]) if s["step"] == "payment_refunded"]
    assert len(settled) == 1 and settled[0]["detail"]["refund_id"] == refund["refund_id"]
