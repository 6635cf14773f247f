"""PayPal webhooks (``id, event_type, create_time, resource``).

``payment_ref`` is the authorization id for authorized payments (the id
Backout voids or captures against) and the capture id for payments
captured at once. The order comes from ``resource.custom_id``: a Backout
order id ``"<channel>:<id>"`` verbatim, else a WooCommerce order id (what
the WooCommerce PayPal Payments plugin stores there).
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
    backout_order_id,
    currency_code,
    decimal_minor,
    delivery,
    due_time,
    ident,
    opt_ident,
    parse_time,
    text,
)

REFUND_STATUSES: Mapping[str, str] = {
    "COMPLETED": "succeeded",
    "PENDING": "pending",
    "FAILED": "failed",
    "CANCELLED": "canceled",
}


def order_id_of(custom_id: object) -> str | None:
    """``custom_id`` as a Backout order id (bare ids are WooCommerce orders)."""
    value = opt_ident(custom_id)
    if value is None:
        return None
    return backout_order_id(value) or order_id_for(Channel.WOOCOMMERCE, value)


def _money(amount: object, what: str) -> tuple[int, str]:
    """``{currency_code, value}`` -> (minor units, currency)."""
    obj = as_object(amount, what)
    currency = currency_code(obj.get("currency_code"), f"{what}.currency_code")
    return decimal_minor(obj.get("value"), currency, f"{what}.value"), currency


def _link_id(resource: Mapping[str, Any], rel: str, collection: str) -> str | None:
    """The id at the end of link ``rel`` if it points into ``/<collection>/``.

    A refund's ``up`` link is ``.../v2/payments/captures/<capture id>``.
    """
    links = resource.get("links")
    for link in links if isinstance(links, list) else ():
        href = link.get("href") if isinstance(link, dict) else None
        if isinstance(href, str) and link.get("rel") == rel:
            head, _, last = href.split("?")[0].rstrip("/").rpartition("/")
            if head.endswith(f"/{collection}") and last:
                return last
    return None


def _authorization_created(d: Delivery, r: Mapping[str, Any]) -> list[DomainEvent]:
    amount, currency = _money(r.get("amount"), "resource.amount")
    return [
        PaymentAuthorized(
            **d.common(
                order_id=order_id_of(r.get("custom_id")),
                payment_ref=ident(r.get("id"), "authorization id"),
                amount=amount,
                currency=currency,
                expires_at=parse_time(r.get("expiration_time"), "expiration_time"),
            )
        )
    ]


def _authorization_voided(d: Delivery, r: Mapping[str, Any]) -> list[DomainEvent]:
    """VOIDED also reports an authorization that lapsed at the end of its validity."""
    expires = parse_time(r.get("expiration_time"), "expiration_time")
    voided_at = parse_time(r.get("update_time"), "update_time") or d.occurred_at
    expired = r.get("status") == "EXPIRED" or (expires is not None and voided_at >= expires)
    kind = AuthorizationExpired if expired else PaymentVoided
    ref = ident(r.get("id"), "authorization id")
    return [kind(**d.common(order_id=order_id_of(r.get("custom_id")), payment_ref=ref))]


def _capture_completed(d: Delivery, r: Mapping[str, Any]) -> list[DomainEvent]:
    capture_id = ident(r.get("id"), "capture id")
    supplementary = r.get("supplementary_data")
    related = supplementary.get("related_ids") if isinstance(supplementary, dict) else None
    authorization = (
        opt_ident(related.get("authorization_id")) if isinstance(related, dict) else None
    )
    amount, currency = _money(r.get("amount"), "resource.amount")
    return [
        PaymentCaptured(
            **d.common(
                order_id=order_id_of(r.get("custom_id")),
                payment_ref=authorization or capture_id,
                amount=amount,
                currency=currency,
                capture_id=capture_id,
            )
        )
    ]


def _capture_refunded(d: Delivery, r: Mapping[str, Any]) -> list[DomainEvent]:
    """The resource is the Refund; its "up" link names the refunded capture."""
    amount, currency = _money(r.get("amount"), "resource.amount")
    raw_status = text(r.get("status")).upper() or "COMPLETED"
    if raw_status not in REFUND_STATUSES:
        raise MalformedPayload(f"unknown refund status {raw_status!r}")
    status = REFUND_STATUSES[raw_status]
    details = r.get("status_details")
    reason = opt_ident(details.get("reason")) if isinstance(details, dict) else None
    return [
        RefundSettled(
            **d.common(
                order_id=order_id_of(r.get("custom_id")),
                payment_ref=_link_id(r, "up", "captures"),
                refund_id=ident(r.get("id"), "refund id"),
                status=status,
                amount=amount,
                currency=currency,
                failure_reason=reason if status == "failed" else None,
            )
        )
    ]


def _first_transaction(r: Mapping[str, Any]) -> Mapping[str, Any]:
    txs = r.get("disputed_transactions")
    first = txs[0] if isinstance(txs, list) and txs else None
    return first if isinstance(first, dict) else {}


def _dispute_created(d: Delivery, r: Mapping[str, Any]) -> list[DomainEvent]:
    tx = _first_transaction(r)
    raw_amount = r.get("dispute_amount") or r.get("disputed_amount")
    amount, currency = _money(raw_amount, "dispute_amount") if raw_amount else (0, None)
    return [
        DisputeOpened(
            **d.common(
                order_id=order_id_of(tx.get("custom")),
                payment_ref=opt_ident(tx.get("seller_transaction_id")),
                dispute_id=ident(r.get("dispute_id"), "dispute_id"),
                amount=amount,
                currency=currency,
                reason=text(r.get("reason")),
                evidence_due_by=due_time(r.get("seller_response_due_date")),
            )
        )
    ]


def _dispute_resolved(d: Delivery, r: Mapping[str, Any]) -> list[DomainEvent]:
    tx = _first_transaction(r)
    outcome = r.get("dispute_outcome")
    code = outcome.get("outcome_code") if isinstance(outcome, dict) else None
    raw_amount = r.get("dispute_amount") or r.get("disputed_amount")
    amount, currency = _money(raw_amount, "dispute_amount") if raw_amount else (0, None)
    return [
        DisputeClosed(
            **d.common(
                order_id=order_id_of(tx.get("custom")),
                payment_ref=opt_ident(tx.get("seller_transaction_id")),
                dispute_id=ident(r.get("dispute_id"), "dispute_id"),
                outcome=text(code) or text(r.get("status")),
                amount=amount,
                currency=currency,
            )
        )
    ]


HANDLERS: Mapping[str, Callable[[Delivery, Mapping[str, Any]], list[DomainEvent]]] = {
    "PAYMENT.AUTHORIZATION.CREATED": _authorization_created,
    "PAYMENT.AUTHORIZATION.VOIDED": _authorization_voided,
    "PAYMENT.CAPTURE.COMPLETED": _capture_completed,
    "PAYMENT.CAPTURE.REFUNDED": _capture_refunded,
    "CUSTOMER.DISPUTE.CREATED": _dispute_created,
    "CUSTOMER.DISPUTE.RESOLVED": _dispute_resolved,
}


def normalize(
    body: Any, headers: Mapping[str, str], received_at: datetime
) -> list[DomainEvent]:
    """Normalise one PayPal webhook event (see the module docstring)."""
    event = as_object(body, "paypal event")
    d = delivery("paypal", event, headers, received_at, event.get("create_time"))
    topic = ident(event.get("event_type"), "paypal event_type")
    handler = HANDLERS.get(topic)
    if handler is None:  # incl. PAYMENT.CAPTURE.REVERSED, CUSTOMER.DISPUTE.UPDATED
        return [d.ignored(topic)]
    return handler(d, as_object(event.get("resource"), "resource"))
