"""Regression tests for bugs the simulation's checks found (each failed before its fix)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from backout.adapters.gateway import PaymentState, RefundRecord
from backout.saga.payments import Guard, _settle_with_gateway, effect_key


class _RecordingGateway:
    """A captured payment with no refund yet; remembers the metadata of the refund it is asked for."""

    name = "fake"

    def __init__(self) -> None:
        self.metadata: dict[str, str] = {}

    def retrieve(self, payment_ref: str) -> PaymentState:
        return PaymentState(payment_ref, "captured", "USD", 5000, 5000, 0)

    def find_refund(self, *args: Any, **kwargs: Any) -> None:
        return None

    def create_refund(self, payment_ref: str, amount: int, key: str, metadata: dict[str, str], *args: Any) -> RefundRecord:
        self.metadata = dict(metadata)
        return RefundRecord("re_1", amount, "USD", "succeeded")


def test_refund_metadata_names_the_recorded_request() -> None:
    order_id, request_id = "woocommerce:1234", "woocommerce:1234#2025-03-14T11:00:00"
    gateway = _RecordingGateway()
    from tests.unit.memory_repo import MemoryRepo

    _settle_with_gateway({"order_id": order_id, "payment_ref": "pi_1", "currency": "USD"},
                         effect_key(order_id, request_id), gateway, Guard(), MemoryRepo())
    assert gateway.metadata["backout_request_id"] == request_id


def test_refunded_total_survives_a_crash_after_the_result_is_recorded(local_env: Any,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from backout.repo.orders import OrdersRepository
    from tests.conftest import Shop, line

    shop = Shop(local_env)
    order = shop.place([line(1, "FIND-RT-A", 1, "12.34")])
    original, crashed = OrdersRepository.add_refunded, []

    def crash_once(self: OrdersRepository, *args: Any, **kwargs: Any) -> None:
        if not crashed:
            crashed.append(True)
            raise RuntimeError("simulated Lambda crash after the settlement was recorded")
        original(self, *args, **kwargs)

    monkeypatch.setattr(OrdersRepository, "add_refunded", crash_once)
    shop.send(shop.cancel, shop.body(order, "cancel-request"))
    local_env.stack.wait_idle()
    record = OrdersRepository().get_order(order["order_id"])
    assert crashed and record["status"] == "CANCELLED"
    assert record["refunded_total"] == order["total_minor"]


def test_a_timed_out_inbox_put_is_reported_as_the_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    from botocore.exceptions import ReadTimeoutError

    from backout import aws
    from backout.ingress import receiver

    class _TimingOut:
        def put_item(self, **kwargs: Any) -> None:
            raise ReadTimeoutError(endpoint_url="https://dynamodb.local")

    monkeypatch.setenv("INBOX_TABLE", "inbox")
    monkeypatch.setattr(aws, "client", lambda service: _TimingOut())
    with pytest.raises(ReadTimeoutError):
        receiver.put_inbox_item({"pk": {"S": "k"}})


def test_refunded_total_is_not_counted_twice_when_the_crash_follows_the_count(local_env: Any,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The other side of the fix: counted, then a crash before "done" is recorded; the retry counts nothing."""
    from backout.repo.orders import OrdersRepository
    from tests.conftest import Shop, line

    shop = Shop(local_env)
    order = shop.place([line(1, "FIND-RT-B", 1, "23.45")])
    original, crashed = OrdersRepository.record_result, []

    def crash_once(self: OrdersRepository, order_id: str, effect_id: str, status: str, **result: Any) -> None:
        if effect_id.startswith("settle#") and not crashed:
            crashed.append(True)
            raise RuntimeError("simulated Lambda crash after the refund was counted")
        original(self, order_id, effect_id, status, **result)

    monkeypatch.setattr(OrdersRepository, "record_result", crash_once)
    shop.send(shop.cancel, shop.body(order, "cancel-request"))
    local_env.stack.wait_idle()
    record = OrdersRepository().get_order(order["order_id"])
    assert crashed and record["status"] == "CANCELLED"
    assert record["refunded_total"] == order["total_minor"]


def test_a_shipped_shopify_order_cancelled_after_an_intercept_is_refunded_by_shopify(local_env: Any) -> None:
    from backout.repo.inventory import InventoryRepository
    from tests.integration.flow import status, steps, wait_until
    from tests.integration.test_platform_paths import iso, post, seller_request, shopify_headers

    number, tracking = 451_999_001, "FIND-SH-TRK-1"
    gid = local_env.shopify.add_order(number, financial_status="PAID")
    InventoryRepository().set_stock("FIND-SH-A", 0)
    order = {"id": number, "admin_graphql_api_id": gid, "name": f"#{number}", "currency": "USD",
             "total_price": "25.00", "financial_status": "paid", "fulfillment_status": "fulfilled",
             "created_at": iso(-300), "updated_at": iso(-200), "cancelled_at": None,
             "line_items": [{"id": 1, "sku": "FIND-SH-A", "quantity": 1, "price": "25.00"}]}
    post(local_env, "shopify/orders-cancelled", order, shopify_headers("orders/create"))
    post(local_env, "shopify/fulfillment_events-create",
         {"id": 1, "order_id": number, "status": "in_transit", "tracking_number": tracking, "happened_at": iso(-100)},
         shopify_headers("fulfillment_events/create"))
    local_env.carrier.add_shipment(tracking, "in_transit", "succeed")
    local_env.stack.wait_idle()
    order_id = f"shopify:{number}"
    seller_request(local_env, order_id, initiator="buyer")
    wait_until(lambda: "waiting_for_carrier" in steps(order_id))
    post(local_env, "aftership/tracking_update.Delivered", {  # returned to the sender
        "event": "tracking_update", "event_id": "find-sh-rts-1", "ts": int(time.time()),
        "msg": {"tracking_number": tracking, "slug": "dhl", "tag": "Exception", "subtag": "Exception_011",
                "order_number": order_id, "checkpoints": []}})
    local_env.stack.wait_idle()
    wait_until(lambda: status(order_id) == "CANCELLED")
    # Then Shopify, which holds the money and was never asked on the shipped path, cancelled with a refund
    assert local_env.shopify.orders[gid]["displayFinancialStatus"] == "REFUNDED", steps(order_id)
    assert local_env.shopify.orders[gid]["cancelledAt"]
