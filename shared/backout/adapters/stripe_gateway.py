"""Stripe through the official SDK. Idempotency keys cover 24 hours; the
metadata lookup before every create covers the weeks a saga can take."""

from __future__ import annotations

import os
from typing import Any, Callable, TypeVar

import stripe

from backout.adapters.gateway import PaymentState, RefundRecord
from backout.credentials import provider_credentials
from backout.errors import PaymentNotAllowed, RefundFailed, TransientError

T = TypeVar("T")

#: Metadata key on every refund Backout creates: the effect it fulfils.
EFFECT_KEY = "backout_effect"

_STATUS = {
    "requires_capture": "authorized",
    "succeeded": "captured",
    "canceled": "voided",
    "processing": "pending",
}


def _call(fn: Callable[[], T]) -> T:
    """Run a Stripe call, turning its errors into Backout's named errors."""
    try:
        return fn()
    except (stripe.RateLimitError, stripe.APIConnectionError) as exc:
        raise TransientError(f"stripe: {type(exc).__name__}") from exc
    except stripe.InvalidRequestError as exc:
        code = getattr(exc, "code", None) or ""
        if code == "charge_disputed":
            raise PaymentNotAllowed("stripe: the charge is disputed") from exc
        raise RefundFailed(f"stripe: {code or exc.user_message or 'invalid request'}") from exc
    except stripe.APIError as exc:
        if (getattr(exc, "http_status", None) or 500) >= 500:
            raise TransientError(f"stripe: {type(exc).__name__}") from exc
        raise RefundFailed(f"stripe: {exc.user_message}") from exc


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
        return PaymentState(payment_ref, status, str(pi["currency"]).upper(), amount, captured, refunded)  # type: ignore[arg-type]

    def void(self, payment_ref: str, effect_key: str) -> None:
        """Release an authorization; an already-cancelled intent counts as done."""
        try:
            _call(lambda: stripe.PaymentIntent.cancel(payment_ref, api_key=self.api_key, idempotency_key=effect_key))
        except RefundFailed:
            if self.retrieve(payment_ref).status != "voided":
                raise

    def _refunds(self, payment_ref: str) -> list[RefundRecord]:
        page = _call(lambda: stripe.Refund.list(payment_intent=payment_ref, limit=100, api_key=self.api_key))
        return [self._record(r.to_dict()) for r in page.auto_paging_iter()]

    def find_refund(self, payment_ref: str, effect_key: str) -> RefundRecord | None:
        """A refund created earlier for this effect (found by metadata), if any."""
        page = _call(lambda: stripe.Refund.list(payment_intent=payment_ref, limit=100, api_key=self.api_key))
        for refund in page.auto_paging_iter():
            data = refund.to_dict()
            if (data.get("metadata") or {}).get(EFFECT_KEY) == effect_key:
                return self._record(data)
        return None

    def create_refund(self, payment_ref: str, amount: int, effect_key: str, metadata: dict[str, str]) -> RefundRecord:
        """Create a refund tagged with its effect key (and the same idempotency key)."""
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

    @staticmethod
    def _record(data: dict[str, Any]) -> RefundRecord:
        return RefundRecord(str(data["id"]), int(data["amount"]), str(data["currency"]).upper(), str(data.get("status") or "pending"))
