"""WooCommerce REST API v3: read an order, set its status (idempotent by reading first)."""

from __future__ import annotations

import base64
from typing import Any

from backout.adapters.http import request_json


class WooCommerceClient:
    """Orders endpoint of one store, authenticated with a REST API key pair."""

    def __init__(self, base_url: str, consumer_key: str, consumer_secret: str) -> None:
        self.base = base_url.rstrip("/") + "/wp-json/wc/v3"
        token = base64.b64encode(f"{consumer_key}:{consumer_secret}".encode()).decode()
        self.headers = {"Authorization": f"Basic {token}"}

    def get_order(self, order_id: str) -> dict[str, Any]:
        """GET /orders/{id}."""
        return dict(request_json("GET", f"{self.base}/orders/{order_id}", headers=self.headers))

    def set_status(self, order_id: str, status: str, note: str) -> dict[str, Any]:
        """Set the order status unless it already has it (a replay changes nothing)."""
        current = self.get_order(order_id)
        if current.get("status") == status:
            return current
        return dict(request_json("PUT", f"{self.base}/orders/{order_id}", headers=self.headers,
                                 body={"status": status, "customer_note": note}))
