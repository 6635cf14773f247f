"""Rule 8: a new order is a new order. A store that hands out an order number again (a restored
database, a sequential-numbers plugin reset) sends a new order with a new payment under an old id."""

from __future__ import annotations

from typing import Any

from backout_dev.demo import _payment_intent
from tests.adversarial import kit
from tests.conftest import Shop, line, order_body_for, place_order


def test_a_reused_order_number_with_a_new_payment_is_refunded_when_cancelled(shop: Shop, local_env: Any) -> None:
    """Story: order N is cancelled and refunded. Weeks later the store (restored from a backup) gives
    number N to a new customer's order, paid with a new PaymentIntent, and that customer cancels too.
    The first payment stays refunded once; the new payment must come back in full as well (or the
    request waits for a person): a recorded request is decided or queued, never silently dropped."""
    first = place_order(shop, [line(1, kit.sku("REUSE1", 0), 1, "20.00")])
    kit.woo(shop, first, "cancel-request", offset=1)
    assert kit.eventually(lambda: kit.status(first["order_id"])[0] == "CANCELLED")
    local_env.stack.wait_idle()
    s2 = kit.sku("REUSE2", 0)
    second = {**first, "pi": _payment_intent(5500, "USD", True, first["no"]), "total": "55.00", "total_minor": 5500,
              "lines": [line(7, s2, 1, "55.00")]}
    local_env.woo.orders[str(first["no"])] = {"id": first["no"], "status": "processing"}
    assert shop.send(shop.created, order_body_for(shop, second, "processing", offset=5))[0] == 200
    local_env.stack.wait_idle()
    kit.woo(shop, second, "cancel-request", offset=6)
    again = first["order_id"] + "~2"  # the second order under the number (backout.identity)
    done = kit.eventually(lambda: kit.live_refunded(second["pi"]) == 5500
                          or kit.status(again)[0] == "ON_HOLD", timeout=30)
    local_env.stack.wait_idle()
    assert kit.live_refunded(first["pi"]) == first["total_minor"]
    assert done, (f"the new payment was never refunded: {kit.live_refunded(second['pi'])} of 5500, "
                  f"order {kit.status(again)}")
    assert kit.status(first["order_id"])[0] == "CANCELLED"  # the first order is kept as it ended (rule 7)


def _reapply(sample: dict[str, Any], body: dict[str, Any]) -> None:
    from datetime import datetime, timezone

    from backout.dispatch import Dispatcher
    from backout.ingress.normalize import normalize

    headers = {k.lower(): v for k, v in sample["headers"].items()}
    for event in normalize("woocommerce", body, headers, datetime.now(timezone.utc)):
        Dispatcher().apply(event)


def _record(order_id: str) -> dict[str, Any]:
    from backout.repo.orders import OrdersRepository

    return OrdersRepository().get_order(order_id) or {}


def test_late_deliveries_of_the_first_order_stay_with_it(shop: Shop, local_env: Any) -> None:
    """Story: after the number was given out again, the stream (or the store's retry) delivers the
    first order's webhooks once more: its cancelled-order update and its cancel request, as they were
    sent then. They name the first payment and an earlier time: they are the first order's, so the
    second order keeps its own payment and no cancellation starts on it (no refund without a request)."""
    first = place_order(shop, [line(1, kit.sku("REUSE3", 0), 1, "20.00")])
    old_request = order_body_for(shop, first, "cancel-request", offset=1)
    assert shop.send(shop.cancel, old_request)[0] == 200
    assert kit.eventually(lambda: kit.status(first["order_id"])[0] == "CANCELLED")
    old_update = order_body_for(shop, first, "cancelled", offset=2)
    local_env.stack.wait_idle()
    second = {**first, "pi": _payment_intent(4100, "USD", True, first["no"]), "total": "41.00", "total_minor": 4100,
              "lines": [line(3, kit.sku("REUSE4", 0), 1, "41.00")]}
    assert shop.send(shop.created, order_body_for(shop, second, "processing", offset=5))[0] == 200
    local_env.stack.wait_idle()
    again = first["order_id"] + "~2"
    assert _record(again).get("payment_ref") == second["pi"]

    # the stream applies the old records again (a batch retried from an earlier record): straight to the dispatcher,
    # since the receiver would drop a byte-identical delivery as a duplicate before it reached the stream
    _reapply(shop.cancel, old_request)
    _reapply(shop.created, old_update)
    local_env.stack.wait_idle()
    assert _record(again)["status"] == "OPEN" and _record(again)["payment_ref"] == second["pi"]
    assert kit.live_refunded(second["pi"]) == 0
    assert _record(first["order_id"])["payment_ref"] == first["pi"]
    assert kit.live_refunded(first["pi"]) == first["total_minor"]  # refunded once, not again


