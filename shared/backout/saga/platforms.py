"""NotifyPlatform: tell the sales platform the cancellation is done."""

from __future__ import annotations

import os
from typing import Any

from backout.repo.orders import OrdersRepository


def confirm_cancelled(order_id: str, request_id: str, repo: OrdersRepository) -> dict[str, Any]:
    """Mark the order cancelled on its platform, once (effect recorded around the call)."""
    order = repo.require_order(order_id)
    result = _effect_once(repo, order_id, f"platform_cancel#{request_id}", "platform_notified",
                          lambda: {"channel": order["channel"], "outcome": _set_cancelled_on_platform(order)})
    return {"channel": order["channel"], "status": result.get("outcome")}


def _set_cancelled_on_platform(order: dict[str, Any]) -> str:
    if order["channel"] != "woocommerce":
        return "not_supported_yet"
    from backout.adapters.woocommerce import WooCommerceClient
    from backout.credentials import provider_credentials

    creds = provider_credentials()
    client = WooCommerceClient(os.environ["WOOCOMMERCE_BASE_URL"], str(creds["woocommerce_key"]),
                               str(creds["woocommerce_secret"]))
    client.set_status(str(order["external_id"]), "cancelled", "Cancelled by Backout on the customer's request")
    return "status_set_cancelled"


def _effect_once(repo: OrdersRepository, order_id: str, effect_id: str, kind: str, call: Any) -> dict[str, Any]:
    """Record the intent, make the call once, record its result; a retry returns the recorded result."""
    fx = repo.record_intent(order_id, effect_id, kind)
    if fx.get("status") == "done":
        return dict(fx.get("result") or {})
    result = dict(call())
    repo.record_result(order_id, effect_id, "done", result=result)
    repo.append_timeline(order_id, kind, result)
    return result


def request_cancellation(order_id: str, request_id: str, task_token: str, repo: OrdersRepository) -> dict[str, Any]:
    """Ask the marketplace to cancel (or approve the buyer's request), then wait for its decision webhook."""
    from backout.saga import providers
    from backout.saga.orders import await_event

    order = repo.require_order(order_id)
    request = repo.get_request(order_id, request_id) or {}
    _effect_once(repo, order_id, f"platform_request#{request_id}", "platform_cancellation_requested",
                 lambda: providers.request_platform_cancellation(order, request, f"backout:{order_id}:{request_id}"))
    return await_event(order_id, request_id, "platform_decision", task_token, repo)


def request_intercept(order_id: str, request_id: str, task_token: str, repo: OrdersRepository) -> dict[str, Any]:
    """Shipped: ask the carrier to intercept (cost recorded), then wait for its scans."""
    from backout.saga import providers
    from backout.saga.orders import await_event

    order = repo.require_order(order_id)
    _effect_once(repo, order_id, f"intercept#{request_id}", "intercept_requested",
                 lambda: providers.request_intercept(order, f"backout:intercept:{order_id}:{request_id}"))
    return await_event(order_id, request_id, "carrier", task_token, repo)


def issue_return_label(order_id: str, request_id: str, task_token: str, repo: OrdersRepository) -> dict[str, Any]:
    """Delivered despite the cancel: a prepaid return label, then wait for the return scan."""
    from backout.saga import providers
    from backout.saga.orders import await_event

    order = repo.require_order(order_id)
    label = _effect_once(repo, order_id, f"return_label#{request_id}", "return_label_issued",
                         lambda: providers.create_return_label(order, f"backout:return:{order_id}:{request_id}"))
    if label.get("return_tracking_number"):
        repo.set_flag(order_id, "return_tracking_number", str(label["return_tracking_number"]))
    return await_event(order_id, request_id, "return", task_token, repo)
