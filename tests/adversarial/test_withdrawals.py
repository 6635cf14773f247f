"""Rule 4: a withdrawal inside its window ends its own request, and only its own."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from tests.adversarial import kit
from tests.conftest import Shop, line, place_order
from tests.integration.flow import steps


@pytest.fixture()
def window(monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setenv("COOLING_OFF_SECONDS", "4")
    return 4


def _request(env: Any, order: dict[str, Any], initiator: str = "buyer") -> str:
    rid = f"req-{uuid.uuid4().hex[:10]}"
    kit.standard(env, "order.cancel_requested", {"order_id": order["order_id"], "request_id": rid,
                                                 "initiator": initiator, "reason": "changed my mind"})
    return rid


def test_a_withdrawal_naming_another_request_does_not_withdraw(shop: Shop, local_env: Any, window: int) -> None:
    """Story: the storefront's system sends a cancel request; inside the window it sends a withdrawal
    naming a different request id (another order's, a bug on its side). The request stands: after the
    window the money goes back in full, once, and the stock once."""
    s = kit.sku("WOTHER", 0)
    order = place_order(shop, [line(1, s, 1, "19.99")])
    local_env.stack.wait_idle()
    _request(local_env, order)
    assert kit.eventually(lambda: "cooling_off_opened" in steps(order["order_id"]))
    kit.standard(local_env, "order.cancel_withdrawn", {"order_id": order["order_id"], "request_id": "req-not-this-one"})
    assert kit.eventually(lambda: kit.status(order["order_id"])[0] == "CANCELLED", timeout=window + 30), \
        kit.status(order["order_id"])
    local_env.stack.wait_idle()
    assert kit.live_refunded(order["pi"]) == order["total_minor"]
    assert kit.stock(s) == 1


def test_a_withdrawal_older_than_the_request_is_not_honoured(shop: Shop, local_env: Any, window: int) -> None:
    """Story: the buyer asked to cancel once, withdrew (the store's update stamped at t-30 s, delivered
    late, after the new request), and now asks again at t. The old withdrawal is about the past: the
    new request stands, refunded in full once after its window."""
    s = kit.sku("WOLD", 0)
    order = place_order(shop, [line(1, s, 2, "40.00")])
    local_env.stack.wait_idle()
    kit.woo(shop, order, "cancel-request", offset=0)
    assert kit.eventually(lambda: "cooling_off_opened" in steps(order["order_id"]))
    kit.withdraw_woo(shop, order, offset=-30)  # modified 30 s before the request, delivered now
    assert kit.eventually(lambda: kit.status(order["order_id"])[0] == "CANCELLED", timeout=window + 30), \
        (kit.status(order["order_id"]), steps(order["order_id"]))
    local_env.stack.wait_idle()
    assert kit.live_refunded(order["pi"]) == order["total_minor"]
    assert kit.stock(s) == 2


def test_a_withdrawal_inside_the_window_delivered_twice_and_then_a_new_request(shop: Shop, local_env: Any,
                                                                               window: int) -> None:
    """Story: request, withdrawal inside the window (delivered twice), then a day-later-style new request
    (a new modification time). The first ends withdrawn (nothing refunded), the second is refunded once
    in full: the first withdrawal must not be taken for the second request's."""
    s = kit.sku("WAGAIN", 0)
    order = place_order(shop, [line(1, s, 1, "15.00")])
    local_env.stack.wait_idle()
    kit.woo(shop, order, "cancel-request", offset=0)
    assert kit.eventually(lambda: "cooling_off_opened" in steps(order["order_id"]))
    kit.withdraw_woo(shop, order, offset=1)
    kit.withdraw_woo(shop, order, offset=1)
    assert kit.eventually(lambda: kit.status(order["order_id"])[0] == "OPEN" and "cancel_withdrawn" in steps(order["order_id"]))
    assert kit.refunds(order["pi"]) == [] and kit.stock(s) == 0
    time.sleep(1.1)
    kit.woo(shop, order, "cancel-request", offset=3)
    assert kit.eventually(lambda: kit.status(order["order_id"])[0] == "CANCELLED", timeout=window + 30), \
        (kit.status(order["order_id"]), steps(order["order_id"]))
    local_env.stack.wait_idle()
    assert kit.live_refunded(order["pi"]) == order["total_minor"]
    assert kit.stock(s) == 1