def test_a_new_payment_on_an_open_order_is_the_same_order(shop: Shop, local_env: Any) -> None:
    """A retried checkout pays an order that has not ended with a second payment: that is the same
    order (one record, no second incarnation), not a re-order."""
    first = place_order(shop, [line(1, kit.sku("REUSE5", 0), 1, "20.00")])
    retried = {**first, "pi": _payment_intent(2000, "USD", True, first["no"])}
    assert shop.send(shop.created, order_body_for(shop, retried, "processing", offset=3))[0] == 200
    local_env.stack.wait_idle()
    assert _record(first["order_id"])["status"] == "OPEN"
    assert _record(first["order_id"] + "~2") == {}


def test_the_new_orders_cancel_request_arriving_before_its_placement_is_not_lost(shop: Shop, local_env: Any) -> None:
    """Story: number N was cancelled and refunded; the store gives N to a new order, and that buyer's
    cancel request reaches Backout before the new order's own order.created (network order). The
    request is the new order's: its payment comes back in full (or it waits for a person), and the
    first order's payment is not refunded twice."""
    first = place_order(shop, [line(1, kit.sku("REUSE5", 0), 1, "20.00")])
    kit.woo(shop, first, "cancel-request", offset=1)
    assert kit.eventually(lambda: kit.status(first["order_id"])[0] == "CANCELLED")
    local_env.stack.wait_idle()
    second = {**first, "pi": _payment_intent(3300, "USD", True, first["no"]), "total": "33.00", "total_minor": 3300,
              "lines": [line(9, kit.sku("REUSE6", 0), 1, "33.00")]}
    local_env.woo.orders[str(first["no"])] = {"id": first["no"], "status": "processing"}
    kit.woo(shop, second, "cancel-request", offset=6)  # first, though sent after the order below
    local_env.stack.wait_idle()
    assert shop.send(shop.created, order_body_for(shop, second, "processing", offset=5))[0] == 200
    again = first["order_id"] + "~2"
    done = kit.eventually(lambda: kit.live_refunded(second["pi"]) == 3300
                          or kit.status(again)[0] == "ON_HOLD", timeout=30)
    local_env.stack.wait_idle()
    assert done, (f"the new order's request was lost: {kit.live_refunded(second['pi'])} of 3300 refunded, "
                  f"order {kit.status(again)}")
    assert kit.live_refunded(first["pi"]) == first["total_minor"]


def test_a_crash_between_the_pointer_and_the_new_order_record_loses_nothing(shop: Shop, local_env: Any) -> None:
    """Story: the dispatcher that found number N reused pointed the cancelled order at ``N~2`` and died
    before it recorded ``N~2``. The stream delivers the placement again: the same new order is recorded
    (no ``N~3``), its cancellation refunds its own payment in full, and the first payment is untouched."""
    from backout.repo.orders import OrdersRepository

    first = place_order(shop, [line(1, kit.sku("REUSE7", 0), 1, "20.00")])
    kit.woo(shop, first, "cancel-request", offset=1)
    assert kit.eventually(lambda: kit.status(first["order_id"])[0] == "CANCELLED")
    local_env.stack.wait_idle()
    again = first["order_id"] + "~2"
    assert OrdersRepository().reissue(first["order_id"], again) == again  # the write before the crash
    assert _record(again) == {}
    second = {**first, "pi": _payment_intent(2700, "USD", True, first["no"]), "total": "27.00", "total_minor": 2700,
              "lines": [line(4, kit.sku("REUSE8", 0), 1, "27.00")]}
    local_env.woo.orders[str(first["no"])] = {"id": first["no"], "status": "processing"}
    assert shop.send(shop.created, order_body_for(shop, second, "processing", offset=5))[0] == 200
    local_env.stack.wait_idle()
    assert _record(again).get("payment_ref") == second["pi"]
    assert _record(first["order_id"] + "~3") == {}
    kit.woo(shop, second, "cancel-request", offset=6)
    assert kit.eventually(lambda: kit.live_refunded(second["pi"]) == 2700, timeout=30), kit.status(again)
    local_env.stack.wait_idle()
    assert kit.live_refunded(first["pi"]) == first["total_minor"]
