"""What the saga needs from a payment gateway, whatever the gateway."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

PaymentStatus = Literal["authorized", "captured", "voided", "pending", "unknown"]


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


@dataclass(frozen=True)
class RefundRecord:
    """One refund as the gateway reports it."""

    refund_id: str
    amount: int
    currency: str
    status: str  # pending, succeeded, failed, canceled, requires_action


class PaymentGateway(Protocol):
    """A gateway adapter: every call is idempotent under ``effect_key``."""

    name: str

    def retrieve(self, payment_ref: str) -> PaymentState: ...

    def void(self, payment_ref: str, effect_key: str) -> None: ...

    def find_refund(self, payment_ref: str, effect_key: str) -> RefundRecord | None: ...

    def create_refund(self, payment_ref: str, amount: int, effect_key: str, metadata: dict[str, str]) -> RefundRecord: ...


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
