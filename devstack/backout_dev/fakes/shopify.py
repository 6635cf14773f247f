"""A fake Shopify GraphQL Admin API, as far as Backout uses it.

``POST /admin/api/{version}/graphql.json`` with ``X-Shopify-Access-Token``
(401 ``{"errors": "[API] Invalid API key or access token ..."}`` otherwise).
The fake does not parse GraphQL: it recognises the three documents Backout
sends by their root field (``orderCancel``, ``order(``, ``job(``) and reads
the ``variables``.

* ``order(id)`` -> ``{id, cancelledAt, displayFinancialStatus}`` or null.
* ``orderCancel(orderId, reason, refundMethod, restock, notifyCustomer,
  staffNote)`` -> ``{job {id done}, orderCancelUserErrors}``. ``refundMethod``
  (``OrderCancelRefundMethodInput``: ``originalPaymentMethodsRefund`` Boolean
  or ``storeCreditRefund {expiresAt}``) is required, as in the reference
  example "$refundMethod: OrderCancelRefundMethodInput!"
  (https://shopify.dev/docs/api/admin-graphql/2026-07/mutations/orderCancel);
  the deprecated ``refund`` argument (deprecated since 2025-07,
  https://shopify.dev/changelog/ordercancel-mutation-now-supports-refunds-to-store-credit)
  is refused with a top-level ``argumentNotAccepted`` error. Whether 2026-01
  itself still accepts ``refund`` is unconfirmed; the fake is the stricter
  reading so that Backout cannot depend on it. An unknown
  order gives ``NOT_FOUND``, a cancelled one ``INVALID`` "Order has already
  been cancelled", one whose cancel job is still running ``INVALID`` "Order
  is already being cancelled" (these two messages are the fake's wording;
  Shopify's exact text is not documented). An invalid ``reason`` is a
  top-level GraphQL error. A cancel releases an AUTHORIZED payment (VOIDED)
  and refunds a PAID one when ``originalPaymentMethodsRefund`` is true
  (REFUNDED) or ``storeCreditRefund`` is given (the fake also shows
  REFUNDED; Shopify records a store-credit refund).
* ``job(id)`` -> ``{id, done}``. With ``cancel_job_polls = N`` a cancel stays
  pending (``cancelledAt`` null) until the job was read N times.

Knobs: :meth:`throttle_next` answers 200 with a ``THROTTLED`` error (as
Shopify does), besides the generic :meth:`fail_next` /
:meth:`drop_next_response`. Ledger op: ``cancel`` (``refund_method`` as sent,
``refund`` = whether money goes back, ``reason``, ``restock``, ...).
"""

from __future__ import annotations

import itertools
import re
from datetime import datetime, UTC
from typing import Any

from backout_dev.fakes._base import FakeServer, Request, Response

#: The Admin API version the fake serves (the adapter's pin; see backout.adapters.shopify.API_VERSION).
API_VERSION = "2026-01"
REASONS = frozenset({"CUSTOMER", "DECLINED", "FRAUD", "INVENTORY", "OTHER", "STAFF"})
_numbers = itertools.count(5_000_000)


