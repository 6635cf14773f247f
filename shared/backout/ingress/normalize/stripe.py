"""Stripe events (``id, type, created, data.object``).

``payment_ref`` is always the PaymentIntent id. The order comes from the
object's metadata: ``backout_order_id`` verbatim (Backout sets it on
refunds it creates), else ``order_id`` as a WooCommerce order id (the
WooCommerce Stripe plugin's convention: ``"1234"`` -> ``"woocommerce:1234"``).
Amounts are already integer minor units.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from backout.domain.events import (
    AuthorizationExpired,
    Channel,
    DisputeClosed,
    DisputeOpened,
    DomainEvent,
    PaymentAuthorized,
    PaymentCaptured,
    PaymentVoided,
    RefundSettled,
    order_id_for,
)
from backout.ingress.normalize import (
    Delivery,
    MalformedPayload,
    as_object,
    currency_code,
    delivery,
    due_time,
    ident,
    int_minor,
    opt_ident,
    parse_time,
    text,
)

REFUND_STATUSES: Mapping[str, str] = {
    "succeeded": "succeeded",
    "failed": "failed",
    "pending": "pending",
    "requires_action": "pending",
    "canceled": "canceled",
}


def order_id_of(*objects: Mapping[str, Any]) -> str | None:
    """The Backout order id from the first object whose metadata names one."""
    for obj in objects:
        meta = obj.get("metadata")
        if not isinstance(meta, dict):
            continue
        explicit = opt_ident(meta.get("backout_order_id"))
        if explicit:
            return explicit
        woo = opt_ident(meta.get("order_id"))
        if woo:
            return order_id_for(Channel.WOOCOMMERCE, woo)
    return None


def _ref(value: object) -> str | None:
    """An id field that may be a string or an expanded object with ``id``."""
    if isinstance(value, dict):
        value = value.get("id")
    return opt_ident(value)


def _capture_before(pi: Mapping[str, Any]) -> datetime | None:
    """Authorization expiry, when ``latest_charge`` is expanded with card details."""
    charge = pi.get("latest_charge")
    if not isinstance(charge, dict):
        return None
    details = charge.get("payment_method_details")
    card = details.get("card") if isinstance(details, dict) else None
    if not isinstance(card, dict):
        return None
    return parse_time(card.get("capture_before"), "capture_before")


def _pi_amount_capturable(d: Delivery, pi: Mapping[str, Any]) -> list[DomainEvent]:
    return [
        PaymentAuthorized(
            **d.common(
                order_id=order_id_of(pi),
                payment_ref=ident(pi.get("id"), "payment_intent id"),
                amount=int_minor(pi.get("amount_capturable"), "amount_capturable"),
                currency=currency_code(pi.get("currency")),
                expires_at=_capture_before(pi),
            )
        )
    ]


def _pi_succeeded(d: Delivery, pi: Mapping[str, Any]) -> list[DomainEvent]:
    return [
        PaymentCaptured(
            **d.common(
                order_id=order_id_of(pi),
                payment_ref=ident(pi.get("id"), "payment_intent id"),
                amount=int_minor(pi.get("amount_received"), "amount_received"),
                currency=currency_code(pi.get("currency")),
                capture_id=_ref(pi.get("latest_charge")),
            )
        )
    ]


#: Cancellation reasons Stripe sets itself when an authorization lapses.
EXPIRY_REASONS = frozenset({"automatic", "expired"})


def _pi_canceled(d: Delivery, pi: Mapping[str, Any]) -> list[DomainEvent]:
    """``automatic`` and ``expired`` are how Stripe reports a lapsed authorization (the stripe SDK's
    ``PaymentIntent.cancellation_reason`` literal lists both, beside the seller's own reasons)."""
    kind = AuthorizationExpired if pi.get("cancellation_reason") in EXPIRY_REASONS else PaymentVoided
    ref = ident(pi.get("id"), "payment_intent id")
    return [kind(**d.common(order_id=order_id_of(pi), payment_ref=ref))]


def _charge_captured(d: Delivery, ch: Mapping[str, Any]) -> list[DomainEvent]:
    return [
        PaymentCaptured(
            **d.common(
                order_id=order_id_of(ch),
                payment_ref=_ref(ch.get("payment_intent")),
                amount=int_minor(ch.get("amount_captured"), "amount_captured"),
                currency=currency_code(ch.get("currency")),
                capture_id=ident(ch.get("id"), "charge id"),
            )
        )
    ]


def _charge_expired(d: Delivery, ch: Mapping[str, Any]) -> list[DomainEvent]:
    ident(ch.get("id"), "charge id")
    return [
        AuthorizationExpired(
            **d.common(order_id=order_id_of(ch), payment_ref=_ref(ch.get("payment_intent")))
        )
    ]


def _refund(d: Delivery, refund: Mapping[str, Any], *parents: Mapping[str, Any]) -> RefundSettled:
    """One RefundSettled from a Refund object (``parents``: the charge, if any)."""
    status = ident(refund.get("status"), "refund status")
    if status not in REFUND_STATUSES:
        raise MalformedPayload(f"unknown refund status {status!r}")
    payment_ref = _ref(refund.get("payment_intent"))
    for parent in parents:
        payment_ref = payment_ref or _ref(parent.get("payment_intent"))
    return RefundSettled(
        **d.common(
            order_id=order_id_of(refund, *parents),
            payment_ref=payment_ref,
            refund_id=ident(refund.get("id"), "refund id"),
            status=REFUND_STATUSES[status],
            amount=int_minor(refund.get("amount"), "refund amount"),
            currency=currency_code(refund.get("currency")),
            failure_reason=opt_ident(refund.get("failure_reason")),
        )
    )


def _refund_event(d: Delivery, refund: Mapping[str, Any]) -> list[DomainEvent]:
    return [_refund(d, refund)]


def _charge_refunded(d: Delivery, ch: Mapping[str, Any]) -> list[DomainEvent]:
    """One RefundSettled per refund listed on the charge (newer API versions list none)."""
    refunds = ch.get("refunds")
    data = refunds.get("data") if isinstance(refunds, dict) else None
    if not data:
        return [d.ignored("charge.refunded")]
    return [_refund(d, as_object(r, "charge.refunds.data[]"), ch) for r in data]


def _dispute_created(d: Delivery, dp: Mapping[str, Any]) -> list[DomainEvent]:
    return [
        DisputeOpened(
            **d.common(
                order_id=order_id_of(dp),
                payment_ref=_ref(dp.get("payment_intent")),
                dispute_id=ident(dp.get("id"), "dispute id"),
                amount=int_minor(dp.get("amount"), "dispute amount"),
                currency=currency_code(dp.get("currency")),
                reason=text(dp.get("reason")),
                evidence_due_by=due_time((dp.get("evidence_details") or {}).get("due_by")),
            )
        )
    ]


def _dispute_closed(d: Delivery, dp: Mapping[str, Any]) -> list[DomainEvent]:
    return [
        DisputeClosed(
            **d.common(
                order_id=order_id_of(dp),
                payment_ref=_ref(dp.get("payment_intent")),
                dispute_id=ident(dp.get("id"), "dispute id"),
                outcome=text(dp.get("status")),
                amount=int_minor(dp.get("amount"), "dispute amount") if dp.get("amount") is not None else 0,
                currency=currency_code(dp.get("currency")) if dp.get("currency") else None,
            )
        )
    ]


HANDLERS: Mapping[str, Callable[[Delivery, Mapping[str, Any]], list[DomainEvent]]] = {
    "payment_intent.amount_capturable_updated": _pi_amount_capturable,
    "payment_intent.succeeded": _pi_succeeded,
    "payment_intent.canceled": _pi_canceled,
    "charge.captured": _charge_captured,
    "charge.expired": _charge_expired,
    "refund.created": _refund_event,
    "refund.updated": _refund_event,
    "refund.failed": _refund_event,
    "charge.refund.updated": _refund_event,  # older API versions
    "charge.refunded": _charge_refunded,
    "charge.dispute.created": _dispute_created,
    "charge.dispute.closed": _dispute_closed,
}


def normalize(
    body: Any, headers: Mapping[str, str], received_at: datetime
) -> list[DomainEvent]:
    """Normalise one Stripe event (see the module docstring)."""
    event = as_object(body, "stripe event")
    d = delivery("stripe", event, headers, received_at, event.get("created"))
    topic = ident(event.get("type"), "stripe event type")
    handler = HANDLERS.get(topic)
    if handler is None:
        return [d.ignored(topic)]
    obj = as_object(as_object(event.get("data"), "data").get("object"), "data.object")
    return handler(d, obj)
