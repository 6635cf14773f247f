"""NotifyPlatform: tell the sales platform the cancellation is done."""

from __future__ import annotations

import os
from typing import Any

from backout.repo.orders import OrdersRepository


def confirm_cancelled(order_id: str, request_id: str, repo: OrdersRepository) -> dict[str, Any]:
    """Mark the order cancelled on its platform, once (effect recorded around the call)."""
    order = repo.require_order(order_id)
    effect_id = f"platform_cancel#{request_id}"
    fx = repo.record_intent(order_id, effect_id, "platform_cancel", channel=order["channel"])
    if fx.get("status") == "done":
        return {"channel": order["channel"], "status": "already_done"}
    if order["channel"] == "woocommerce":
        from backout.adapters.woocommerce import WooCommerceClient
        from backout.credentials import provider_credentials

        creds = provider_credentials()
        client = WooCommerceClient(os.environ["WOOCOMMERCE_BASE_URL"], str(creds["woocommerce_key"]),
                                   str(creds["woocommerce_secret"]))
        client.set_status(str(order["external_id"]), "cancelled", "Cancelled by Backout on the customer's request")
        outcome = "status_set_cancelled"
    else:
        outcome = "not_supported_yet"
    repo.record_result(order_id, effect_id, "done", outcome=outcome)
    repo.append_timeline(order_id, "platform_notified", {"channel": order["channel"], "outcome": outcome})
    return {"channel": order["channel"], "status": outcome}
