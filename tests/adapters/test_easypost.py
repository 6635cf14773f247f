"""EasyPostClient against FakeEasyPost: a return shipment (is_return=true), bought once, errors and faults.

EasyPost's return guide (https://docs.easypost.com/docs/shipments/returns): "set the is_return parameter to
true, leave the addresses the same as the initial Shipment's creation request and we switch the to_address and
from_address for the return Shipment"; errors are "{code, message, errors}" (https://docs.easypost.com/docs/errors).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from backout.adapters.easypost import EasyPostClient
from backout.errors import PlatformRejected, TransientError
from backout_dev.fakes.easypost import FakeEasyPost

KEY = "EZTK_test"
SELLER = {"name": "Shop", "street1": "417 Montgomery Street", "city": "San Francisco", "state": "CA",
          "zip": "94104", "country": "US"}
BUYER = {"name": "Buyer", "street1": "179 N Harbor Dr", "city": "Redondo Beach", "state": "CA", "zip": "90277",
         "country": "US"}
PARCEL = {"length": 20.2, "width": 10.9, "height": 5, "weight": 65.9}


@pytest.fixture()
def fake() -> Iterator[FakeEasyPost]:
    server = FakeEasyPost(KEY)
    with server:
        yield server


@pytest.fixture()
def easypost(fake: FakeEasyPost) -> EasyPostClient:
    return EasyPostClient(fake.url, KEY, timeout=5)


def test_return_label_swaps_the_original_addresses_and_is_bought_once(easypost: EasyPostClient,
                                                                     fake: FakeEasyPost) -> None:
    shipment_id = easypost.create_return_shipment("backout:return:o1:r1", to_address=BUYER, from_address=SELLER,
                                                  parcel=PARCEL)
    stored = fake.shipments[shipment_id]
    assert stored["is_return"] is True and stored["reference"] == "backout:return:o1:r1"
    assert (stored["to_address"], stored["from_address"]) == (SELLER, BUYER)  # the parcel goes back to the seller
    label = easypost.buy_return_label(shipment_id)
    assert label.shipment_id == shipment_id and label.tracking_code and label.label_url.startswith("https://")
    assert (label.carrier, label.cost, label.currency) == ("USPS", 758, "USD")  # the cheapest rate, minor units
    assert easypost.buy_return_label(shipment_id) == label  # bought already: read, not bought again
    assert len(fake.effects("label_bought")) == 1


def test_lost_answer_of_the_purchase_is_found_not_repeated(easypost: EasyPostClient, fake: FakeEasyPost) -> None:
    shipment_id = easypost.create_return_shipment("r2", BUYER, SELLER, PARCEL)
    fake.drop_next_response(path_contains="/buy")
    with pytest.raises(TransientError):
        easypost.buy_return_label(shipment_id)
    assert easypost.buy_return_label(shipment_id).tracking_code == fake.shipments[shipment_id]["tracking_code"]
    assert len(fake.effects("label_bought")) == 1


def test_errors_and_faults(easypost: EasyPostClient, fake: FakeEasyPost) -> None:
    with pytest.raises(PlatformRejected, match="PARAMETER.REQUIRED"):
        easypost.create_return_shipment("r3", BUYER, SELLER, parcel=None)  # type: ignore[arg-type]
    with pytest.raises(PlatformRejected, match="401"):
        EasyPostClient(fake.url, "wrong", timeout=5).get_shipment("shp_x")
    with pytest.raises(PlatformRejected, match="NOT_FOUND"):
        easypost.buy_return_label("shp_unknown")
    shipment_id = easypost.create_return_shipment("r4", BUYER, SELLER, PARCEL)
    fake.fail_next(1, 503, path_contains="/buy")
    with pytest.raises(TransientError):
        easypost.buy_return_label(shipment_id)
    assert fake.effects("label_bought") == []
    assert easypost.buy_return_label(shipment_id).tracking_code
