"""WooCommerce order webhooks (``order.created`` / ``order.updated``).

The body is a WooCommerce REST order. WooCommerce has no cancellation
workflow of its own: Backout relies on the customer "cancel request"
status that cancel-request plugins add (``cancel-request``), and on order
meta it writes itself:

- ``_backout_custom`` on a line item (``yes``/``1``/``true``): custom goods;
- ``_cancel_reason`` on the order: the customer's reason;
- ``_backout_cancel_withdrawn = yes`` with status ``processing``: the
  customer withdrew the request.

The creation ping (form body ``webhook_id=<n>``) never reaches this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from backout.domain.events import (
    CancelRequested,
    CancelWithdrawn,
    Channel,
    DomainEvent,
    Gateway,
    Initiator,
    LineItem,
    OrderPlaced,
    order_id_for,
)
from backout.ingress.normalize import (
    Delivery,
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

TOPICS = ("order.created", "order.updated")
OPEN_STATUSES = frozenset({"pending", "on-hold", "processing"})
SHIPPED_STATUSES = frozenset({"completed"})
CANCEL_REQUEST_STATUS = "cancel-request"
CLOSED_STATUSES = frozenset({"cancelled", "refunded", "failed"})
ACTED_STATUSES = OPEN_STATUSES | SHIPPED_STATUSES | {CANCEL_REQUEST_STATUS}
"""Statuses that give events; closed and unknown statuses give ``Ignored``."""
TRUE_VALUES = ("yes", "1", "true")


def gateway_for(payment_method: str) -> Gateway | None:
    """Map a WooCommerce payment method id to the gateway holding the money."""
    method = payment_method.strip().lower()
    if method == "stripe" or method.startswith("stripe_"):
        return Gateway.STRIPE
    if method in ("paypal", "ppcp-gateway", "ppec_paypal") or method.startswith("ppcp-"):
        return Gateway.PAYPAL
    return None


def _meta(items: object) -> dict[str, Any]:
    """Flatten a WooCommerce ``meta_data`` list into ``{key: value}``."""
    result: dict[str, Any] = {}
    if isinstance(items, list):
        for item in items:
            if isinstance(item, dict) and isinstance(item.get("key"), str):
                result[item["key"]] = item.get("value")
    return result


def _truthy(value: object) -> bool:
    """WooCommerce meta flags: ``yes``/``1``/``true`` (any case) or ``True``/``1``."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value == 1
    return isinstance(value, str) and value.strip().lower() in TRUE_VALUES


def _lines(raw: object, currency: str) -> tuple[LineItem, ...]:
    """Line items with unit price = line total minor // quantity."""
    lines = []
    for i, item in enumerate(as_list(raw, "line_items")):
        item = as_object(item, f"line_items[{i}]")
        quantity = positive_int(item.get("quantity"), f"line_items[{i}].quantity")
        total = decimal_minor(item.get("total"), currency, f"line_items[{i}].total")
        lines.append(
            LineItem(
                line_id=ident(item.get("id"), f"line_items[{i}].id"),
                sku=text(item.get("sku")),
                quantity=quantity,
                unit_price=total // quantity,
                custom=_truthy(_meta(item.get("meta_data")).get("_backout_custom")),
            )
        )
    return tuple(lines)


def _payment_ref(order: Mapping[str, Any], meta: Mapping[str, Any], gw: Gateway) -> str | None:
    """The gateway payment id: Stripe's PaymentIntent (``_stripe_intent_id``) first.

    The WooCommerce Stripe plugin may store the charge id (``ch_...``) as
    transaction id and the PaymentIntent id in ``_stripe_intent_id`` meta;
    Backout keys Stripe payments by PaymentIntent.
    """
    if gw is Gateway.STRIPE:
        intent = opt_ident(meta.get("_stripe_intent_id"))
        if intent:
            return intent
    return opt_ident(order.get("transaction_id"))


def _placed(d: Delivery, order: Mapping[str, Any], gw: Gateway, shipped: bool) -> OrderPlaced:
    """The OrderPlaced event of a WooCommerce order."""
    external = ident(order.get("id"), "order id")
    currency = currency_code(order.get("currency"), "order currency")
    meta = _meta(order.get("meta_data"))
    return OrderPlaced(
        **d.common(
            order_id=order_id_for(Channel.WOOCOMMERCE, external),
            payment_ref=_payment_ref(order, meta, gw),
            channel=Channel.WOOCOMMERCE,
            external_id=external,
            currency=currency,
            total=decimal_minor(order.get("total"), currency, "order total"),
            gateway=gw,
            lines=_lines(order.get("line_items"), currency),
            shipped=shipped,
        )
    )


def normalize(
    body: Any, headers: Mapping[str, str], received_at: datetime
) -> list[DomainEvent]:
    """Normalise a WooCommerce order webhook (see the module docstring)."""
    topic = ident(headers.get("x-wc-webhook-topic"), "x-wc-webhook-topic header")
    order = as_object(body, "woocommerce order")
    modified = ident(order.get("date_modified_gmt"), "date_modified_gmt")
    d = delivery("woocommerce", order, headers, received_at, modified)
    if topic not in TOPICS:
        return [d.ignored(topic)]
    status = ident(order.get("status"), "order status").lower().removeprefix("wc-")
    if status in CLOSED_STATUSES or status not in ACTED_STATUSES:
        return [d.ignored(f"{topic}:{status}")]
    method = text(order.get("payment_method"))
    gw = gateway_for(method)
    if gw is None:
        # No gateway Backout can refund through (cod, bacs, ...): not ours.
        return [d.ignored(f"{topic}:payment_method:{method or 'none'}")]
    placed = _placed(d, order, gw, shipped=status in SHIPPED_STATUSES)
    events: list[DomainEvent] = [placed]
    meta = _meta(order.get("meta_data"))
    common = {"order_id": placed.order_id, "payment_ref": placed.payment_ref}
    if status == CANCEL_REQUEST_STATUS:
        events.append(
            CancelRequested(
                **d.common(
                    **common,
                    request_id=f"{placed.order_id}#{modified}",
                    initiator=Initiator.BUYER,
                    reason=text(meta.get("_cancel_reason")),
                )
            )
        )
    elif status == "processing" and _truthy(meta.get("_backout_cancel_withdrawn")):
        events.append(CancelWithdrawn(**d.common(**common)))
    return events
