"""TikTokClient.get_order and intake.learn_order against FakeTikTok's Get Order Detail."""

from __future__ import annotations

import pytest

from backout import intake
from backout.adapters.tiktok import TikTokClient
from backout.errors import PlatformRejected, TransientError
from backout_dev.fakes import FakeTikTok

ITEMS = [{"sku_id": "1729", "seller_sku": "MUG-RED", "sale_price": "12.50"},
         {"sku_id": "1729", "seller_sku": "MUG-RED", "sale_price": "12.50"}]


def test_get_order_reads_the_seeded_order(tiktok: TikTokClient, tiktok_fake: FakeTikTok) -> None:
    tiktok_fake.add_order("576000000000000101", "USD", "25.00", ITEMS, status="ON_HOLD")
    found = tiktok.get_order("576000000000000101")
    assert (found["id"], found["status"], found["payment"]) == (
        "576000000000000101", "ON_HOLD", {"currency": "USD", "total_amount": "25.00"})
    assert [i["seller_sku"] for i in found["line_items"]] == ["MUG-RED", "MUG-RED"]
    assert len({i["id"] for i in found["line_items"]}) == 2
    assert ("GET", "/order/202309/orders") in tiktok_fake.requests and tiktok_fake.ledger == []  # a read, no effect


def test_unknown_order_and_refusals(tiktok: TikTokClient, tiktok_fake: FakeTikTok) -> None:
    with pytest.raises(PlatformRejected, match="21011001"):
        tiktok.get_order("576000000000000199")
    wrong_token = TikTokClient(tiktok_fake.url, "app-key", "app-secret", "wrong-token", "ROW_cipher", timeout=5)
    with pytest.raises(PlatformRejected, match="105002"):
        wrong_token.get_order("576000000000000199")


@pytest.mark.parametrize("status", [429, 503])
def test_faults_are_transient(tiktok: TikTokClient, tiktok_fake: FakeTikTok, status: int) -> None:
    tiktok_fake.add_order("576000000000000102", "USD", "25.00", ITEMS)
    tiktok_fake.fail_next(1, status, path_contains="/order/")
    with pytest.raises(TransientError):
        tiktok.get_order("576000000000000102")
    assert tiktok.get_order("576000000000000102")["id"] == "576000000000000102"


@pytest.fixture()
def learned(tiktok: TikTokClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """learn_order's TikTok client is the adapter pointed at the fake."""
    monkeypatch.setattr("backout.saga.providers._tiktok", lambda: tiktok)


@pytest.mark.usefixtures("learned")
def test_learn_order(tiktok_fake: FakeTikTok) -> None:
    tiktok_fake.add_order("576000000000000103", "USD", "27.99", [*ITEMS, {"sale_price": "2.99"}])
    placed = intake.learn_order("tiktok:576000000000000103")
    assert placed is not None and (placed.order_id, placed.total) == ("tiktok:576000000000000103", 2799)
    assert [(x.sku, x.quantity, x.custom) for x in placed.lines] == [("MUG-RED", 2, False), ("", 1, True)]
    assert intake.learn_order("tiktok:576000000000000198") is None  # TikTok does not know it: stays parked
    assert intake.learn_order("ozon:12345-0001-1") is None and intake.learn_order("tiktok:") is None
    tiktok_fake.fail_next(1, 500, path_contains="/order/")
    with pytest.raises(TransientError):
        intake.learn_order("tiktok:576000000000000103")
