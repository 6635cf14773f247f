"""Ozon Seller API pushes (rFBS) and Backout's polled cancellation requests.

Ozon pushes carry ``message_type``, ``posting_number`` and no money. The
order id is ``"ozon:<posting_number>"``.

``TYPE_NEW_POSTING`` (``posting_number, products[{sku, quantity}],
in_process_at, warehouse_id, seller_id``) becomes ``OrderPlaced`` so an Ozon
order is known before its cancellation arrives. Ozon holds the money
(``Gateway.PLATFORM``): the total is recorded only when the push carries
prices (``products[].price`` as a decimal string and ``currency_code``, as
the posting API returns them), else 0 in ``DEFAULT_CURRENCY``. A line's
``sku`` is the seller's ``offer_id`` when given, else Ozon's SKU.

Ozon does not push cancellation *requests*. Backout's poller reads them
from ``POST /v2/conditional-cancellation/list`` and feeds each item in with
Backout's own message type ``TYPE_CANCELLATION_REQUESTED`` (not an Ozon
type), i.e. the list item plus ``"message_type": "TYPE_CANCELLATION_REQUESTED"``:
``cancellation_id, posting_number, cancellation_initiator, auto_approve_date,
cancellation_reason{id, name}, cancellation_reason_message, cancelled_at``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from backout.domain.events import (
    CancelRequested,
    Channel,
    DomainEvent,
    Gateway,
    LineItem,
    OrderPlaced,
    Initiator,
    PlatformCancellationDecided,
    ShipmentScanned,
    ShipmentStatus,
    order_id_for,
)
from backout.ingress.keys import OZON_POLLED_TYPE
from backout.ingress.normalize import (
    Delivery,
    MalformedPayload,
    as_list,
    as_object,
    currency_code,
    decimal_minor,
    delivery,
    ident,
    parse_time,
    positive_int,
    text,
)

DEFAULT_CURRENCY = "RUB"
"""Ozon settles in roubles; used when a push names no currency (it then carries no money either)."""


STATES: Mapping[str, ShipmentStatus | None] = {
    # posting statuses
    "awaiting_deliver": ShipmentStatus.LABEL_CREATED,
    "sent_by_seller": ShipmentStatus.IN_TRANSIT,
    "driver_pickup": ShipmentStatus.IN_TRANSIT,
    "delivering": ShipmentStatus.IN_TRANSIT,
    "delivered": ShipmentStatus.DELIVERED,
    "cancelled": None,
    # posting substatuses, which pushes may carry as new_state
    "posting_transferring_to_delivery": ShipmentStatus.LABEL_CREATED,
    "posting_sent_by_seller": ShipmentStatus.IN_TRANSIT,
    "posting_driver_pick_up": ShipmentStatus.IN_TRANSIT,
    "posting_in_carriage": ShipmentStatus.IN_TRANSIT,
    "posting_transferred_to_courier_service": ShipmentStatus.IN_TRANSIT,
    "posting_in_courier_service": ShipmentStatus.IN_TRANSIT,
    "posting_on_way_to_city": ShipmentStatus.IN_TRANSIT,
    "posting_on_way_to_pickup_point": ShipmentStatus.IN_TRANSIT,
    "posting_in_pickup_point": ShipmentStatus.AVAILABLE_FOR_PICKUP,
    "posting_delivered": ShipmentStatus.DELIVERED,
    "posting_received": ShipmentStatus.DELIVERED,
    "posting_canceled": None,
    "posting_cancelled": None,
}
"""``new_state`` -> scan status; ``None`` means Ignored; unlisted -> UNKNOWN."""

INITIATORS: Mapping[str, Initiator] = {
    "CLIENT": Initiator.BUYER,
    "BUYER": Initiator.BUYER,
    "SELLER": Initiator.SELLER,
    "OZON": Initiator.PLATFORM,
    "SYSTEM": Initiator.SYSTEM,
    "DELIVERY": Initiator.PLATFORM,
}


def _order_id(body: Mapping[str, Any]) -> str:
    return order_id_for(Channel.OZON, ident(body.get("posting_number"), "posting_number"))


def _line(i: int, item: object, currency: str) -> LineItem:
    product = as_object(item, f"products[{i}]")
    sku = ident(product.get("sku"), f"products[{i}].sku")
    price = product.get("price")
    return LineItem(
        line_id=sku,
        sku=text(product.get("offer_id")) or sku,
        quantity=positive_int(product.get("quantity"), f"products[{i}].quantity"),
        unit_price=decimal_minor(price, currency, f"products[{i}].price") if price is not None else 0,
    )


def _new_posting(d: Delivery, body: Mapping[str, Any]) -> list[DomainEvent]:
    posting = ident(body.get("posting_number"), "posting_number")
    currency = currency_code(body.get("currency_code") or DEFAULT_CURRENCY, "currency_code")
    lines = tuple(_line(i, item, currency) for i, item in enumerate(as_list(body.get("products"), "products")))
    if not lines:
        raise MalformedPayload("products is empty")
    return [
        OrderPlaced(
            **d.at(body.get("in_process_at"), "in_process_at").common(
                order_id=order_id_for(Channel.OZON, posting),
                channel=Channel.OZON,
                external_id=posting,
                currency=currency,
                total=sum(line.unit_price * line.quantity for line in lines),
                gateway=Gateway.PLATFORM,
                lines=lines,
            )
        )
    ]


def _posting_cancelled(d: Delivery, body: Mapping[str, Any]) -> list[DomainEvent]:
    return [PlatformCancellationDecided(**d.common(order_id=_order_id(body), decision="approved"))]


def _state_changed(d: Delivery, body: Mapping[str, Any]) -> list[DomainEvent]:
    raw = ident(body.get("new_state"), "new_state")
    order_id = _order_id(body)
    status = STATES.get(raw.lower(), ShipmentStatus.UNKNOWN)
    if status is None:
        return [d.ignored(f"TYPE_STATE_CHANGED:{raw}")]
    return [ShipmentScanned(**d.common(order_id=order_id, status=status, raw_status=raw))]


def _reason(body: Mapping[str, Any]) -> str:
    reason = body.get("cancellation_reason")
    name = text(reason.get("name")) if isinstance(reason, dict) else ""
    return text(body.get("cancellation_reason_message")) or name


def _cancellation_requested(d: Delivery, body: Mapping[str, Any]) -> list[DomainEvent]:
    cancellation_id = ident(body.get("cancellation_id"), "cancellation_id")
    raw = body.get("cancellation_initiator")
    if isinstance(raw, dict):  # some API versions wrap enums
        raw = raw.get("id") or raw.get("name")
    initiator = INITIATORS.get(text(raw).upper())
    if initiator is None:
        raise MalformedPayload(f"unknown cancellation_initiator {raw!r}")
    return [
        CancelRequested(
            **d.common(
                order_id=_order_id(body),
                request_id=f"ozon:{cancellation_id}",
                initiator=initiator,
                reason=_reason(body),
                platform_cancellation_id=cancellation_id,
                auto_approve_at=parse_time(body.get("auto_approve_date"), "auto_approve_date"),
            )
        )
    ]


def normalize(
    body: Any, headers: Mapping[str, str], received_at: datetime
) -> list[DomainEvent]:
    """Normalise one Ozon push or polled cancellation request (module docstring)."""
    obj = as_object(body, "ozon body")
    topic = ident(obj.get("message_type"), "message_type")
    stamp = obj.get("changed_state_date") or obj.get("cancelled_at") or obj.get("time")
    d = delivery("ozon", obj, headers, received_at, stamp)
    if topic == "TYPE_NEW_POSTING":
        return _new_posting(d, obj)
    if topic == "TYPE_POSTING_CANCELLED":
        return _posting_cancelled(d, obj)
    if topic == "TYPE_STATE_CHANGED":
        return _state_changed(d, obj)
    if topic == OZON_POLLED_TYPE:
        return _cancellation_requested(d, obj)
    return [d.ignored(topic)]  # TYPE_PING (answered by the receiver), date changes, chats, ...
