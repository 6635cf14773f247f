"""What the saga needs from a payment gateway, whatever the gateway."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

PaymentStatus = Literal["authorized", "captured", "voided", "pending", "unknown"]


@dataclass(frozen=True)
class CaptureState:
    """One refundable capture of a payment, in minor units.

    PayPal: each capture of an authorization is refunded on its own. Stripe:
    the PaymentIntent is the one refund target, even with multicapture (Stripe
    refunds a PaymentIntent up to ``amount_received`` minus refunds).
    """

    capture_id: str
    captured: int
    refunded: int

    @property
    def left(self) -> int:
        """What can still be refunded on this capture."""
        return max(0, self.captured - self.refunded)


@dataclass(frozen=True)
class PaymentState:
    """The gateway's truth about one payment, in minor units."""

    payment_ref: str
    status: PaymentStatus
    currency: str
    authorized: int
    captured: int
    refunded: int
    disputed: bool = False
    captures: tuple[CaptureState, ...] = field(default_factory=tuple)
    held: int = 0  # still authorized and not captured (a partly captured authorization): void to release it


@dataclass(frozen=True)
class RefundRecord:
    """One refund as the gateway reports it."""

    refund_id: str
    amount: int
    currency: str
    status: str  # pending, succeeded, failed, canceled, requires_action


@dataclass(frozen=True)
class EvidenceSubmission:
    """What the gateway answered to a dispute evidence submission."""

    dispute_id: str
    status: str  # the dispute's status after the call
    submitted: bool  # False: it had been submitted before (found by the lookup), nothing was sent now
    fields: tuple[str, ...] = ()  # the evidence fields sent


class PaymentGateway(Protocol):
    """A gateway adapter: every call is idempotent under ``effect_key``.

    ``capture_id`` names one of ``PaymentState.captures`` when a payment has
    several; None means the payment's only capture.
    """

    name: str

    def retrieve(self, payment_ref: str) -> PaymentState: ...

    def void(self, payment_ref: str, effect_key: str) -> None: ...

    def find_refund(self, payment_ref: str, effect_key: str, capture_id: str | None = None) -> RefundRecord | None: ...

    def create_refund(self, payment_ref: str, amount: int, effect_key: str, metadata: dict[str, str],
                      capture_id: str | None = None) -> RefundRecord: ...

    def submit_dispute_evidence(self, dispute_id: str, evidence: dict[str, Any],
                                effect_key: str) -> EvidenceSubmission: ...


def gateway_for(name: str) -> PaymentGateway:
    """The adapter for a gateway name (imports only that gateway's SDK)."""
    if name == "stripe":
        from backout.adapters.stripe_gateway import StripeGateway

        return StripeGateway()
    if name == "paypal":
        from backout.adapters.paypal_gateway import PayPalGateway

        return PayPalGateway.from_credentials()
    from backout.errors import PaymentNotAllowed

    raise PaymentNotAllowed(f"no gateway adapter for {name!r}")


# ---------------------------------------------------------------- dispute evidence, in words
def _date(at: object) -> str:
    """``2025-03-14T11:40:00+00:00`` -> ``2025-03-14`` (empty when unknown)."""
    return str(at)[:10] if at else ""


def evidence_texts(bundle: dict[str, Any]) -> dict[str, str]:
    """The evidence bundle (``backout.saga.evidence.build_evidence``) as plain sentences.

    Keys: ``shipping`` (carrier, tracking, dates, every scan), ``cancellation`` (the
    recorded requests and what was paid back), ``refund_refusal`` (why no refund now),
    ``policy`` (the cancellation and refund policy). Empty strings for what is unknown.
    Every gateway maps these onto its own evidence fields.
    """
    shipping = ""
    if bundle.get("tracking_number"):
        shipping = (f"Shipped with {bundle.get('carrier') or 'the carrier'}, tracking number "
                    f"{bundle['tracking_number']}, first scan {_date(bundle.get('shipping_date')) or 'unknown'}"
                    + (f", delivered {_date(bundle['delivery_date'])}." if bundle.get("delivery_date") else "."))
        scans = "; ".join(f"{_date(s.get('at'))} {s.get('status', '')}".strip() for s in bundle.get("scans") or [])
        shipping += f" Carrier scans: {scans}." if scans else ""
    requests = bundle.get("cancellation_requests") or []
    if requests:
        said = "; ".join(f"{_date(r.get('recorded_at'))} by {r.get('initiator') or 'unknown'}"
                         + (f" ({r['reason']})" if r.get("reason") else "") for r in requests)
        cancellation = f"Order {bundle.get('order_id')}: cancellation requested {said}."
    else:
        cancellation = f"Order {bundle.get('order_id')}: no cancellation was requested before the dispute."
    paid_back = [r for r in bundle.get("refunds") or [] if isinstance(r, dict) and r.get("outcome")]
    if paid_back:
        cancellation += " Payment already settled: " + "; ".join(
            f"{r['outcome']} {r.get('amount', '')} {r.get('currency', '')} (minor units)"
            + (f", refund {r['refund_id']}" if r.get("refund_id") else "") for r in paid_back) + "."
    refusal = ("No refund was issued after the dispute opened: refunding a disputed payment as well would return "
               "the money twice. The cancellation is held until the dispute is decided.")
    return {"shipping": shipping, "cancellation": cancellation, "refund_refusal": refusal,
            "policy": str(bundle.get("policy") or "")}
