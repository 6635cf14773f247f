"""A TikTok Shop order, as Get Order Detail (202309) answers it, as ``OrderPlaced``.

TikTok's webhooks name an order but carry no lines or amounts, so Backout reads
the order (:meth:`backout.adapters.tiktok.TikTokClient.get_order`) and records
it through this pure function. Fields used (partner.tiktokshop.com
get-order-detail-202309): ``id``, ``status``, ``update_time``,
``payment.currency``, ``payment.total_amount`` (decimal string, what the buyer
paid) and ``line_items[]`` ``{id, sku_id, seller_sku, sale_price}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from backout.domain.events import Channel, Gateway, LineItem, OrderPlaced, order_id_for
from backout.ingress.normalize import (
    MalformedPayload,
    as_list,
    as_object,
    currency_code,
    decimal_minor,
    ident,
    opt_ident,
    parse_time,
    text,
    to_utc,
)

SHIPPED = frozenset({"PARTIALLY_SHIPPING", "IN_TRANSIT", "DELIVERED", "COMPLETED"})
"""Statuses with goods in the carrier's hands. AWAITING_COLLECTION is not one ("the package is waiting
to be collected by the carrier"); IN_TRANSIT ("collected by the carrier") and after are, and so is
PARTIALLY_SHIPPING ("some items in the order are shipped"), since part of the order is gone."""


def _sku(item: Mapping[str, Any]) -> str:
    """The seller's SKU, else TikTok's ``sku_id``; ``""`` when the line has neither."""
    return text(item.get("seller_sku")).strip() or (opt_ident(item.get("sku_id")) or "")


def _lines(items: list[Any], currency: str) -> tuple[LineItem, ...]:
    """Line items grouped into one line per (sku, unit price); TikTok sends one line item per unit."""
    grouped: dict[tuple[str, int, str], LineItem] = {}
    for i, raw in enumerate(items):
        item = as_object(raw, f"line_items[{i}]")
        line_id = ident(item.get("id"), f"line_items[{i}].id")
        sku = _sku(item)
        price = item.get("sale_price")
        unit = decimal_minor(price, currency, f"line_items[{i}].sale_price") if price not in (None, "") else 0
        key = (sku, unit, "" if sku else line_id)  # a line without a sku stays alone
        known = grouped.get(key)
        grouped[key] = (known.model_copy(update={"quantity": known.quantity + 1}) if known
                        else LineItem(line_id=line_id, sku=sku, quantity=1, unit_price=unit, custom=not sku))
    return tuple(grouped.values())


def order_placed(order: Mapping[str, Any], fetched_at: datetime) -> OrderPlaced:
    """``data.orders[0]`` of Get Order Detail as ``OrderPlaced`` (channel TIKTOK, gateway PLATFORM).

    Money is in integer minor units: ``total`` is ``payment.total_amount``, a line's ``unit_price`` its
    ``sale_price``. Units of one sku at one price become one line with a quantity (its ``line_id`` is the
    first line item's id). A line item with neither ``seller_sku`` nor ``sku_id`` gets no invented sku:
    it is kept as a line of its own with ``sku=""`` and ``custom=True``, so it is never restocked.
    ``shipped`` follows :data:`SHIPPED`. ``occurred_at`` is ``update_time`` (else ``fetched_at``), so a
    newer read of the order replaces an older one.
    """
    external = ident(order.get("id"), "order.id")
    payment = as_object(order.get("payment"), "order.payment")
    currency = currency_code(payment.get("currency"), "payment.currency")
    lines = _lines(as_list(order.get("line_items"), "order.line_items"), currency)
    if not lines:
        raise MalformedPayload("order.line_items is empty")
    return OrderPlaced(
        provider="tiktok",
        source_id=f"tiktok_order:{external}",
        occurred_at=parse_time(order.get("update_time"), "order.update_time") or to_utc(fetched_at),
        order_id=order_id_for(Channel.TIKTOK, external),
        channel=Channel.TIKTOK,
        external_id=external,
        currency=currency,
        total=decimal_minor(payment.get("total_amount"), currency, "payment.total_amount"),
        gateway=Gateway.PLATFORM,
        lines=lines,
        shipped=text(order.get("status")).upper() in SHIPPED,
    )
