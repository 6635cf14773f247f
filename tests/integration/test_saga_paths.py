"""Issue 4 paths on the local stack: cooling-off withdrawal, pending refunds, disputes,
authorization expiry, operator decisions. Webhook-driven resumptions are applied as
domain events through the dispatcher (the same code the stream runs)."""

from __future__ import annotations

import json
import urllib.request
from datetime import datetime, timezone
from typing import Any

import pytest
import stripe

from backout.adapters.gateway import RefundRecord
from backout.adapters.stripe_gateway import StripeGateway
from backout.dispatch import Dispatcher
from backout.domain.events import AuthorizationExpired, DisputeClosed, DisputeOpened, RefundSettled
from backout.repo.inventory import InventoryRepository
from backout.repo.orders import OrdersRepository
from backout_dev.sigv4 import local_request
from tests.conftest import Shop, line
from tests.integration.flow import wait_until, steps, status

NOW = datetime.now(timezone.utc)


def decide(env: Any, order_id: str, decision: str) -> int:
    req = local_request(f"{env.url}/operator/orders/{order_id}/decision", method="POST",
                        data=json.dumps({"decision": decision, "note": "test"}).encode(),
                        headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return int(resp.status)


def test_withdrawal_during_cooling_off_ends_the_saga(shop: Shop, local_env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COOLING_OFF_SECONDS", "60")
    InventoryRepository().set_stock("WD-A", 5)
    order = shop.place([line(1, "WD-A", 1, "10.00")])
    shop.send(shop.cancel, shop.body(order, "cancel-request"))
    wait_until(lambda: "cooling_off_opened" in steps(order["order_id"]))
    body = shop.body(order, "processing", offset=5)
    body["meta_data"].append({"id": 99, "key": "_backout_cancel_withdrawn", "value": "yes"})
    assert shop.send(shop.created, body)[0] == 200
    local_env.stack.wait_idle()
    assert status(order["order_id"]) == "OPEN"
    assert "cancel_withdrawn" in steps(order["order_id"])
    assert stripe.Refund.list(payment_intent=order["pi"]).data == []
    assert InventoryRepository().stock("WD-A") == 5


def _pending_refunds(monkeypatch: pytest.MonkeyPatch) -> None:
    original = StripeGateway.create_refund

    def pending(self: StripeGateway, *args: Any, **kwargs: Any) -> RefundRecord:
        r = original(self, *args, **kwargs)
        return RefundRecord(r.refund_id, r.amount, r.currency, "pending")

    monkeypatch.setattr(StripeGateway, "create_refund", pending)


def _settled(order: dict[str, Any], refund_status: str) -> RefundSettled:
    refund = stripe.Refund.list(payment_intent=order["pi"]).data[0]
    return RefundSettled(provider="stripe", source_id=f"evt_{refund.id}_{refund_status}", occurred_at=NOW,
                         order_id=order["order_id"], payment_ref=order["pi"], refund_id=refund.id,
                         status=refund_status, amount=refund.amount, currency="USD",
                         failure_reason="expired_or_canceled_card" if refund_status == "failed" else None)


def test_pending_refund_waits_for_the_settlement_webhook(shop: Shop, local_env: Any,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    _pending_refunds(monkeypatch)
    order = shop.place([line(1, "PEND-A", 1, "40.00")])
    shop.send(shop.cancel, shop.body(order, "cancel-request"))
    wait_until(lambda: "waiting_for_refund_settlement" in steps(order["order_id"]))
    assert status(order["order_id"]) == "CANCELLING"  # not called refunded yet
    Dispatcher().apply(_settled(order, "succeeded"))
    local_env.stack.wait_idle()
    assert status(order["order_id"]) == "CANCELLED"


def test_failed_refund_goes_to_an_operator(shop: Shop, local_env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    _pending_refunds(monkeypatch)
    order = shop.place([line(1, "FAIL-A", 1, "40.00")])
    shop.send(shop.cancel, shop.body(order, "cancel-request"))
    wait_until(lambda: "waiting_for_refund_settlement" in steps(order["order_id"]))
    Dispatcher().apply(_settled(order, "failed"))
    wait_until(lambda: "held_for_operator" in steps(order["order_id"]))
    held = [s for s in OrdersRepository().timeline(order["order_id"]) if s["step"] == "held_for_operator"]
    assert held and held[0]["detail"]["error"]["Error"] == "RefundFailed"
    assert decide(local_env, order["order_id"], "reject") == 200
    local_env.stack.wait_idle()
    assert status(order["order_id"]) == "OPEN"


def test_dispute_freezes_the_refund_and_keeps_evidence(shop: Shop, local_env: Any) -> None:
    order = shop.place([line(1, "DISP-A", 1, "30.00")])
    opened = DisputeOpened(provider="stripe", source_id="evt_dp_1", occurred_at=NOW, order_id=order["order_id"],
                           payment_ref=order["pi"], dispute_id=f"dp_{order['no']}", amount=3000, currency="USD",
                           reason="fraudulent")
    local_env.stripe_disputes.open_dispute(order["pi"], 3000, "usd", dispute_id=opened.dispute_id)  # Stripe's side
    local_env.stack.wait_idle()  # the order is recorded: the dispute applies now, not parked
    Dispatcher().apply(opened)
    shop.send(shop.cancel, shop.body(order, "cancel-request"))
    wait_until(lambda: "held_for_operator" in steps(order["order_id"]))
    assert stripe.Refund.list(payment_intent=order["pi"]).data == []  # rule 10: not refunded while disputed
    evidence = OrdersRepository().items(order["order_id"], "EVIDENCE#")
    assert evidence and evidence[0]["evidence"]["policy"] and evidence[0]["evidence"]["currency"] == "USD"
    # the dispute closes; the operator approves; the refund happens once
    Dispatcher().apply(DisputeClosed(provider="stripe", source_id="evt_dp_2", occurred_at=NOW,
                                     order_id=order["order_id"], payment_ref=order["pi"], dispute_id=opened.dispute_id,
                                     outcome="won"))
    assert decide(local_env, order["order_id"], "approve") == 200
    local_env.stack.wait_idle()
    assert status(order["order_id"]) == "CANCELLED"
    assert len(stripe.Refund.list(payment_intent=order["pi"]).data) == 1


def test_expired_authorization_cancels_and_releases_stock(shop: Shop, local_env: Any) -> None:
    InventoryRepository().set_stock("EXP-A", 0)
    order = shop.place([line(1, "EXP-A", 2, "10.00")], capture=False)
    local_env.stack.wait_idle()
    stripe.PaymentIntent.cancel(order["pi"])  # Stripe cancels an expired authorization itself
    Dispatcher().apply(AuthorizationExpired(provider="stripe", source_id="evt_exp_1", occurred_at=NOW,
                                            payment_ref=order["pi"]))
    local_env.stack.wait_idle()
    assert status(order["order_id"]) == "CANCELLED"
    assert InventoryRepository().stock("EXP-A") == 2
    assert "payment_voided" in steps(order["order_id"])


def test_expired_authorization_on_a_shipped_order_is_revenue_at_risk(shop: Shop, local_env: Any) -> None:
    order = shop.place([line(1, "EXP-B", 1, "10.00")], capture=False)
    shop.send(shop.created, shop.body(order, "completed", offset=-30))  # shipped
    local_env.stack.wait_idle()
    Dispatcher().apply(AuthorizationExpired(provider="stripe", source_id="evt_exp_2", occurred_at=NOW,
                                            payment_ref=order["pi"]))
    wait_until(lambda: "held_for_operator" in steps(order["order_id"]))
    held = [s for s in OrdersRepository().timeline(order["order_id"]) if s["step"] == "held_for_operator"]
    assert held[0]["detail"]["error"]["Error"] == "RevenueAtRisk"


def test_operator_cannot_decide_an_order_that_is_not_held(shop: Shop, local_env: Any) -> None:
    order = shop.place([line(1, "NOHOLD", 1, "10.00")])
    local_env.stack.wait_idle()
    with pytest.raises(urllib.error.HTTPError) as err:
        decide(local_env, order["order_id"], "approve")
    assert err.value.code == 409  # a conflict with where the order stands, said plainly
    assert "not on hold" in err.value.read().decode()


def _shipped_order(shop: Shop, local_env: Any, tracking: str, outcome: str) -> dict[str, Any]:
    from backout.domain.events import ShipmentScanned, ShipmentStatus

    order = shop.place([line(1, f"SHIP-{tracking}", 1, "25.00")])
    shop.send(shop.created, shop.body(order, "completed", offset=-30))
    local_env.carrier.add_shipment(tracking, "in_transit", outcome)
    local_env.stack.wait_idle()
    Dispatcher().apply(ShipmentScanned(provider="aftership", source_id=f"as_{tracking}_1", occurred_at=NOW,
                                       order_id=order["order_id"], tracking_number=tracking, carrier="dhl",
                                       status=ShipmentStatus.IN_TRANSIT))
    InventoryRepository().set_stock(f"SHIP-{tracking}", 0)
    shop.send(shop.cancel, shop.body(order, "cancel-request"))
    wait_until(lambda: "waiting_for_carrier" in steps(order["order_id"]))
    return order


def _scan(order: dict[str, Any], tracking: str, scan_status: Any, n: int) -> None:
    from backout.domain.events import ShipmentScanned

    Dispatcher().apply(ShipmentScanned(provider="aftership", source_id=f"as_{tracking}_{n}", occurred_at=NOW,
                                       order_id=order["order_id"], tracking_number=tracking, carrier="dhl",
                                       status=scan_status))


def test_shipped_order_intercepted_then_refunded_and_restocked(shop: Shop, local_env: Any) -> None:
    from backout.domain.events import ShipmentStatus

    order = _shipped_order(shop, local_env, "TRK-INT-1", "succeed")
    intercept = [s for s in OrdersRepository().timeline(order["order_id"]) if s["step"] == "intercept_requested"]
    assert intercept and intercept[0]["detail"]["cost"] == 1500  # the intercept's cost is on the record
    assert stripe.Refund.list(payment_intent=order["pi"]).data == []  # nothing refunded while in transit
    _scan(order, "TRK-INT-1", ShipmentStatus.RETURN_TO_SENDER, 2)
    local_env.stack.wait_idle()
    assert status(order["order_id"]) == "CANCELLED"
    assert len(stripe.Refund.list(payment_intent=order["pi"]).data) == 1
    assert InventoryRepository().stock("SHIP-TRK-INT-1") == 1


def test_shipped_order_delivered_becomes_a_return(shop: Shop, local_env: Any) -> None:
    from backout.domain.events import ShipmentStatus

    order = _shipped_order(shop, local_env, "TRK-RET-1", "fail")
    _scan(order, "TRK-RET-1", ShipmentStatus.DELIVERED, 2)
    wait_until(lambda: "waiting_for_return" in steps(order["order_id"]))
    record = OrdersRepository().get_order(order["order_id"])
    assert record["return_tracking_number"]
    assert stripe.Refund.list(payment_intent=order["pi"]).data == []  # no refund before the return scan
    _scan(order, record["return_tracking_number"], ShipmentStatus.DELIVERED, 3)
    local_env.stack.wait_idle()
    assert status(order["order_id"]) == "CANCELLED"
    assert len(stripe.Refund.list(payment_intent=order["pi"]).data) == 1
