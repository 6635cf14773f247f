"""Issue 2's flow end to end on the local stack: WooCommerce cancel request,
Stripe refund or void, stock back, order cancelled — exactly once."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import stripe

from backout.adapters.stripe_gateway import StripeGateway
from backout.repo.inventory import InventoryRepository
from backout.repo.orders import OrdersRepository
from tests.conftest import Shop, line


def _steps(order_id: str) -> list[str]:
    return [s["step"] for s in OrdersRepository().timeline(order_id)]


def _seed(*skus: str, count: int = 10) -> None:
    for sku in skus:
        InventoryRepository().set_stock(sku, count)


def test_captured_order_is_refunded_in_full_and_restocked(shop: Shop, local_env: Any) -> None:
    # Given a captured order with two standard lines
    _seed("CAP-A", "CAP-B")
    order = shop.place([line(1, "CAP-A", 2, "20.00"), line(2, "CAP-B", 1, "9.99")])
    # When the customer's cancel request arrives
    status, answer = shop.send(shop.cancel, shop.body(order, "cancel-request"))
    local_env.stack.wait_idle()
    # Then one refund of the whole captured amount exists at Stripe, stock is back, the order is cancelled
    assert status == 200 and answer["duplicate"] is False
    refunds = stripe.Refund.list(payment_intent=order["pi"]).data
    assert [(r.amount, r.currency) for r in refunds] == [(order["total_minor"], "usd")]
    inv = InventoryRepository()
    assert (inv.stock("CAP-A"), inv.stock("CAP-B")) == (12, 11)
    repo = OrdersRepository()
    assert repo.get_order(order["order_id"])["status"] == "CANCELLED"
    steps = _steps(order["order_id"])
    for expected in ("order_recorded", "cancel_requested", "saga_started", "payment_refunded", "stock_restored",
                     "platform_notified", "cancelled"):
        assert expected in steps
    assert local_env.woo.orders[str(order["no"])]["status"] == "cancelled"


def test_authorized_order_is_voided_not_refunded(shop: Shop, local_env: Any) -> None:
    _seed("AUTH-A")
    order = shop.place([line(1, "AUTH-A", 3, "30.00")], currency="EUR", capture=False)
    shop.send(shop.cancel, shop.body(order, "cancel-request"))
    local_env.stack.wait_idle()
    voided = stripe.PaymentIntent.retrieve(order["pi"])
    # issue 14 item 8: the void says why (https://docs.stripe.com/api/payment_intents/cancel, cancellation_reason)
    assert (voided.status, voided.cancellation_reason) == ("canceled", "requested_by_customer")
    assert stripe.Refund.list(payment_intent=order["pi"]).data == []
    assert InventoryRepository().stock("AUTH-A") == 13
    assert "payment_voided" in _steps(order["order_id"])


def test_custom_items_are_recorded_not_restocked(shop: Shop, local_env: Any) -> None:
    _seed("STD-1", "CUSTOM-1", count=0)
    order = shop.place([line(1, "STD-1", 1, "10.00"), line(2, "CUSTOM-1", 2, "50.00", custom=True)])
    shop.send(shop.cancel, shop.body(order, "cancel-request"))
    local_env.stack.wait_idle()
    inv = InventoryRepository()
    assert (inv.stock("STD-1"), inv.stock("CUSTOM-1")) == (1, 0)
    assert "restock_skipped_custom" in _steps(order["order_id"])


def test_cancel_delivered_three_times_refunds_once(shop: Shop, local_env: Any) -> None:
    _seed("DUP-A")
    order = shop.place([line(1, "DUP-A", 1, "15.00")])
    body = shop.body(order, "cancel-request")
    answers: list[tuple[int, dict[str, Any]]] = []
    threads = [threading.Thread(target=lambda: answers.append(shop.send(shop.cancel, body))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    local_env.stack.wait_idle()
    assert sorted(a[1]["duplicate"] for a in answers) == [False, True, True]
    assert len(stripe.Refund.list(payment_intent=order["pi"]).data) == 1
    assert InventoryRepository().stock("DUP-A") == 11
    assert _steps(order["order_id"]).count("saga_started") == 1


def test_refund_crash_after_stripe_created_it_still_refunds_once(shop: Shop, local_env: Any,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the refund task dies once right after Stripe created the refund, before Backout recorded it
    _seed("CRASH-A")
    order = shop.place([line(1, "CRASH-A", 2, "12.50")])
    original = StripeGateway.create_refund
    crashes: list[str] = []

    def create_then_crash(self: StripeGateway, *args: Any, **kwargs: Any) -> Any:
        record = original(self, *args, **kwargs)
        if not crashes:
            crashes.append(record.refund_id)
            raise RuntimeError("simulated crash: the Lambda died before recording the refund")
        return record

    monkeypatch.setattr(StripeGateway, "create_refund", create_then_crash)
    # When the cancel request is delivered three times
    body = shop.body(order, "cancel-request")
    for _ in range(3):
        shop.send(shop.cancel, body)
    local_env.stack.wait_idle()
    # Then the saga retried, found the refund by its metadata, and Stripe holds exactly one refund
    refunds = stripe.Refund.list(payment_intent=order["pi"]).data
    assert crashes and [r.id for r in refunds] == crashes
    assert refunds[0].amount == order["total_minor"]
    assert OrdersRepository().get_order(order["order_id"])["status"] == "CANCELLED"
    assert InventoryRepository().stock("CRASH-A") == 12


def test_restock_crash_midway_restocks_each_line_once(shop: Shop, local_env: Any,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    _seed("MID-A", "MID-B")
    order = shop.place([line(1, "MID-A", 1, "5.00"), line(2, "MID-B", 4, "8.00")])
    original = InventoryRepository.restock_line
    calls: list[str] = []

    def restock_then_crash(self: InventoryRepository, *args: Any, **kwargs: Any) -> bool:
        done = original(self, *args, **kwargs)
        calls.append(args[2])
        if len(calls) == 1:
            raise RuntimeError("simulated crash after the first line")
        return done

    monkeypatch.setattr(InventoryRepository, "restock_line", restock_then_crash)
    body = shop.body(order, "cancel-request")
    for _ in range(3):
        shop.send(shop.cancel, body)
    local_env.stack.wait_idle()
    inv = InventoryRepository()
    assert (inv.stock("MID-A"), inv.stock("MID-B")) == (11, 14)
    assert calls.count("MID-A") == 2  # retried, and the ledger refused the second restock
    assert _steps(order["order_id"]).count("stock_restored") == 2


def test_tampered_cancel_request_is_rejected_and_writes_nothing(shop: Shop, local_env: Any) -> None:
    from backout_dev.sender import post, sign

    order = shop.place([line(1, "TAMP-A", 1, "5.00")])
    import json

    raw = json.dumps(shop.body(order, "cancel-request")).encode()
    headers = sign("woocommerce", raw, dict(shop.cancel["headers"]), local_env.secrets)
    status, answer = post(local_env.url + "/webhooks/woocommerce", raw.replace(b"cancel-request", b"cancel-requesx"),
                          headers)
    local_env.stack.wait_idle()
    assert status == 401 and "signature" in answer["error"]
    assert OrdersRepository().get_order(order["order_id"])["status"] == "OPEN"
    assert "cancel_requested" not in _steps(order["order_id"])
