"""Rule 2: the intercept is decided by the order's own parcel's scans, in the carrier's order."""

from __future__ import annotations

import time
from typing import Any

from tests.adversarial import kit
from tests.conftest import Shop, line, place_order
from tests.integration.flow import steps


def _shipped(shop: Shop, env: Any, s: str, outcome: str) -> tuple[dict[str, Any], str]:
    order = place_order(shop, [line(1, s, 1, "64.00")])
    tracking = f"CS{order['no']}"
    env.carrier.add_shipment(tracking, "in_transit", outcome)
    kit.woo(shop, order, "completed", offset=1)
    kit.scan(env, order["order_id"], tracking, "InTransit", "InTransit_001", ts=time.time() - 60)
    env.stack.wait_idle()
    kit.woo(shop, order, "cancel-request", offset=2)
    assert kit.eventually(lambda: "waiting_for_carrier" in steps(order["order_id"]))
    return order, tracking


def test_a_scan_of_another_parcel_does_not_decide_the_intercept(shop: Shop, local_env: Any) -> None:
    """Story: the parcel is in transit and Backout asked for an intercept. AfterShip then reports a
    *different* tracking number under the same order number as delivered (the shop re-used the order
    number on an unrelated shipment). The intercept is still open: nothing refunded, no return label.
    Then the real parcel is returned to sender: refunded once in full, restocked once."""
    s = kit.sku("OTHERTRK", 0)
    order, tracking = _shipped(shop, local_env, s, "succeed")
    kit.scan(local_env, order["order_id"], f"X{tracking}", "Delivered", "Delivered_001")
    local_env.stack.wait_idle()
    time.sleep(1.0)
    local_env.stack.wait_idle()
    assert kit.refunds(order["pi"]) == []
    assert [lb for lb in local_env.carrier.labels.values() if lb["order_id"] == order["order_id"]] == []
    kit.scan(local_env, order["order_id"], tracking, "Exception", "Exception_011")
    assert kit.eventually(lambda: kit.status(order["order_id"])[0] == "CANCELLED"), \
        (kit.status(order["order_id"]), steps(order["order_id"]))
    local_env.stack.wait_idle()
    assert [r["amount"] for r in kit.refunds(order["pi"])] == [order["total_minor"]]
    assert kit.stock(s) == 1


def test_a_stale_in_transit_scan_after_return_to_sender(shop: Shop, local_env: Any) -> None:
    """Story: the intercept works; the carrier's return-to-sender scan arrives, and then, late, an older
    out-for-delivery scan of the same parcel (AfterShip retried it). The return stands: refunded once in
    full, restocked once, no return label."""
    s = kit.sku("STALE", 0)
    order, tracking = _shipped(shop, local_env, s, "succeed")
    kit.scan(local_env, order["order_id"], tracking, "Exception", "Exception_011", ts=time.time())
    kit.scan(local_env, order["order_id"], tracking, "OutForDelivery", "OutForDelivery_001", ts=time.time() - 30)
    assert kit.eventually(lambda: kit.status(order["order_id"])[0] == "CANCELLED"), \
        (kit.status(order["order_id"]), steps(order["order_id"]))
    local_env.stack.wait_idle()
    assert [r["amount"] for r in kit.refunds(order["pi"])] == [order["total_minor"]]
    assert kit.stock(s) == 1
    assert [lb for lb in local_env.carrier.labels.values() if lb["order_id"] == order["order_id"]] == []


def test_easypost_scans_reach_the_order_by_tracking_number(shop: Shop, local_env: Any) -> None:
    """Story (found by the model-based generator): the parcel is tracked by EasyPost, whose trackers name
    only the tracking code. The intercept fails, the parcel is delivered and Backout issues a return label;
    EasyPost then reports the return parcel delivered back. The return stands: refunded once in full,
    restocked once, CANCELLED. (Before: every EasyPost scan failed in the dispatcher, "unknown order None",
    and the return wait, which the watchdog cannot probe, never ended.)"""
    s = kit.sku("EASYPOST", 0)
    order, tracking = _shipped(shop, local_env, s, "fail")
    kit.easypost_scan(local_env, tracking, "delivered")
    assert kit.eventually(lambda: "waiting_for_return" in steps(order["order_id"])), steps(order["order_id"])
    [label] = [lb for lb in local_env.carrier.labels.values() if lb["order_id"] == order["order_id"]]
    assert kit.refunds(order["pi"]) == []  # nothing before the goods are back
    kit.easypost_scan(local_env, label["tracking_number"], "delivered")
    assert kit.eventually(lambda: kit.status(order["order_id"])[0] == "CANCELLED"), \
        (kit.status(order["order_id"]), steps(order["order_id"]))
    local_env.stack.wait_idle()
    assert [r["amount"] for r in kit.refunds(order["pi"])] == [order["total_minor"]]
    assert kit.stock(s) == 1
