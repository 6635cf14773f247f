"""CarrierClient against FakeCarrier: intercepts, outcomes, return labels, idempotency and faults."""

from __future__ import annotations

import pytest

from backout.adapters.carrier import CarrierClient
from backout.errors import PlatformRejected, TransientError
from backout_dev.fakes import FakeCarrier


def test_intercept_succeeds(carrier: CarrierClient, carrier_fake: FakeCarrier) -> None:
    carrier_fake.add_shipment("1Z001")
    intercept = carrier.request_intercept("1Z001", "ik-1")
    assert (intercept.status, intercept.cost, intercept.currency) == ("requested", 1500, "USD")
    assert not intercept.decided
    later = carrier.get_intercept(intercept.intercept_id)
    assert later.status == "returned_to_sender" and later.succeeded
    assert carrier_fake.effects("intercept") == [{"op": "intercept", "intercept_id": intercept.intercept_id,
                                                  "tracking_number": "1Z001", "cost": "15.00", "currency": "USD"}]


def test_intercept_fails_into_delivery(carrier: CarrierClient, carrier_fake: FakeCarrier) -> None:
    carrier_fake.add_shipment("1Z002", outcome="fail")
    carrier_fake.resolve_after_polls = 2
    intercept = carrier.request_intercept("1Z002", "ik-2")
    assert carrier.get_intercept(intercept.intercept_id).status == "requested"
    final = carrier.get_intercept(intercept.intercept_id)
    assert final.status == "delivered" and final.decided and not final.succeeded


def test_intercept_is_idempotent(carrier: CarrierClient, carrier_fake: FakeCarrier) -> None:
    carrier_fake.add_shipment("1Z003")
    first = carrier.request_intercept("1Z003", "ik-3")
    assert carrier.request_intercept("1Z003", "ik-3") == first  # replayed answer
    assert carrier.request_intercept("1Z003", "ik-new").intercept_id == first.intercept_id  # existing one found
    assert len(carrier_fake.effects("intercept")) == 1


def test_lost_answer_then_retry_is_one_intercept(carrier: CarrierClient, carrier_fake: FakeCarrier) -> None:
    carrier_fake.add_shipment("1Z004")
    carrier_fake.drop_next_response(method="POST", path_contains="/v1/intercepts")
    with pytest.raises(TransientError):
        carrier.request_intercept("1Z004", "ik-4")
    assert carrier.request_intercept("1Z004", "ik-4").status == "requested"
    assert len(carrier_fake.effects("intercept")) == 1


def test_delivered_or_unknown_parcels_are_refused(carrier: CarrierClient, carrier_fake: FakeCarrier) -> None:
    carrier_fake.add_shipment("1Z005", status="delivered")
    with pytest.raises(PlatformRejected, match="ALREADY_DELIVERED"):
        carrier.request_intercept("1Z005", "ik-5")
    with pytest.raises(PlatformRejected, match="TRACKING_NOT_FOUND"):
        carrier.request_intercept("NOPE", "ik-6")
    with pytest.raises(PlatformRejected, match="INTERCEPT_NOT_FOUND"):
        carrier.get_intercept("INT-nope")
    assert carrier_fake.effects("intercept") == []


def test_zero_decimal_cost(carrier_fake: FakeCarrier, carrier: CarrierClient) -> None:
    carrier_fake.intercept_cost = ("2300", "JPY")
    carrier_fake.add_shipment("JP001")
    intercept = carrier.request_intercept("JP001", "ik-jp")
    assert (intercept.cost, intercept.currency) == (2300, "JPY")


def test_return_label_once(carrier: CarrierClient, carrier_fake: FakeCarrier) -> None:
    label = carrier.create_return_label("woocommerce:1001", "lk-1")
    assert label.order_id == "woocommerce:1001" and label.url.endswith(".pdf") and label.tracking_number
    assert carrier.create_return_label("woocommerce:1001", "lk-1") == label
    with pytest.raises(PlatformRejected, match="IDEMPOTENCY_KEY_REUSED"):
        carrier.create_return_label("woocommerce:9999", "lk-1")
    carrier_fake.drop_next_response(path_contains="/return-labels")
    with pytest.raises(TransientError):
        carrier.create_return_label("woocommerce:1002", "lk-2")
    assert carrier.create_return_label("woocommerce:1002", "lk-2").order_id == "woocommerce:1002"
    assert [e["order_id"] for e in carrier_fake.effects("label")] == ["woocommerce:1001", "woocommerce:1002"]


@pytest.mark.parametrize("status", [429, 503])
def test_faults_are_transient(carrier: CarrierClient, carrier_fake: FakeCarrier, status: int) -> None:
    carrier_fake.add_shipment("1Z007")
    carrier_fake.fail_next(1, status)
    with pytest.raises(TransientError):
        carrier.request_intercept("1Z007", "ik-7")
    assert carrier_fake.effects("intercept") == []
    assert carrier.request_intercept("1Z007", "ik-7").status == "requested"


def test_bad_api_key(carrier_fake: FakeCarrier) -> None:
    with pytest.raises(PlatformRejected, match="401"):
        CarrierClient(carrier_fake.url, "wrong", timeout=5).create_return_label("o", "k")
