"""Stripe through the official SDK. Idempotency keys cover 24 hours; the
metadata lookup before every create covers the weeks a saga can take.

A PaymentIntent is one refund target, also when it was captured several times
(multicapture): Stripe refunds it up to ``amount_received`` minus what is
refunded, so ``retrieve`` reports one capture, the intent itself.

Disputes: ``submit_dispute_evidence`` updates ``/v1/disputes/{id}`` with
``evidence[...]`` and ``submit=true`` (what ``stripe.Dispute.modify`` sends),
after reading the dispute: evidence already submitted (``submission_count`` >
0, or a status past ``needs_response``) is not sent again. Dispute calls go to
``STRIPE_DISPUTES_API_BASE`` when set (the local stack only: localstripe has no
disputes, so a small fake serves them, ``backout_dev.fakes.stripe_disputes``).
"""

from __future__ import annotations

import os
from typing import Any, Callable, TypeVar

import stripe

from backout.adapters.gateway import CaptureState, EvidenceSubmission, PaymentState, RefundRecord, evidence_texts
from backout.credentials import provider_credentials
from backout.errors import BackoutError, PaymentNotAllowed, RefundFailed, TransientError

T = TypeVar("T")

#: Metadata key on every refund Backout creates: the effect it fulfils.
EFFECT_KEY = "backout_effect"
#: The ``cancellation_reason`` Backout sends when it voids (Stripe's seller reasons are duplicate, fraudulent,
#: requested_by_customer and abandoned: https://docs.stripe.com/api/payment_intents/cancel). A void follows a
#: recorded cancellation request; a seller-initiated one has no closer value in that list.
VOID_REASON = "requested_by_customer"

_STATUS = {
    "requires_capture": "authorized",
    "succeeded": "captured",
    "canceled": "voided",
    "processing": "pending",
}


#: Stripe evidence text fields hold up to 20,000 characters each, and "The combined character count of all
#: fields is limited to 150,000" (https://docs.stripe.com/api/disputes/update#update_dispute-evidence).
EVIDENCE_TEXT_MAX = 20_000
EVIDENCE_TOTAL_MAX = 150_000
#: Which fields keep their text first when the combined limit bites: identifiers and the policy, then the
#: cancellation story, then the scan log (the longest and the least needed in full).
_EVIDENCE_PRIORITY = ("shipping_carrier", "shipping_tracking_number", "shipping_date",
                      "cancellation_policy_disclosure", "refund_policy_disclosure", "cancellation_rebuttal",
                      "refund_refusal_explanation", "uncategorized_text")
_OPEN_DISPUTE = ("needs_response", "warning_needs_response")


def stripe_evidence(bundle: dict[str, Any]) -> dict[str, str]:
    """The evidence bundle as Stripe's ``evidence`` fields (empty ones left out)."""
    texts = evidence_texts(bundle)
    policy = texts["policy"]
    fields = {
        "shipping_carrier": bundle.get("carrier") or "",
        "shipping_tracking_number": bundle.get("tracking_number") or "",
        "shipping_date": str(bundle.get("shipping_date") or "")[:10],
        "cancellation_policy_disclosure": f"Shown at checkout and in the order confirmation: {policy}" if policy else "",
        "refund_policy_disclosure": f"Shown at checkout and in the order confirmation: {policy}" if policy else "",
        "cancellation_rebuttal": texts["cancellation"],
        "refund_refusal_explanation": texts["refund_refusal"],
        "uncategorized_text": texts["shipping"],
    }
    return within_stripe_limits(fields)


def within_stripe_limits(fields: dict[str, str]) -> dict[str, str]:
    """Each field cut to 20,000 characters and all of them together to 150,000, filled in priority order."""
    left, out = EVIDENCE_TOTAL_MAX, {}
    for name in sorted(fields, key=lambda n: _EVIDENCE_PRIORITY.index(n) if n in _EVIDENCE_PRIORITY else 99):
        text = fields[name][:min(EVIDENCE_TEXT_MAX, left)]
        if text:
            out[name] = text
            left -= len(text)
    return out


def _call(fn: Callable[[], T], fail: type[BackoutError] = RefundFailed) -> T:
    """Run a Stripe call, turning its errors into Backout's named errors (4xx: ``fail``)."""
    try:
        return fn()
    except (stripe.RateLimitError, stripe.APIConnectionError) as exc:
        raise TransientError(f"stripe: {type(exc).__name__}") from exc
    except stripe.InvalidRequestError as exc:
        code = getattr(exc, "code", None) or ""
        if code == "charge_disputed":
            raise PaymentNotAllowed("stripe: the charge is disputed") from exc
        raise fail(f"stripe: {code or exc.user_message or 'invalid request'}") from exc
    except stripe.StripeError as exc:
        if (getattr(exc, "http_status", None) or 500) >= 500:
            raise TransientError(f"stripe: {type(exc).__name__}") from exc
        raise fail(f"stripe: {exc.user_message or type(exc).__name__}") from exc


