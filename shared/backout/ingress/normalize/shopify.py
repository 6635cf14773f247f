"""Shopify webhooks (topic in ``X-Shopify-Topic``, REST-shaped JSON bodies).

Shopify settles money itself (Shopify Payments), so orders use
``Gateway.PLATFORM``. Money arrives as decimal strings in the shop currency.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from backout.domain.events import (
    Channel,
    DomainEvent,
    Gateway,
    LineItem,
    OrderPlaced,
    PlatformCancellationDecided,
    RefundSettled,
    ShipmentScanned,
    ShipmentStatus,
    order_id_for,
)
from backout.ingress.normalize import (
    Delivery,
    MalformedPayload,
    as_list,
    as_object,
    currency_code,
    decimal_minor,
    delivery,
    ident,
    opt_ident,
    positive_int,
    text,
)

FULFILLMENT_EVENT_STATUSES: Mapping[str, ShipmentStatus] = {
    "label_printed": ShipmentStatus.LABEL_CREATED,
    "label_purchased": ShipmentStatus.LABEL_CREATED,
    "carrier_picked_up": ShipmentStatus.PICKED_UP,
    # "PICKED_UP: The fulfillment was successfully picked up" (after READY_FOR_PICKUP: the buyer collected it),
    # https://shopify.dev/docs/api/admin-graphql/unstable/enums/FulfillmentEventStatus
    "picked_up": ShipmentStatus.DELIVERED,
    "confirmed": ShipmentStatus.IN_TRANSIT,
    "in_transit": ShipmentStatus.IN_TRANSIT,
    "out_for_delivery": ShipmentStatus.OUT_FOR_DELIVERY,
    "attempted_delivery": ShipmentStatus.FAILED_ATTEMPT,
    "delayed": ShipmentStatus.IN_TRANSIT,
    "delivered": ShipmentStatus.DELIVERED,
    "failure": ShipmentStatus.EXCEPTION,
    "ready_for_pickup": ShipmentStatus.AVAILABLE_FOR_PICKUP,
}
"""Fulfillment event status (matched case-insensitively) -> scan status."""

TRANSACTION_STATUSES: Mapping[str, str] = {
    "success": "succeeded",
    "failure": "failed",
    "error": "failed",
    "pending": "pending",
}


def _order_id(value: object, what: str = "order id") -> str:
    return order_id_for(Channel.SHOPIFY, ident(value, what))


def _custom(properties: object) -> bool:
    """A line is custom when its properties carry ``_backout_custom`` = yes/true/1."""
    for prop in properties if isinstance(properties, list) else ():
        if isinstance(prop, dict) and prop.get("name") == "_backout_custom":
            return str(prop.get("value")).strip().lower() in ("yes", "true", "1")
    return False


def _order(d: Delivery, o: Mapping[str, Any]) -> list[DomainEvent]:
    external = ident(o.get("id"), "order id")
    currency = currency_code(o.get("currency"), "order currency")
    lines = []
    for i, item in enumerate(as_list(o.get("line_items"), "line_items")):
        item = as_object(item, f"line_items[{i}]")
        lines.append(
            LineItem(
                line_id=ident(item.get("id"), f"line_items[{i}].id"),
                sku=text(item.get("sku")),
                quantity=positive_int(item.get("quantity"), f"line_items[{i}].quantity"),
                unit_price=decimal_minor(item.get("price"), currency, f"line_items[{i}].price"),
                custom=_custom(item.get("properties")),
            )
        )
    return [
        OrderPlaced(
            **d.at(o.get("updated_at") or o.get("created_at")).common(
                order_id=order_id_for(Channel.SHOPIFY, external),
                channel=Channel.SHOPIFY,
                external_id=external,
                currency=currency,
                total=decimal_minor(o.get("total_price"), currency, "total_price"),
                gateway=Gateway.PLATFORM,
                lines=tuple(lines),
                shipped=o.get("fulfillment_status") == "fulfilled",
            )
        )
    ]


def _order_cancelled(d: Delivery, o: Mapping[str, Any]) -> list[DomainEvent]:
    order_id = _order_id(o.get("id"))
    return [
        PlatformCancellationDecided(
            **d.at(o.get("cancelled_at")).common(order_id=order_id, decision="approved")
        )
    ]


def _refund(d: Delivery, r: Mapping[str, Any]) -> list[DomainEvent]:
    """One RefundSettled per ``kind == "refund"`` transaction of the refund."""
    order_id = _order_id(r.get("order_id"), "refund order_id")
    d = d.at(r.get("processed_at") or r.get("created_at"))
    events: list[DomainEvent] = []
    for i, tx in enumerate(as_list(r.get("transactions") or [], "transactions")):
        tx = as_object(tx, f"transactions[{i}]")
        if tx.get("kind") != "refund":
            continue
        raw = text(tx.get("status")).lower()
        if raw not in TRANSACTION_STATUSES:
            raise MalformedPayload(f"transactions[{i}].status unknown: {raw!r}")
        status = TRANSACTION_STATUSES[raw]
        reason = (text(tx.get("message")) or None) if status == "failed" else None
        currency = currency_code(tx.get("currency"), f"transactions[{i}].currency")
        events.append(
            RefundSettled(
                **d.common(
                    order_id=order_id,
                    refund_id=ident(tx.get("id"), f"transactions[{i}].id"),
                    status=status,
                    amount=decimal_minor(tx.get("amount"), currency, f"transactions[{i}].amount"),
                    currency=currency,
                    failure_reason=reason,
                )
            )
        )
    return events or [d.ignored("refunds/create:no-refund-transactions")]


def _fulfillment_event(d: Delivery, e: Mapping[str, Any]) -> list[DomainEvent]:
    raw = ident(e.get("status"), "fulfillment event status")
    return [
        ShipmentScanned(
            **d.at(e.get("happened_at") or e.get("created_at")).common(
                order_id=_order_id(e.get("order_id"), "fulfillment event order_id"),
                tracking_number=opt_ident(e.get("tracking_number")),
                status=FULFILLMENT_EVENT_STATUSES.get(raw.lower(), ShipmentStatus.UNKNOWN),
                raw_status=raw,
            )
        )
    ]


def _fulfillment_order_decision(decision: str) -> Callable[[Delivery, Mapping[str, Any]], list]:
    """Handler for a fulfillment service's answer to a cancellation request.

    The payload names only the fulfillment order (a GID), not the order, so
    ``order_id`` is None and ``platform_cancellation_id`` is that GID.
    """

    def handler(d: Delivery, body: Mapping[str, Any]) -> list[DomainEvent]:
        fo = as_object(body.get("fulfillment_order"), "fulfillment_order")
        return [
            PlatformCancellationDecided(
                **d.common(
                    decision=decision,
                    platform_cancellation_id=ident(fo.get("id"), "fulfillment_order.id"),
                )
            )
        ]

    return handler


HANDLERS: Mapping[str, Callable[[Delivery, Mapping[str, Any]], list[DomainEvent]]] = {
    "orders/create": _order,
    "orders/updated": _order,
    "orders/cancelled": _order_cancelled,
    "refunds/create": _refund,
    "fulfillment_events/create": _fulfillment_event,
    "fulfillment_orders/cancellation_request_accepted": _fulfillment_order_decision("approved"),
    "fulfillment_orders/cancellation_request_rejected": _fulfillment_order_decision("rejected"),
}


def normalize(
    body: Any, headers: Mapping[str, str], received_at: datetime
) -> list[DomainEvent]:
    """Normalise one Shopify webhook (see the module docstring)."""
    topic = ident(headers.get("x-shopify-topic"), "x-shopify-topic header")
    obj = as_object(body, "shopify body")
    d = delivery("shopify", obj, headers, received_at, headers.get("x-shopify-triggered-at"))
    handler = HANDLERS.get(topic)
    if handler is None:
        return [d.ignored(topic)]
    return handler(d, obj)
