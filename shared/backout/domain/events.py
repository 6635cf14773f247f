"""The domain events every provider webhook is normalised into.

Receivers verify and record raw deliveries; the dispatcher turns each
delivery into zero or more of these typed events and acts on them. One
vocabulary for all providers: a Shopify fulfillment event, an AfterShip
tag and an EasyPost status all become a ``ShipmentScanned`` with one
``ShipmentStatus``.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter


class Channel(str, Enum):
    """Where the order was sold."""

    SHOPIFY = "shopify"
    WOOCOMMERCE = "woocommerce"
    OZON = "ozon"
    TIKTOK = "tiktok"
    GENERIC = "generic"


class Gateway(str, Enum):
    """Who holds the money: the seller's gateway, or the platform itself."""

    STRIPE = "stripe"
    PAYPAL = "paypal"
    PLATFORM = "platform"  # Shopify Payments, Ozon, TikTok Shop settle themselves


class Initiator(str, Enum):
    """Who asked for the cancellation."""

    BUYER = "buyer"
    SELLER = "seller"
    SYSTEM = "system"  # e.g. an authorization that expired
    PLATFORM = "platform"


class ShipmentStatus(str, Enum):
    """One scan vocabulary across Shopify, AfterShip, EasyPost, Ozon, TikTok."""

    LABEL_CREATED = "label_created"
    PICKED_UP = "picked_up"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    FAILED_ATTEMPT = "failed_attempt"
    AVAILABLE_FOR_PICKUP = "available_for_pickup"
    DELIVERED = "delivered"
    RETURN_TO_SENDER = "return_to_sender"
    RETURNED = "returned"  # back at the seller
    EXCEPTION = "exception"
    EXPIRED = "expired"
    UNKNOWN = "unknown"


class LineItem(BaseModel):
    """One order line; custom / non-standard goods are never auto-restocked."""

    model_config = ConfigDict(frozen=True)

    line_id: str
    sku: str
    quantity: Annotated[int, Field(gt=0)]
    unit_price: Annotated[int, Field(ge=0)] = 0  # minor units of the order currency
    custom: bool = False


class _Event(BaseModel):
    """Fields every domain event carries; ``source_id`` traces it to a delivery."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    provider: str
    source_id: str  # the provider event id or derived dedupe key of the delivery
    occurred_at: datetime
    order_id: str | None = None  # Backout order id "<channel>:<external id>"
    payment_ref: str | None = None  # gateway payment id (Stripe PI, PayPal auth/capture)


class OrderPlaced(_Event):
    """An order Backout should know about (created or updated upstream)."""

    kind: Literal["order_placed"] = "order_placed"
    channel: Channel
    external_id: str
    currency: str
    total: Annotated[int, Field(ge=0)]
    gateway: Gateway
    lines: tuple[LineItem, ...]
    shipped: bool = False


class CancelRequested(_Event):
    """A formal cancellation request: the only thing that may lead to a refund."""

    kind: Literal["cancel_requested"] = "cancel_requested"
    request_id: str
    initiator: Initiator
    reason: str = ""
    platform_cancellation_id: str | None = None
    auto_approve_at: datetime | None = None


class CancelWithdrawn(_Event):
    """The customer withdrew the request (during cooling-off)."""

    kind: Literal["cancel_withdrawn"] = "cancel_withdrawn"
    request_id: str | None = None


class PlatformCancellationDecided(_Event):
    """The marketplace answered a cancellation request."""

    kind: Literal["platform_cancellation_decided"] = "platform_cancellation_decided"
    decision: Literal["approved", "rejected", "expired"]
    platform_cancellation_id: str | None = None


class PaymentAuthorized(_Event):
    kind: Literal["payment_authorized"] = "payment_authorized"
    amount: Annotated[int, Field(ge=0)]
    currency: str
    expires_at: datetime | None = None


class PaymentCaptured(_Event):
    kind: Literal["payment_captured"] = "payment_captured"
    amount: Annotated[int, Field(ge=0)]
    currency: str
    capture_id: str | None = None


class AuthorizationExpired(_Event):
    kind: Literal["authorization_expired"] = "authorization_expired"


class PaymentVoided(_Event):
    kind: Literal["payment_voided"] = "payment_voided"


class RefundSettled(_Event):
    """A refund reached a final state at the gateway or platform."""

    kind: Literal["refund_settled"] = "refund_settled"
    refund_id: str
    status: Literal["succeeded", "failed", "pending", "canceled"]
    amount: Annotated[int, Field(ge=0)]
    currency: str
    failure_reason: str | None = None


class DisputeOpened(_Event):
    kind: Literal["dispute_opened"] = "dispute_opened"
    dispute_id: str
    amount: Annotated[int, Field(ge=0)] = 0
    currency: str | None = None
    reason: str = ""
    evidence_due_by: datetime | None = None  # after it the gateway decides without the seller's evidence


class DisputeClosed(_Event):
    kind: Literal["dispute_closed"] = "dispute_closed"
    dispute_id: str
    outcome: str = ""
    amount: Annotated[int, Field(ge=0)] = 0  # what was disputed (a lost dispute gave it back to the buyer)
    currency: str | None = None


class ShipmentScanned(_Event):
    kind: Literal["shipment_scanned"] = "shipment_scanned"
    tracking_number: str | None = None
    carrier: str | None = None
    status: ShipmentStatus
    raw_status: str = ""


class ReturnScanned(_Event):
    """The returned parcel was scanned back at the seller."""

    kind: Literal["return_scanned"] = "return_scanned"
    tracking_number: str | None = None


class Ignored(_Event):
    """A topic we do not act on: acknowledged and recorded, not an error."""

    kind: Literal["ignored"] = "ignored"
    topic: str


DomainEvent = Annotated[
    Union[
        OrderPlaced,
        CancelRequested,
        CancelWithdrawn,
        PlatformCancellationDecided,
        PaymentAuthorized,
        PaymentCaptured,
        AuthorizationExpired,
        PaymentVoided,
        RefundSettled,
        DisputeOpened,
        DisputeClosed,
        ShipmentScanned,
        ReturnScanned,
        Ignored,
    ],
    Field(discriminator="kind"),
]

DOMAIN_EVENT_ADAPTER: TypeAdapter[DomainEvent] = TypeAdapter(DomainEvent)


def parse_event(data: dict[str, object]) -> DomainEvent:
    """Rebuild a domain event from its JSON form (e.g. from a queue or table)."""
    return DOMAIN_EVENT_ADAPTER.validate_python(data)


def order_id_for(channel: Channel | str, external_id: str | int) -> str:
    """Backout's order id: stable, channel-scoped, never reused across channels."""
    value = channel.value if isinstance(channel, Channel) else channel
    return f"{value}:{external_id}"
