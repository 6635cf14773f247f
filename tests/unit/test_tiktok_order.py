"""The TikTok Shop order normaliser (Get Order Detail 202309 -> OrderPlaced): pure, no fakes."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from backout.domain.events import Channel, Gateway, LineItem
from backout.ingress.keys import MalformedPayload
from backout.ingress.normalize.tiktok_order import order_placed

FETCHED = datetime(2025, 3, 14, 10, 0, tzinfo=timezone.utc)


def order(status: str = "AWAITING_SHIPMENT", currency: str = "USD", total: str = "30.99",
          items: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    lines = items if items is not None else [
        {"id": "11", "seller_sku": "MUG-RED", "sku_id": "1729", "sale_price": "12.50"},
        {"id": "12", "seller_sku": "MUG-RED", "sku_id": "1729", "sale_price": "12.50"},
        {"id": "13", "seller_sku": "", "sku_id": "1730", "sale_price": "5.99"},
    ]
    return {"id": "576486316948490001", "status": status, "update_time": 1741947295,
            "payment": {"currency": currency, "total_amount": total}, "line_items": lines, **extra}


def test_order_in_minor_units_grouped_by_sku() -> None:
    placed = order_placed(order(), FETCHED)
    assert (placed.order_id, placed.external_id, placed.channel, placed.gateway) == (
        "tiktok:576486316948490001", "576486316948490001", Channel.TIKTOK, Gateway.PLATFORM)
    assert (placed.currency, placed.total, placed.shipped) == ("USD", 3099, False)
    assert placed.lines == (LineItem(line_id="11", sku="MUG-RED", quantity=2, unit_price=1250),
                            LineItem(line_id="13", sku="1730", quantity=1, unit_price=599))  # no seller_sku: sku_id
    assert placed.occurred_at == datetime.fromtimestamp(1741947295, tz=timezone.utc)
    assert placed.provider == "tiktok" and placed.source_id == "tiktok_order:576486316948490001"


@pytest.mark.parametrize(("currency", "total", "price", "minor", "unit"), [
    ("JPY", "1500", "750", 1500, 750), ("KWD", "12.345", "6.100", 12345, 6100), ("EUR", "35.97", "35.97", 3597, 3597)])
def test_currency_exponents(currency: str, total: str, price: str, minor: int, unit: int) -> None:
    placed = order_placed(order(currency=currency, total=total,
                                items=[{"id": "1", "seller_sku": "S", "sale_price": price}]), FETCHED)
    assert (placed.total, placed.lines[0].unit_price) == (minor, unit)


def test_units_at_different_prices_and_gifts_stay_apart() -> None:
    items = [{"id": "1", "sku_id": "9", "sale_price": "10.00"}, {"id": "2", "sku_id": "9", "sale_price": "8.00"},
             {"id": "3", "sku_id": "9", "sale_price": "10.00"}, {"id": "4", "sku_id": "9", "sale_price": "0", "is_gift": True}]
    lines = order_placed(order(items=items), FETCHED).lines
    assert [(x.line_id, x.sku, x.quantity, x.unit_price) for x in lines] == [
        ("1", "9", 2, 1000), ("2", "9", 1, 800), ("4", "9", 1, 0)]
    assert not any(x.custom for x in lines)


def test_a_line_without_a_sku_is_custom_and_gets_no_invented_sku() -> None:
    items = [{"id": "21", "sale_price": "4.00"}, {"id": "22", "seller_sku": " ", "sku_id": "", "sale_price": "4.00"},
             {"id": "23", "seller_sku": "CUP", "sale_price": "4.00"}]
    lines = order_placed(order(items=items), FETCHED).lines
    assert [(x.line_id, x.sku, x.quantity, x.custom) for x in lines] == [
        ("21", "", 1, True), ("22", "", 1, True), ("23", "CUP", 1, False)]


@pytest.mark.parametrize(("status", "shipped"), [
    ("UNPAID", False), ("ON_HOLD", False), ("AWAITING_SHIPMENT", False), ("AWAITING_COLLECTION", False),
    ("PARTIALLY_SHIPPING", True), ("IN_TRANSIT", True), ("DELIVERED", True), ("COMPLETED", True),
    ("CANCELLED", False)])
def test_shipped_mapping(status: str, shipped: bool) -> None:
    assert order_placed(order(status=status), FETCHED).shipped is shipped


def test_without_update_time_the_read_time_is_used() -> None:
    assert order_placed(order(update_time=None), FETCHED).occurred_at == FETCHED


@pytest.mark.parametrize("broken", [
    {"payment": {"currency": "USD"}}, {"payment": {"currency": "USD", "total_amount": "1.999"}},
    {"payment": {"currency": "dollars", "total_amount": "1"}}, {"line_items": []}, {"line_items": [{"sku_id": "1"}]},
    {"line_items": [{"id": "1", "sku_id": "1", "sale_price": 1.5}]}, {"id": ""}])
def test_malformed_orders_are_refused(broken: dict[str, Any]) -> None:
    with pytest.raises(MalformedPayload):
        order_placed({**order(), **broken}, FETCHED)
