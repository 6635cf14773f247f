"""Outbound calls to platforms and carriers, chosen per order (adapters wired here)."""

from __future__ import annotations

import os
from typing import Any

from backout.errors import CarrierOutcomeUnknown


def _carrier() -> Any:
    from backout.adapters.carrier import CarrierClient
    from backout.credentials import provider_credentials

    return CarrierClient(os.environ["CARRIER_API_BASE_URL"], str(provider_credentials()["carrier_api_key"]))


def request_platform_cancellation(order: dict[str, Any], request: dict[str, Any], key: str) -> dict[str, Any]:
    """Ask the order's marketplace to cancel / approve; the decision comes back by webhook.

    Marketplace clients (Ozon, TikTok Shop, Shopify) exist in ``backout.adapters``;
    until their credentials are wired per shop, the request is recorded and the
    saga waits for the platform's own decision webhook.
    """
    return {"channel": order["channel"], "platform_cancellation_id": request.get("platform_cancellation_id"),
            "initiator": request.get("initiator"), "call": "recorded"}


def request_intercept(order: dict[str, Any], key: str) -> dict[str, Any]:
    """Ask the carrier to stop the parcel; the intercept and its cost are returned (and recorded)."""
    tracking = order.get("tracking_number")
    if not tracking:
        raise CarrierOutcomeUnknown(f"order {order['order_id']} shipped without a known tracking number")
    intercept = _carrier().request_intercept(str(tracking), key)
    return {"intercept_id": intercept.intercept_id, "tracking_number": tracking, "status": intercept.status,
            "cost": intercept.cost, "cost_currency": intercept.currency}


def create_return_label(order: dict[str, Any], key: str) -> dict[str, Any]:
    """A prepaid return label for the order."""
    label = _carrier().create_return_label(str(order["order_id"]), key)
    return {"label_id": label.label_id, "return_tracking_number": label.tracking_number, "url": label.url}