class StripeGateway:
    """PaymentIntents: cancel to void, Refund.create to refund."""

    name = "stripe"

    def __init__(self, api_key: str | None = None) -> None:
        self.api_key = api_key or str(provider_credentials()["stripe_api_key"])
        base = os.environ.get("STRIPE_API_BASE")  # set only on the local stack (localstripe)
        if base:
            stripe.api_base = base
        stripe.max_network_retries = 0  # the saga's Retry owns retries

    def retrieve(self, payment_ref: str) -> PaymentState:
        """The PaymentIntent's state, with what is already refunded."""
        pi: dict[str, Any] = _call(lambda: stripe.PaymentIntent.retrieve(payment_ref, api_key=self.api_key)).to_dict()
        status = _STATUS.get(str(pi.get("status")), "unknown")
        amount = int(pi.get("amount") or 0)
        captured = int(pi.get("amount_received") or (amount if status == "captured" else 0))
        refunded = sum(r.amount for r in self._refunds(payment_ref) if r.status in ("succeeded", "pending"))
        captures = (CaptureState(payment_ref, captured, refunded),) if captured else ()
        return PaymentState(payment_ref, status, str(pi["currency"]).upper(), amount, captured, refunded,  # type: ignore[arg-type]
                            captures=captures)

    def void(self, payment_ref: str, effect_key: str) -> None:
        """Release an authorization; an already-cancelled intent counts as done. Backout voids only on a
        recorded cancellation request, so the reason Stripe keeps is the buyer's (``VOID_REASON``)."""
        try:
            _call(lambda: stripe.PaymentIntent.cancel(payment_ref, api_key=self.api_key, idempotency_key=effect_key,
                                                      cancellation_reason=VOID_REASON))
        except RefundFailed:
            if self.retrieve(payment_ref).status != "voided":
                raise

    def _refunds(self, payment_ref: str) -> list[RefundRecord]:
        page = _call(lambda: stripe.Refund.list(payment_intent=payment_ref, limit=100, api_key=self.api_key))
        return [self._record(r.to_dict()) for r in page.auto_paging_iter()]

    @staticmethod
    def _one_target(payment_ref: str, capture_id: str | None) -> None:
        if capture_id not in (None, payment_ref):
            raise PaymentNotAllowed(f"stripe: {capture_id} is not the refund target of {payment_ref}")

    def find_refund(self, payment_ref: str, effect_key: str, capture_id: str | None = None) -> RefundRecord | None:
        """A refund created earlier for this effect (found by metadata), if any."""
        self._one_target(payment_ref, capture_id)
        page = _call(lambda: stripe.Refund.list(payment_intent=payment_ref, limit=100, api_key=self.api_key))
        for refund in page.auto_paging_iter():
            data = refund.to_dict()
            if (data.get("metadata") or {}).get(EFFECT_KEY) == effect_key:
                return self._record(data)
        return None

    def create_refund(self, payment_ref: str, amount: int, effect_key: str, metadata: dict[str, str],
                      capture_id: str | None = None) -> RefundRecord:
        """Create a refund tagged with its effect key (and the same idempotency key)."""
        self._one_target(payment_ref, capture_id)
        refund = _call(
            lambda: stripe.Refund.create(
                payment_intent=payment_ref,
                amount=amount,
                metadata={**metadata, EFFECT_KEY: effect_key},
                api_key=self.api_key,
                idempotency_key=effect_key,
            )
        )
        return self._record(refund.to_dict())

    def _disputes(self) -> Any:
        base = os.environ.get("STRIPE_DISPUTES_API_BASE") or os.environ.get("STRIPE_API_BASE")
        options: dict[str, Any] = {"base_addresses": {"api": base}} if base else {}
        return stripe.StripeClient(self.api_key, max_network_retries=0, **options).v1.disputes

    def submit_dispute_evidence(self, dispute_id: str, evidence: dict[str, Any],
                                effect_key: str) -> EvidenceSubmission:
        """Submit the bundle as the dispute's evidence, unless evidence was submitted already."""
        disputes = self._disputes()
        current = _call(lambda: disputes.retrieve(dispute_id), PaymentNotAllowed).to_dict()
        submitted_before = int((current.get("evidence_details") or {}).get("submission_count") or 0)
        if submitted_before or current.get("status") not in _OPEN_DISPUTE:
            return EvidenceSubmission(dispute_id, str(current.get("status")), submitted=False)
        fields = stripe_evidence(evidence)
        answer = _call(lambda: disputes.update(dispute_id, params={"evidence": fields, "submit": True,
                                                                   "metadata": {EFFECT_KEY: effect_key[:500]}},
                                               options={"idempotency_key": effect_key}), PaymentNotAllowed).to_dict()
        return EvidenceSubmission(dispute_id, str(answer.get("status")), submitted=True, fields=tuple(sorted(fields)))

    @staticmethod
    def _record(data: dict[str, Any]) -> RefundRecord:
        return RefundRecord(str(data["id"]), int(data["amount"]), str(data["currency"]).upper(), str(data.get("status") or "pending"))
