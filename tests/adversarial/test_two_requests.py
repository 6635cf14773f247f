"""Two cancellation requests for one order: the buyer's (WooCommerce) and the seller's own system's
(Standard Webhooks), close together. Rule 3 and 4: each request is decided on its own; the buyer's
withdrawal withdraws the buyer's request, not the seller's."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest

from tests.adversarial import kit
from tests.conftest import Shop, line, place_order
from tests.integration.flow import steps


@pytest.fixture()
def window(monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setenv("COOLING_OFF_SECONDS", "5")
    monkeypatch.setenv("GUARDRAIL_MARGIN_PERCENT", "-1000")  # no rate threshold near (rule 11 is elsewhere)
    return 5


@pytest.mark.parametrize("first", ["buyer", "seller"])
def test_buyer_withdrawal_does_not_drop_the_sellers_cancellation(shop: Shop, local_env: Any, window: int,
                                                                 first: str) -> None:
    """Story: the buyer asks to cancel in the store and, a second apart, the seller's system asks too
    (the item is out of stock). Inside the cooling-off window the buyer changes their mind and withdraws
    their own request in the store. The seller's request still stands: the money goes back in full once,
    the stock once; or, at the very least, the order waits in the operator queue. It must not be left
    open with the seller's request recorded and never decided."""
    s = kit.sku("TWO", 0)
    order = place_order(shop, [line(1, s, 1, "25.00")])
    local_env.stack.wait_idle()

    def seller() -> None:
        kit.standard(local_env, "order.cancel_requested",
                     {"order_id": order["order_id"], "request_id": f"seller-{uuid.uuid4().hex[:8]}",
                      "initiator": "seller", "reason": "out of stock"})

    def buyer() -> None:
        kit.woo(shop, order, "cancel-request", offset=1)

    for send in ((buyer, seller) if first == "buyer" else (seller, buyer)):
        send()
        local_env.stack.wait_idle()
    assert kit.eventually(lambda: "cooling_off_opened" in steps(order["order_id"]))
    kit.withdraw_woo(shop, order, offset=2)  # the buyer's own request, inside the window
    local_env.stack.wait_idle()
    done = kit.eventually(lambda: kit.live_refunded(order["pi"]) == order["total_minor"]
                          or kit.status(order["order_id"])[0] == "ON_HOLD", timeout=window + 30)
    local_env.stack.wait_idle()
    assert done, (f"the seller's request was never decided: order {kit.status(order['order_id'])}, refunded "
                  f"{kit.live_refunded(order['pi'])} of {order['total_minor']}, timeline {steps(order['order_id'])}")
    if kit.status(order["order_id"])[0] != "ON_HOLD":
        assert kit.live_refunded(order["pi"]) == order["total_minor"]
        assert kit.eventually(lambda: kit.stock(s) == 1, timeout=20)


def test_buyer_and_seller_requests_at_the_same_instant_refund_once(shop: Shop, local_env: Any,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Story: the buyer's cancel request (delivered twice by WooCommerce) and the seller's request reach
    Backout concurrently. One cancellation, one refund in full, one restock (rules 1, 6)."""
    monkeypatch.setenv("GUARDRAIL_MARGIN_PERCENT", "-1000")
    s = kit.sku("RACE", 0)
    order = place_order(shop, [line(1, s, 3, "36.00")])
    local_env.stack.wait_idle()
    request_id = f"seller-{uuid.uuid4().hex[:8]}"
    sends = [lambda: kit.woo(shop, order, "cancel-request", offset=1),
             lambda: kit.woo(shop, order, "cancel-request", offset=1),
             lambda: kit.standard(local_env, "order.cancel_requested",
                                  {"order_id": order["order_id"], "request_id": request_id,
                                   "initiator": "seller", "reason": "out of stock"})]
    threads = [threading.Thread(target=f) for f in sends]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert kit.eventually(lambda: kit.status(order["order_id"])[0] == "CANCELLED", timeout=40), \
        kit.status(order["order_id"])
    local_env.stack.wait_idle()
    assert [r["amount"] for r in kit.refunds(order["pi"])] == [order["total_minor"]]
    assert kit.stock(s) == 3
