"""Outbound calls to platforms and carriers, chosen per order (the adapters are wired here).

Marketplaces decide cancellations (rule 5): Backout asks through the
channel's API and the decision comes back by webhook (or is found by the
watchdog when the webhook is lost). A call's result names ``call`` (what was
asked) and, when Backout itself decided on the spot (a buyer's request on a
parcel that already shipped is rejected; WooCommerce is the seller's own
store), ``decision``.

Base URLs come from the function's environment (template Parameters) and
credentials from the ProviderCredentials secret: ``ozon_client_id``,
``ozon_api_key``, ``tiktok_app_key``, ``tiktok_app_secret``,
``tiktok_access_token``, ``tiktok_shop_cipher``, ``shopify_access_token``,
``woocommerce_key``, ``woocommerce_secret``, ``carrier_api_key``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, Literal

from backout.errors import CarrierOutcomeUnknown, PlatformRejected

PlatformDecision = Literal["approved", "rejected"]

#: Comments and reasons sent with Backout's decisions (what the platform shows the buyer or support).
APPROVE_COMMENT = "Approved by the seller: not shipped, money and stock go back."
REJECT_COMMENT = "The parcel has already shipped; it can be returned after delivery."
SELLER_CANCEL_MESSAGE = "Cancelled at the seller's request"
#: TikTok's reject reason for a packed/shipped order (reason names are TikTok's; unconfirmed).
TIKTOK_REJECT_SHIPPED = "seller_reject_apply_product_has_been_packed"
TIKTOK_SELLER_CANCEL_REASON = "seller_cancel_reason_out_of_stock"


def _creds() -> dict[str, Any]:
    from backout.credentials import provider_credentials

    return provider_credentials()


def _carrier() -> Any:
    from backout.adapters.carrier import CarrierClient

    return CarrierClient(os.environ["CARRIER_API_BASE_URL"], str(_creds()["carrier_api_key"]))


def ozon_configured() -> bool:
    """Whether the seller sells on Ozon: its Seller API client id and key are in the provider credentials."""
    creds = _creds()
    return bool(creds.get("ozon_client_id") and creds.get("ozon_api_key"))


def ozon_client() -> Any:
    """The seller's Ozon Seller API client (also used by the cancellation-request poller)."""
    from backout.adapters.ozon import OzonClient

    creds = _creds()
    return OzonClient(os.environ["OZON_API_BASE_URL"], str(creds["ozon_client_id"]), str(creds["ozon_api_key"]))


def _tiktok() -> Any:
    from backout.adapters.tiktok import TikTokClient

    c = _creds()
    return TikTokClient(os.environ["TIKTOK_API_BASE_URL"], str(c["tiktok_app_key"]), str(c["tiktok_app_secret"]),
                        str(c["tiktok_access_token"]), str(c["tiktok_shop_cipher"]))


def _shopify() -> Any:
    from backout.adapters.shopify import ShopifyClient

    return ShopifyClient(os.environ["SHOPIFY_API_BASE_URL"], str(_creds()["shopify_access_token"]))


def woocommerce() -> Any:
    """The store's WooCommerce client."""
    from backout.adapters.woocommerce import WooCommerceClient

    creds = _creds()
    return WooCommerceClient(os.environ["WOOCOMMERCE_BASE_URL"], str(creds["woocommerce_key"]),
                             str(creds["woocommerce_secret"]))


def _answers_platform_request(request: dict[str, Any]) -> bool:
    """A request the platform holds for the seller to decide (the buyer's, or the platform's own)."""
    return bool(request.get("platform_cancellation_id")) and request.get("initiator") != "seller"


def _shipped_without_request(channel: str) -> dict[str, Any]:
    """Nothing to reject and the parcel is gone: the seller does not ask; an operator or a return follows."""
    return {"call": "none", "decision": "rejected", "reason": f"{channel}: the order shipped before it was asked"}


# ------------------------------------------------------------------ asking the platform
def _ask_ozon(order: dict[str, Any], request: dict[str, Any], key: str) -> dict[str, Any]:
    """Buyer's request: approve it (reject once shipped). Seller's: cancel the posting (``/v2/posting/fbs/cancel``
    cancels it outright); as on Shopify, the platform's webhook (``TYPE_POSTING_CANCELLED``) answers the wait."""
    client, posting = ozon_client(), str(order["external_id"])
    if _answers_platform_request(request):
        cid = int(request["platform_cancellation_id"])
        if order.get("shipped"):
            client.reject(cid, posting, REJECT_COMMENT)
            return {"call": "reject", "decision": "rejected"}
        return {"call": "approve", "state": client.approve(cid, posting, APPROVE_COMMENT).state}
    if order.get("shipped"):
        return _shipped_without_request("ozon")
    done = client.cancel_posting(posting, SELLER_CANCEL_MESSAGE)  # Ozon cancels at once; its push answers the wait
    return {"call": "cancel_posting", "posting_status": done.status}


