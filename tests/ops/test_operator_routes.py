"""The operator queue and search through their deployed routes (GET /operator/holds, /operator/find), signed."""

from __future__ import annotations

import uuid
from typing import Any

from backout.repo.orders import OrdersRepository
from backout_dev.targets.local import LocalTarget
from tests.adversarial import kit
from tests.conftest import Shop, line, place_order


def test_a_held_order_is_on_the_queue_found_by_every_id_and_leaves_the_queue_when_decided(
        shop: Shop, local_env: Any) -> None:
    # Given a high-value refund that waits for a person
    target = LocalTarget(local_env.url)
    order = place_order(shop, [line(1, kit.sku("HQ", 0), 1, "2500.00")])
    kit.woo(shop, order, "cancel-request", offset=1)
    assert kit.eventually(lambda: kit.status(order["order_id"]) == ("ON_HOLD", "OperatorRequired"))
    # When the operator lists the queue
    held = {h["order_id"]: h for h in target.holds()}
    # Then it is there with its reason, amount owed and currency, and the queue is oldest first
    mine = held[order["order_id"]]
    assert (mine["reason"], mine["owed_minor"], mine["currency"]) == ("OperatorRequired", order["total_minor"], "USD")
    assert (mine["channel"], mine["platform_order_id"]) == ("woocommerce", str(order["no"]))
    assert mine["age_seconds"] >= 0 and mine["since"] and mine["deadline"] is None
    since = [h["since"] for h in target.holds()]
    assert since == sorted(since)
    # And it is found by its platform order number and its payment id
    assert {"order_id": order["order_id"], "matched": "platform_order_id", "status": "ON_HOLD"} in target.find(
        str(order["no"]))
    assert [m["matched"] for m in target.find(order["pi"])] == ["payment_ref"]
    assert target.find(f"nothing-{uuid.uuid4().hex}") == []
    # When the operator approves, the order leaves the queue, and its refund id finds it
    target.decide(order["order_id"], "approve", "checked with the buyer")
    assert kit.eventually(lambda: kit.status(order["order_id"])[0] == "CANCELLED")
    assert order["order_id"] not in {h["order_id"] for h in target.holds()}
    meta = OrdersRepository().get_order(order["order_id"]) or {}
    assert meta["hold_queue"] == f"RELEASED#{order['order_id']}"  # off the queue's partition, nothing removed
    refund_id = kit.refunds(order["pi"])[0]["id"]
    assert target.find(refund_id) == [{"order_id": order["order_id"], "matched": "refund_id", "status": "CANCELLED"}]


def test_a_tracking_number_finds_its_order(shop: Shop, local_env: Any) -> None:
    order = place_order(shop, [line(1, kit.sku("TRK", 0), 1, "10.00")])
    tracking = f"JD{uuid.uuid4().hex[:12].upper()}"
    kit.scan(local_env, order["order_id"], tracking, "InTransit")
    local_env.stack.wait_idle()
    found = LocalTarget(local_env.url).find(tracking)
    assert [(m["order_id"], m["matched"]) for m in found] == [(order["order_id"], "tracking_number")]
