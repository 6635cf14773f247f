"""Rules 2 and 5 on a marketplace that holds the money (Shopify): the path is re-decided when the parcel
leaves during the cooling-off window. Stories found by the model-based generator's platform machine."""

from __future__ import annotations

import itertools
import time
import uuid
from typing import Any

import pytest

from backout_dev.sim.model.bodies import iso
from backout_dev.sim.model.drive import post_signed, sample
from tests.adversarial import kit
from tests.integration.flow import steps

_numbers = itertools.count(int(time.time()) % 100_000 * 10 + 460_000_000)


def _shopify(env: Any, topic: str, body: dict[str, Any]) -> None:
    name = {"fulfillment_events/create": "shopify/fulfillment_events-create"}.get(topic, "shopify/orders-cancelled")
    code, answer = post_signed(env, sample(name), body, {"x-shopify-topic": topic,
                                                         "x-shopify-event-id": str(uuid.uuid4()),
                                                         "x-shopify-triggered-at": iso(time.time(), "Z")})
    assert code == 200, answer


def _order(number: int, s: str, at: float, fulfilled: bool = False) -> dict[str, Any]:
    return {"id": number, "admin_graphql_api_id": f"gid://shopify/Order/{number}", "name": f"#{number}",
            "currency": "USD", "total_price": "44.00", "financial_status": "paid",
            "fulfillment_status": "fulfilled" if fulfilled else None, "created_at": iso(at - 60, "Z"),
            "updated_at": iso(at, "Z"), "cancelled_at": None,
            "line_items": [{"id": 1, "sku": s, "quantity": 1, "price": "44.00"}]}


def test_a_shopify_order_shipped_during_the_window_is_intercepted_not_refused(
        local_env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Story: the buyer asks the storefront to cancel a paid Shopify order; while the cooling-off window is
    open the warehouse ships it (``orders/updated`` fulfilled, a fulfillment event in transit). The path was
    chosen before the window (the platform's), so Backout used to answer "shipped before it was asked" and
    leave the order OPEN: the buyer's cancellation refused, no intercept, the money kept. Rule 2: a shipped
    order is intercepted, else returned. Expected: an intercept; once the parcel is back, Shopify cancels
    with a refund once, the unit is restocked once, the order is CANCELLED."""
    monkeypatch.setenv("COOLING_OFF_SECONDS", "3")
    monkeypatch.setenv("GUARDRAIL_MARGIN_PERCENT", "-1000")
    number, s = next(_numbers), kit.sku("SHWIN", 0)
    gid = local_env.shopify.add_order(number, financial_status="PAID")
    tracking = f"SHW{number}"
    local_env.carrier.add_shipment(tracking, "in_transit", "succeed")
    start = time.time()
    _shopify(local_env, "orders/create", _order(number, s, start - 10))
    order_id = f"shopify:{number}"
    kit.standard(local_env, "order.cancel_requested", {"order_id": order_id, "request_id": f"req-{number}",
                                                       "initiator": "buyer", "reason": "changed my mind"})
    assert kit.eventually(lambda: "cooling_off_opened" in steps(order_id)), steps(order_id)
    _shopify(local_env, "orders/updated", _order(number, s, time.time(), fulfilled=True))
    _shopify(local_env, "fulfillment_events/create", {"id": number * 10, "order_id": number, "status": "in_transit",
                                                      "tracking_number": tracking, "happened_at": iso(time.time(), "Z")})
    assert kit.eventually(lambda: "waiting_for_carrier" in steps(order_id)), (kit.status(order_id), steps(order_id))
    assert not local_env.shopify.orders[gid]["cancelledAt"]  # nothing asked of Shopify before the goods are back
    kit.scan(local_env, order_id, tracking, "Exception", "Exception_011")
    assert kit.eventually(lambda: kit.status(order_id)[0] == "CANCELLED"), (kit.status(order_id), steps(order_id))
    local_env.stack.wait_idle()
    assert local_env.shopify.orders[gid]["displayFinancialStatus"] == "REFUNDED"
    assert len([e for e in local_env.shopify.effects("cancel") if e["order_id"] == gid]) == 1
    assert kit.stock(s) == 1