class FakeShopify(FakeServer):
    """Stateful Shopify orders; seed them with :meth:`add_order`."""

    def __init__(self, access_token: str, api_version: str = API_VERSION) -> None:
        super().__init__()
        self.access_token = access_token
        self.path = f"/admin/api/{api_version}/graphql.json"
        self.orders: dict[str, dict[str, Any]] = {}
        self.jobs: dict[str, dict[str, Any]] = {}
        self.cancel_job_polls = 0
        self._throttle = 0

    def add_order(self, number: int | None = None, financial_status: str = "PAID") -> str:
        """A new open order; returns its GID."""
        with self.lock:
            gid = f"gid://shopify/Order/{number or next(_numbers)}"
            self.orders[gid] = {"id": gid, "cancelledAt": None, "displayFinancialStatus": financial_status}
            return gid

    def throttle_next(self, n: int = 1) -> None:
        """The next ``n`` calls answer 200 with a THROTTLED GraphQL error and do nothing."""
        with self.lock:
            self._throttle += n

    def fault_body(self, status: int) -> Any:
        return {"errors": "Internal Server Error" if status >= 500 else "Exceeded 2 calls per second for api client."}

    def handle(self, req: Request) -> Response:
        if req.method != "POST" or req.path != self.path:
            return Response(404, {"errors": "Not Found"})
        if req.header("X-Shopify-Access-Token") != self.access_token:
            return Response(401, {"errors": "[API] Invalid API key or access token "
                                            "(unrecognized login or wrong password)"})
        if self._throttle:
            self._throttle -= 1
            return Response(200, {"errors": [{"message": "Throttled", "extensions": {
                "code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"}}]})
        body = req.body if isinstance(req.body, dict) else {}
        query, variables = str(body.get("query") or ""), dict(body.get("variables") or {})
        if "orderCancel" in query:
            return self._cancel(variables, query)
        if re.search(r"\bjob\s*\(", query):
            return Response(200, {"data": {"job": self._job(str(variables.get("id")))}})
        if re.search(r"\border\s*\(", query):
            return Response(200, {"data": {"order": self.orders.get(str(variables.get("id")))}})
        return Response(200, {"errors": [{"message": "fake Shopify: unsupported document"}]})

    def _job(self, job_id: str) -> dict[str, Any] | None:
        job = self.jobs.get(job_id)
        if job is None:
            return None
        if not job["done"]:
            job["polls"] += 1
            if job["polls"] >= self.cancel_job_polls:
                self._finish(job)
        return {"id": job["id"], "done": job["done"]}

    def _finish(self, job: dict[str, Any]) -> None:
        order = self.orders[job["order_id"]]
        order["cancelledAt"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        status = order["displayFinancialStatus"]
        if status == "AUTHORIZED":
            order["displayFinancialStatus"] = "VOIDED"
        elif job["refund"] and status in ("PAID", "PARTIALLY_REFUNDED"):
            order["displayFinancialStatus"] = "REFUNDED"
        job["done"] = True

    def _cancel(self, v: dict[str, Any], query: str) -> Response:
        if re.search(r"\brefund\s*:", query) or "refund" in v:
            return Response(200, {"errors": [{"message": "Field 'orderCancel' doesn't accept argument 'refund'",
                                              "extensions": {"code": "argumentNotAccepted", "name": "orderCancel",
                                                             "typeName": "Field", "argumentName": "refund"}}]})
        method = v.get("refundMethod")
        if not isinstance(method, dict) or not ({"originalPaymentMethodsRefund", "storeCreditRefund"} & set(method)):
            return Response(200, {"errors": [{"message": "Variable $refundMethod of type "
                                                         "OrderCancelRefundMethodInput! was provided invalid value",
                                              "extensions": {"code": "INVALID_VARIABLE"}}]})
        if v.get("reason") not in REASONS:
            return Response(200, {"errors": [{"message": f"Variable $reason of type OrderCancelReason! was provided "
                                                         f"invalid value {v.get('reason')!r}",
                                              "extensions": {"code": "INVALID_VARIABLE"}}]})
        gid = str(v.get("orderId"))
        order = self.orders.get(gid)
        pending = any(j["order_id"] == gid and not j["done"] for j in self.jobs.values())
        error = None
        if order is None:
            error = {"code": "NOT_FOUND", "field": ["orderId"], "message": "Order does not exist"}
        elif order["cancelledAt"]:
            error = {"code": "INVALID", "field": ["orderId"], "message": "Order has already been cancelled"}
        elif pending:
            error = {"code": "INVALID", "field": ["orderId"], "message": "Order is already being cancelled"}
        if error:
            return Response(200, {"data": {"orderCancel": {"job": None, "orderCancelUserErrors": [error]}}})
        job_id = f"gid://shopify/Job/{len(self.jobs) + 1:08d}-fake"
        job = {"id": job_id, "order_id": gid, "done": False, "polls": 0,
               "refund": bool(method.get("originalPaymentMethodsRefund")) or "storeCreditRefund" in method}
        self.jobs[job_id] = job
        if self.cancel_job_polls <= 0:
            self._finish(job)
        self.record("cancel", order_id=gid, job_id=job_id, reason=v.get("reason"), refund_method=method,
                    refund=job["refund"], restock=v.get("restock"), notify_customer=v.get("notifyCustomer"), staff_note=v.get("staffNote"))
        return Response(200, {"data": {"orderCancel": {"job": {"id": job_id, "done": job["done"]},
                                                       "orderCancelUserErrors": []}}})
