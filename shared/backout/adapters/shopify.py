"""Shopify GraphQL Admin API: cancel an order, once.

``POST {shop}/admin/api/{version}/graphql.json`` with ``X-Shopify-Access-Token``.
The version is pinned in one place, :data:`API_VERSION`. Shopify supports a
stable version "for a minimum of 12 months" from its release
(https://shopify.dev/docs/api/usage/versioning: "Each stable version is
supported for a minimum of 12 months"); versions are released quarterly
(YYYY-01, -04, -07, -10). tests/adapters/test_shopify.py fails once the pin
leaves that window.

* ``order(id) { id cancelledAt displayFinancialStatus }`` is read first: an
  order that is already cancelled is not cancelled again (``orderCancel`` has
  no idempotency key, so the read is what makes a retry safe).
* ``orderCancel(orderId, reason, refundMethod, restock, notifyCustomer,
  staffNote)`` returns ``job { id done }`` and ``orderCancelUserErrors { code field
  message }``. The cancel is asynchronous: ``job(id) { done }`` tells when it
  is finished (:meth:`ShopifyClient.job_done`). A user error is followed by a
  second read: if the order is cancelled by then, or the message says it is
  already cancelled / being cancelled, the cancel counts as done; any other
  user error (NOT_FOUND, NO_REFUND_PERMISSION, INVALID, ...) raises
  PlatformRejected. ``refundMethod`` is an ``OrderCancelRefundMethodInput``
  (``{originalPaymentMethodsRefund: true}`` or ``{storeCreditRefund: {}}``):
  "As of GraphQL Admin API version 2025-07, the orderCancel mutation allows
  you to issue refunds as store credit ... introduces a new refundMethod
  input ... and deprecates" the ``refund`` argument
  (https://shopify.dev/changelog/ordercancel-mutation-now-supports-refunds-to-store-credit).
* HTTP 429/5xx and GraphQL ``THROTTLED`` errors raise TransientError; other
  HTTP 4xx (401 on a bad token) and other top-level GraphQL errors raise
  PlatformRejected.

Order ids may be given as numbers (``"5123"``) or GIDs
(``"gid://shopify/Order/5123"``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from backout.adapters.http import request_json
from backout.errors import PlatformRejected, TransientError

#: The Admin API version every call uses (released 2026-01-01; supported until 2027-01-01).
API_VERSION = "2026-01"
#: How long Shopify supports a stable version after its release (months).
SUPPORT_MONTHS = 12

RefundTo = Literal["original_payment_methods", "store_credit", "none"]
REASONS = frozenset({"CUSTOMER", "DECLINED", "FRAUD", "INVENTORY", "OTHER", "STAFF"})

ORDER_QUERY = "query BackoutOrder($id: ID!) { order(id: $id) { id cancelledAt displayFinancialStatus } }"
JOB_QUERY = "query BackoutJob($id: ID!) { job(id: $id) { id done } }"
CANCEL_MUTATION = (
    "mutation BackoutCancel($orderId: ID!, $reason: OrderCancelReason!, "
    "$refundMethod: OrderCancelRefundMethodInput!, $restock: Boolean!, $notifyCustomer: Boolean, "
    "$staffNote: String) { orderCancel(orderId: $orderId, reason: $reason, refundMethod: $refundMethod, "
    "restock: $restock, notifyCustomer: $notifyCustomer, staffNote: $staffNote) "
    "{ job { id done } orderCancelUserErrors { code field message } } }"
)
_ALREADY = re.compile(r"already\s+(been\s+)?(cancel|being\s+cancel)", re.IGNORECASE)


@dataclass(frozen=True)
class ShopifyOrder:
    """What Backout reads of an order."""

    id: str
    cancelled_at: str | None
    financial_status: str | None


@dataclass(frozen=True)
class ShopifyCancel:
    """The outcome of :meth:`ShopifyClient.cancel_order`."""

    order_id: str
    status: Literal["cancelled", "cancelling", "already_cancelled"]
    job_id: str | None = None


def refund_method(refund_to: RefundTo) -> dict[str, Any]:
    """Shopify's ``OrderCancelRefundMethodInput`` for where the money goes back."""
    if refund_to == "store_credit":
        return {"storeCreditRefund": {}}
    return {"originalPaymentMethodsRefund": refund_to == "original_payment_methods"}


