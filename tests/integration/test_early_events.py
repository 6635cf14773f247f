"""Issue 3 point 7: events that arrive before what they refer to are kept and applied, never dropped.

Applied through the dispatcher (the code the inbox stream runs) on the local stack's tables.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timezone
from typing import Any

import pytest

from backout.dispatch import Dispatcher
from backout.domain.events import OrderPlaced, RefundSettled, ShipmentScanned, ShipmentStatus
from backout.repo.orders import OrdersRepository

NOW = datetime.now(timezone.utc)
_numbers = itertools.count(1)


def _ids() -> tuple[str, str]:
    n = next(_numbers)
    return f"woocommerce:early-{n}-{id(NOW)}", f"pi_early_{n}_{id(NOW)}"


def _placed(order_id: str, payment_ref: str) -> OrderPlaced:
    return OrderPlaced(provider="woocommerce", source_id=f"placed-{order_id}", occurred_at=NOW, order_id=order_id,
                       payment_ref=payment_ref, channel="woocommerce", external_id=order_id.split(":")[1],
                       currency="USD", total=1000, gateway="stripe",
                       lines=({"line_id": "1", "sku": "EARLY-1", "quantity": 1, "unit_price": 1000},))


def _refund(payment_ref: str, refund_id: str, source: str = "evt_refund") -> RefundSettled:
    return RefundSettled(provider="stripe", source_id=f"{source}-{payment_ref}", occurred_at=NOW,
                         payment_ref=payment_ref, refund_id=refund_id, status="succeeded", amount=500, currency="USD")


def _applied_refunds(repo: OrdersRepository, order_id: str) -> set[str]:
    return {str(s["detail"]["refund_id"]) for s in repo.timeline(order_id) if s["step"] == "refund_settled"}


def test_a_payment_only_event_before_its_order_is_kept_then_applied(local_env: Any) -> None:
    repo, dispatcher = OrdersRepository(), Dispatcher()
    order_id, pi = _ids()
    dispatcher.apply(_refund(pi, "re_1"))
    assert repo.get_order(order_id) is None
    dispatcher.apply(_placed(order_id, pi))
    assert _applied_refunds(repo, order_id) == {"re_1"}


def test_one_delivery_with_two_refunds_parks_both(local_env: Any) -> None:
    """The park key includes the refund id: one webhook naming two refunds keeps two events."""
    repo, dispatcher = OrdersRepository(), Dispatcher()
    order_id, pi = _ids()
    dispatcher.apply(_refund(pi, "re_a", source="evt_same"))
    dispatcher.apply(_refund(pi, "re_b", source="evt_same"))
    dispatcher.apply(_refund(pi, "re_a", source="evt_same"))  # a redelivery keeps nothing new
    assert len(repo.parked("unknown-order", pi)) == 2
    dispatcher.apply(_placed(order_id, pi))
    assert _applied_refunds(repo, order_id) == {"re_a", "re_b"}


def test_an_order_id_event_before_its_order_is_kept_then_applied(local_env: Any) -> None:
    repo, dispatcher = OrdersRepository(), Dispatcher()
    order_id, pi = _ids()
    scan = ShipmentScanned(provider="aftership", source_id=f"scan-{order_id}", occurred_at=NOW, order_id=order_id,
                           tracking_number="1ZEARLY", carrier="ups", status=ShipmentStatus.IN_TRANSIT)
    dispatcher.apply(scan)
    assert repo.get_order(order_id) is None
    dispatcher.apply(_placed(order_id, pi))
    assert repo.require_order(order_id).get("tracking_number") == "1ZEARLY"


@pytest.mark.parametrize("by_payment", [True, False])
def test_an_order_recorded_between_lookup_and_park_still_gets_the_event(local_env: Any, by_payment: bool,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The race: the order's replay of parked events runs before this event is parked."""
    repo = OrdersRepository()
    dispatcher = Dispatcher(repo)
    order_id, pi = _ids()
    real_park = repo.park

    def park_after_the_order_arrived(*args: Any, **kwargs: Any) -> bool:
        Dispatcher(OrdersRepository()).apply(_placed(order_id, pi))  # the order lands (and replays) first
        return real_park(*args, **kwargs)

    monkeypatch.setattr(repo, "park", park_after_the_order_arrived)
    event = _refund(pi, "re_race")
    dispatcher.apply(event if by_payment else event.model_copy(update={"order_id": order_id}))
    assert _applied_refunds(repo, order_id) == {"re_race"}
