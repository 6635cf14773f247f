"""Issue 15 item 4: the watchdog checks each wait on its own. On the local stack, among several open
waits, one whose provider check fails on every pass (PayPal answers 500 to the refund lookup) is
logged and counted, still heartbeated, and the other waits are still heartbeated and resumed."""

from __future__ import annotations

from typing import Any

import pytest

from backout.repo.inventory import InventoryRepository
from backout.repo.orders import OrdersRepository
from tests.conftest import Shop, line, order_body_for, place_order
from tests.integration.flow import status, steps, wait_until
from tests.integration.test_platform_paths import ozon_order, seller_request, watchdog


def _cancel(shop: Shop, order: dict[str, Any]) -> None:
    assert shop.send(shop.cancel, order_body_for(shop, order, "cancel-request"))[0] == 200


def test_one_failing_wait_does_not_stop_the_pass_over_the_others(shop: Shop, local_env: Any,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GUARDRAIL_MARGIN_PERCENT", "-1000")  # seller requests here are not near a rate threshold
    monkeypatch.setattr(local_env.paypal, "refund_status", "PENDING")  # refunds wait for their webhook
    # 1. a PayPal order with one capture, its refund pending: the probe asks PayPal, which fails every time
    failing = place_order(shop, [line(1, "WD-FAIL", 1, "30.00")], gateway="paypal")
    _cancel(shop, failing)
    # 2. a PayPal order with two captures, both refunds pending (each refund's webhook settles it)
    two = place_order(shop, [line(1, "WD-TWO", 1, "20.00")], gateway="paypal", capture=False)
    for _ in range(2):
        local_env.paypal.capture(two["pi"], "10.00")
    _cancel(shop, two)
    # 3. an Ozon order the seller cancels (/v2/posting/fbs/cancel cancels the posting at once), whose push is lost
    InventoryRepository().set_stock("WD-OZ", 0)
    ozon = ozon_order(local_env, "WD-OZ")
    seller_request(local_env, ozon["order_id"])
    for order_id in (failing["order_id"], two["order_id"]):
        wait_until(lambda: "waiting_for_refund_settlement" in steps(order_id))
    wait_until(lambda: "waiting_for_platform_decision" in steps(ozon["order_id"]))
    assert local_env.ozon.posting_status(ozon["posting"]) == "cancelled"  # Ozon's TYPE_POSTING_CANCELLED never arrives
    local_env.paypal.fail_next(1000, 500, method="GET", path_contains=failing["pi"])
    try:
        first = watchdog(local_env)
        second = watchdog(local_env)
    finally:
        local_env.paypal.clear_faults()
    # the failing wait was counted on both passes, and never aborted them
    assert first["failed"] >= 1 and second["failed"] >= 1
    assert first["waits"] >= 3 and first["heartbeats"] >= 3
    # the wait after (or before) it was still checked and resumed
    assert first["completed"] >= 1
    local_env.stack.wait_idle()
    wait_until(lambda: status(ozon["order_id"]) == "CANCELLED")
    decided = [s for s in OrdersRepository().timeline(ozon["order_id"]) if s["step"] == "platform_cancellation_decided"]
    assert len(decided) == 1 and decided[0]["detail"]["source_id"].startswith("watchdog:")
    # the failing order and the two-capture order still wait, neither timed out into a hold
    for order in (failing, two):
        assert status(order["order_id"]) == "CANCELLING"
        assert "held_for_operator" not in steps(order["order_id"])
