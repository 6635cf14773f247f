"""Rule 10 on the local stack: a dispute webhook freezes refunds and the evidence bundle from the
order's timeline is submitted through the gateway's dispute API, exactly once.

Stripe disputes are served by ``FakeStripeDisputes`` (localstripe has none), PayPal's by the
fake PayPal. Dispute webhooks are signed and posted to the local API; the dispatcher submits.
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timezone
from typing import Any

from backout.dispatch import Dispatcher
from backout.domain.events import DisputeOpened, ShipmentScanned, ShipmentStatus
from backout.repo.orders import OrdersRepository
from backout.saga.evidence import POLICY_TEXT
from tests.conftest import Shop, line, order_body_for, place_order, send_gateway_event
from tests.integration.flow import wait_until

NOW = datetime.now(timezone.utc)


def evidence_effect(order_id: str, dispute_id: str) -> dict[str, Any] | None:
    return OrdersRepository().get_effect(order_id, f"evidence#{dispute_id}")


def submitted(order_id: str, dispute_id: str) -> bool:
    fx = evidence_effect(order_id, dispute_id)
    return bool(fx and fx["status"] == "done")


def shipped_with(order: dict[str, Any], tracking: str, carrier: str = "dhl") -> None:
    """A carrier scan on the order's timeline (what AfterShip's webhook records)."""
    Dispatcher().apply(ShipmentScanned(provider="aftership", source_id=f"as_{tracking}", occurred_at=NOW,
                                       order_id=order["order_id"], tracking_number=tracking, carrier=carrier,
                                       status=ShipmentStatus.IN_TRANSIT))


def stripe_dispute_webhook(env: Any, dispute: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    body = {"id": f"evt_{uuid.uuid4().hex[:24]}", "object": "event", "api_version": "2024-06-20",
            "created": int(time.time()), "data": {"object": dispute}, "livemode": False, "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None}, "type": "charge.dispute.created"}
    return send_gateway_event(env, "stripe/charge.dispute.created.json", body)


def paypal_dispute_webhook(env: Any, dispute: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = {"id": f"WH-{uuid.uuid4().hex[:20].upper()}", "event_version": "1.0", "create_time": stamp,
            "resource_type": "dispute", "resource_version": "2.0", "event_type": "CUSTOMER.DISPUTE.CREATED",
            "summary": "A new dispute opened", "resource": dispute}
    return send_gateway_event(env, "paypal/CUSTOMER.DISPUTE.CREATED.json", body)


def test_stripe_dispute_submits_the_evidence_once(shop: Shop, local_env: Any) -> None:
    order = place_order(shop, [line(1, "DSP-S", 1, "30.00")])
    local_env.stack.wait_idle()
    shipped_with(order, "JD0146000001")
    fake = local_env.stripe_disputes
    dp = fake.open_dispute(order["pi"], order["total_minor"], "usd", reason="product_not_received")
    assert stripe_dispute_webhook(local_env, fake.disputes[dp])[0] == 200
    wait_until(lambda: submitted(order["order_id"], dp))
    evidence = fake.disputes[dp]["evidence"]
    assert (evidence["shipping_carrier"], evidence["shipping_tracking_number"]) == ("dhl", "JD0146000001")
    first_scan = next(s for s in OrdersRepository().timeline(order["order_id"]) if s["step"] == "shipment_scanned")
    assert evidence["shipping_date"] == first_scan["at"][:10]
    assert POLICY_TEXT in evidence["cancellation_policy_disclosure"]
    assert POLICY_TEXT in evidence["refund_policy_disclosure"]
    assert fake.disputes[dp]["status"] == "under_review"
    # the same dispute again (a second event about it, or a replayed delivery): nothing is sent twice
    Dispatcher().apply(DisputeOpened(provider="stripe", source_id="evt_again", occurred_at=NOW,
                                     order_id=order["order_id"], payment_ref=order["pi"], dispute_id=dp))
    local_env.stack.wait_idle()
    assert [e["dispute_id"] for e in fake.effects("evidence_submitted")].count(dp) == 1
    fx = evidence_effect(order["order_id"], dp)
    assert fx is not None and fx["result"]["outcome"] == "submitted"
    steps = [s["step"] for s in OrdersRepository().timeline(order["order_id"])]
    assert steps.count("dispute_evidence_submitted") == 1


def test_paypal_dispute_submits_the_evidence_once(shop: Shop, local_env: Any) -> None:
    order = place_order(shop, [line(1, "DSP-P", 1, "45.00")], gateway="paypal")
    local_env.stack.wait_idle()
    shipped_with(order, "1Z999AA10123456784", carrier="ups")
    fake = local_env.paypal
    dispute_id = fake.open_dispute(order["pi"], custom=str(order["no"]))
    assert paypal_dispute_webhook(local_env, fake.disputes[dispute_id])[0] == 200
    wait_until(lambda: submitted(order["order_id"], dispute_id))
    [entry] = [e for e in fake.effects("evidence") if e["dispute_id"] == dispute_id]
    assert entry["evidence_types"] == ["PROOF_OF_FULFILLMENT", "OTHER"]
    fulfillment, other = fake.disputes[dispute_id]["evidences"]
    assert fulfillment["evidence_info"]["tracking_info"] == [{"carrier_name": "UPS",
                                                              "tracking_number": "1Z999AA10123456784"}]
    assert POLICY_TEXT[:80] in other["notes"]
    assert fake.disputes[dispute_id]["status"] == "UNDER_REVIEW"
    assert OrdersRepository().require_order(order["order_id"])["disputed"] is True


def test_a_failing_dispute_api_is_retried_by_the_stream(shop: Shop, local_env: Any) -> None:
    order = place_order(shop, [line(1, "DSP-R", 1, "20.00")])
    local_env.stack.wait_idle()
    fake = local_env.stripe_disputes
    dp = fake.open_dispute(order["pi"], order["total_minor"], "usd")
    fake.drop_next_response(method="POST", path_contains=dp)  # submitted, but the answer is lost
    fake.fail_next(1, 503, method="GET", path_contains=dp)  # and Stripe is down once
    assert stripe_dispute_webhook(local_env, fake.disputes[dp])[0] == 200
    wait_until(lambda: submitted(order["order_id"], dp))
    assert [e["dispute_id"] for e in fake.effects("evidence_submitted")].count(dp) == 1
    fx = evidence_effect(order["order_id"], dp)
    assert fx is not None and fx["result"]["outcome"] == "already_submitted"  # the retry looked it up


def test_a_dispute_api_that_keeps_failing_dead_letters_the_delivery(shop: Shop, local_env: Any) -> None:
    order = place_order(shop, [line(1, "DSP-D", 1, "20.00")])
    local_env.stack.wait_idle()
    poller = next(p for p in local_env.stack.pollers if p.function_name == "DispatcherFunction")
    dead_before = poller.dead_lettered
    fake = local_env.stripe_disputes
    dp = fake.open_dispute(order["pi"], order["total_minor"], "usd")
    fake.fail_next(100, 500, path_contains=dp)
    try:
        assert stripe_dispute_webhook(local_env, fake.disputes[dp])[0] == 200
        wait_until(lambda: poller.dead_lettered > dead_before, timeout=60)
    finally:
        fake.clear_faults()
    fx = evidence_effect(order["order_id"], dp)
    assert fx is not None and fx["status"] == "intent"  # recorded, never marked done: not swallowed
    assert dp not in [e["dispute_id"] for e in fake.effects("evidence_submitted")]


def test_paypal_dispute_freezes_a_running_cancellation(shop: Shop, local_env: Any) -> None:
    order = place_order(shop, [line(1, "DSP-F", 1, "35.00")], gateway="paypal")
    local_env.stack.wait_idle()
    dispute_id = local_env.paypal.open_dispute(order["pi"], custom=str(order["no"]))
    assert paypal_dispute_webhook(local_env, local_env.paypal.disputes[dispute_id])[0] == 200
    wait_until(lambda: submitted(order["order_id"], dispute_id))
    assert shop.send(shop.cancel, order_body_for(shop, order, "cancel-request"))[0] == 200
    wait_until(lambda: "held_for_operator" in [s["step"] for s in OrdersRepository().timeline(order["order_id"])])
    held = [s for s in OrdersRepository().timeline(order["order_id"]) if s["step"] == "held_for_operator"]
    assert held[0]["detail"]["error"]["Error"] == "PaymentNotAllowed"
    assert [e for e in local_env.paypal.effects("refund") if e["capture_id"] == order["pi"]] == []