def _ask_tiktok(order: dict[str, Any], request: dict[str, Any], key: str) -> dict[str, Any]:
    """Buyer's request: approve it (reject once shipped), under TikTok's idempotency key. Seller's: Cancel Order
    (no idempotency key there; the client reads the order's requests first); TikTok's webhook answers the wait."""
    client = _tiktok()
    if _answers_platform_request(request):
        cancel_id = str(request["platform_cancellation_id"])
        if order.get("shipped"):
            outcome = client.reject_cancellation(cancel_id, f"{key}:reject", TIKTOK_REJECT_SHIPPED, REJECT_COMMENT)
            return {"call": "reject", "outcome": outcome, "decision": "rejected"}
        return {"call": "approve", "outcome": client.approve_cancellation(cancel_id, f"{key}:approve")}
    if order.get("shipped"):
        return _shipped_without_request("tiktok")
    made = client.cancel_order(str(order["external_id"]), TIKTOK_SELLER_CANCEL_REASON)  # no key: reads first
    return {"call": "seller_cancel", "platform_cancellation_id": made.cancel_id, "state": made.status}


def _shopify_cancel(order: dict[str, Any], request: dict[str, Any], key: str) -> dict[str, Any]:
    """``orderCancel`` refunding to the original payment methods (Shopify holds the money); stock is Backout's ledger's job, not Shopify's.
    Irreversible and idempotent at Shopify: a repeat answers ``already_cancelled``."""
    reason = "CUSTOMER" if request.get("initiator") == "buyer" else "OTHER"
    done = _shopify().cancel_order(str(order["external_id"]), reason=reason,
                                   refund_to="original_payment_methods", restock=False,
                                   staff_note=f"Backout request {key}")
    return {"call": "order_cancel", "status": done.status, "job_id": done.job_id}


def _ask_shopify(order: dict[str, Any], request: dict[str, Any], key: str) -> dict[str, Any]:
    """Not shipped: cancel with refund; Shopify's ``orders/cancelled`` webhook then answers the wait
    (an order already cancelled there is approved on the spot)."""
    if order.get("shipped"):
        return _shipped_without_request("shopify")
    result = _shopify_cancel(order, request, key)
    if result["status"] == "already_cancelled":
        result["decision"] = "approved"
    return result


def _ask_woocommerce(order: dict[str, Any], request: dict[str, Any], key: str) -> dict[str, Any]:
    """The seller's own store: the seller decides, so setting the status is the decision."""
    woocommerce().set_status(str(order["external_id"]), "cancelled", "Cancelled by Backout on the customer's request")
    return {"call": "set_status", "decision": "approved"}


_ASK: dict[str, Callable[[dict[str, Any], dict[str, Any], str], dict[str, Any]]] = {
    "ozon": _ask_ozon, "tiktok": _ask_tiktok, "shopify": _ask_shopify, "woocommerce": _ask_woocommerce,
}


def request_platform_cancellation(order: dict[str, Any], request: dict[str, Any], key: str) -> dict[str, Any]:
    """Ask the order's sales platform to cancel (or decide the buyer's request); see the module docstring."""
    ask = _ASK.get(str(order["channel"]))
    if ask is None:
        raise PlatformRejected(f"no platform cancellation for channel {order['channel']!r}")
    asked = ask(order, request, key)
    return {"channel": order["channel"], "initiator": request.get("initiator"),
            "platform_cancellation_id": request.get("platform_cancellation_id"), **asked}


def refund_on_platform(order: dict[str, Any], request: dict[str, Any], key: str) -> dict[str, Any]:
    """The platform holds the money but was never asked (shipped path: the parcel was intercepted or came
    back): have it cancel with a refund now. Ozon and TikTok orders never get here (their shipped requests
    are decided on the platform path); any other channel goes to an operator rather than pass unrefunded."""
    if order["channel"] == "shopify":
        return _shopify_cancel(order, request, key)
    raise PlatformRejected(f"{order['channel']}: no refund call after a return; an operator must refund")


# ------------------------------------------------------------------ reading a decision (watchdog)
def platform_decision(order: dict[str, Any], request: dict[str, Any],
                      asked: dict[str, Any]) -> PlatformDecision | None:
    """The platform's decision on what Backout asked (``asked`` = the recorded call), None while pending."""
    channel, external = str(order["channel"]), str(order["external_id"])
    cancellation_id = asked.get("platform_cancellation_id") or request.get("platform_cancellation_id")
    if channel == "ozon" and asked.get("call") == "cancel_posting":
        return "approved" if ozon_client().get_posting(external).cancelled else None
    if channel == "ozon" and cancellation_id:
        found = ozon_client().find_cancellation(external, int(cancellation_id))
        return found.decision if found else None
    if channel == "tiktok" and cancellation_id:
        from backout.adapters.tiktok import decision_of

        current = _tiktok().get_cancellation(str(cancellation_id))
        return decision_of(current.status) if current else None
    if channel == "shopify":
        shop_order = _shopify().get_order(external)
        return "approved" if shop_order and shop_order.cancelled_at else None
    if channel == "woocommerce":
        return "approved" if woocommerce().get_order(external).get("status") == "cancelled" else None
    return None


def intercept_outcome(intercept_id: str) -> str | None:
    """A carrier intercept's final status (``returned_to_sender`` / ``delivered``), None while open."""
    found = _carrier().get_intercept(intercept_id)
    return found.status if found.decided else None


# ------------------------------------------------------------------ carrier
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