def order_gid(order_id: str) -> str:
    """``"5123"`` -> ``"gid://shopify/Order/5123"`` (a GID is returned unchanged)."""
    return order_id if order_id.startswith("gid://") else f"gid://shopify/Order/{order_id}"


class ShopifyClient:
    """One shop's GraphQL Admin endpoint."""

    def __init__(self, shop_url: str, access_token: str, api_version: str = API_VERSION, timeout: float = 8.0) -> None:
        self.endpoint = f"{shop_url.rstrip('/')}/admin/api/{api_version}/graphql.json"
        self.headers = {"X-Shopify-Access-Token": access_token}
        self.timeout = timeout

    def _graphql(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        """Run one document; returns ``data`` or raises the named error for top-level errors."""
        answer = request_json("POST", self.endpoint, headers=self.headers,
                              body={"query": query, "variables": variables}, timeout=self.timeout)
        if not isinstance(answer, dict):
            raise PlatformRejected("shopify: empty GraphQL answer")
        errors = answer.get("errors")
        if errors:
            codes = {str((e.get("extensions") or {}).get("code")) for e in errors if isinstance(e, dict)}
            if "THROTTLED" in codes or "INTERNAL_SERVER_ERROR" in codes:
                raise TransientError(f"shopify: {sorted(codes)}")
            raise PlatformRejected(f"shopify: GraphQL errors {errors!r:.300}")
        return dict(answer.get("data") or {})

    def get_order(self, order_id: str) -> ShopifyOrder | None:
        """The order's cancellation and financial status, or None when Shopify does not know it."""
        order = self._graphql(ORDER_QUERY, {"id": order_gid(order_id)}).get("order")
        if not order:
            return None
        return ShopifyOrder(str(order["id"]), order.get("cancelledAt"), order.get("displayFinancialStatus"))

    def job_done(self, job_id: str) -> bool:
        """Whether an asynchronous cancel job has finished."""
        job = self._graphql(JOB_QUERY, {"id": job_id}).get("job") or {}
        return bool(job.get("done"))

    def cancel_order(self, order_id: str, *, reason: str = "CUSTOMER",
                     refund_to: RefundTo = "original_payment_methods", restock: bool = True,
                     notify_customer: bool = True, staff_note: str | None = None) -> ShopifyCancel:
        """Cancel the order unless it is cancelled already (a replay changes nothing)."""
        if reason not in REASONS:
            raise ValueError(f"reason must be one of {sorted(REASONS)}")
        gid = order_gid(order_id)
        current = self.get_order(gid)
        if current is None:
            raise PlatformRejected(f"shopify: order {gid} not found")
        if current.cancelled_at:
            return ShopifyCancel(gid, "already_cancelled")
        variables = {"orderId": gid, "reason": reason, "refundMethod": refund_method(refund_to), "restock": restock,
                     "notifyCustomer": notify_customer, "staffNote": staff_note}
        result = self._graphql(CANCEL_MUTATION, variables).get("orderCancel") or {}
        errors = result.get("orderCancelUserErrors") or result.get("userErrors") or []
        if errors:
            again = self.get_order(gid)
            said_already = any(_ALREADY.search(str(e.get("message"))) for e in errors)
            if (again is not None and again.cancelled_at) or said_already:
                return ShopifyCancel(gid, "already_cancelled")
            detail = "; ".join(f"{e.get('code')}: {e.get('message')}" for e in errors)
            raise PlatformRejected(f"shopify: orderCancel refused: {detail}", codes=[e.get("code") for e in errors])
        job = result.get("job") or {}
        return ShopifyCancel(gid, "cancelled" if job.get("done") else "cancelling", job.get("id"))
