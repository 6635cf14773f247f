"""A fake PayPal REST API: OAuth2 tokens, Payments v2 and the Orders v2 read.

Endpoints (as PayPal documents them):

* ``POST /v1/oauth2/token`` - HTTP Basic ``client_id:secret``, form body
  ``grant_type=client_credentials``; 401 ``invalid_client`` otherwise.
* ``GET /v2/payments/authorizations/{id}``, ``POST .../{id}/void`` (204, or 200
  with ``Prefer: return=representation``). Void errors (422):
  ``PREVIOUSLY_VOIDED``, ``PREVIOUSLY_CAPTURED``, ``AUTHORIZATION_EXPIRED``,
  ``CANNOT_BE_VOIDED``.
* ``GET /v2/payments/captures/{id}``, ``POST .../{id}/refund`` (201; empty body
  = refund what is left). Refund errors (422): ``CAPTURE_FULLY_REFUNDED``,
  ``REFUND_AMOUNT_EXCEEDED``, ``CAPTURE_DISPUTED_PARTIAL_REFUND_NOT_ALLOWED``,
  ``REFUND_NOT_PERMITTED_DUE_TO_CHARGEBACK`` (a capture under a card chargeback, ``chargeback``;
  https://developer.paypal.com/api/rest/reference/orders/v2/errors/ lists it: "Refunds not allowed on
  this capture due to a chargeback on the card or bank").
* ``GET /v2/payments/refunds/{id}`` and ``GET /v2/checkout/orders/{id}`` (its
  ``purchase_units[].payments`` lists authorizations, captures and refunds).
* ``GET /v1/customer/disputes/{id}`` and ``POST .../{id}/provide-evidence``
  (multipart/form-data only, as PayPal documents it; the ``input`` part holds
  ``{"evidences": [...]}``; 200 with a ``self`` link). Evidence is accepted
  while the dispute is WAITING_FOR_SELLER_RESPONSE and moves it to
  UNDER_REVIEW; otherwise 422 ``NOT_AUTHORIZED`` (issue name unconfirmed).
  A body that is not multipart, or without ``evidences``, is 400
  ``INVALID_REQUEST``; PROOF_OF_FULFILLMENT without a tracking number is 400
  ``MISSING_TRACKING_INFO`` (unconfirmed).

Every ``/v2`` call needs ``Authorization: Bearer <token>`` (401
``AUTHENTICATION_FAILURE``); unknown ids are 404 ``RESOURCE_NOT_FOUND``. Void
and refund replay their first answer for a repeated ``PayPal-Request-Id``.
Ledger ops: ``token``, ``void``, ``refund``, ``evidence``.

Seed disputes with :meth:`FakePayPal.open_dispute`; settle a PENDING refund with
:meth:`FakePayPal.set_refund_status` (what PayPal reports later by webhook).
"""

from __future__ import annotations

import base64
import email.parser
import email.policy
import itertools
import json
import re
import secrets
import time
from collections.abc import Callable
from typing import Any

from backout.money import to_decimal_string, to_minor
from backout_dev.fakes._base import FakeServer, Request, Response

_ids = itertools.count(1)


def _pid(prefix: str) -> str:
    """A PayPal-looking id (upper-case alphanumerics)."""
    return f"{prefix}{next(_ids):06d}{secrets.token_hex(4).upper()}"


def _error(status: int, name: str, issue: str | None = None, message: str = "") -> Response:
    details = [{"issue": issue, "description": message or issue}] if issue else []
    return Response(status, {"name": name, "message": message or name, "debug_id": secrets.token_hex(6),
                             "details": details})


class FakePayPal(FakeServer):
    """Stateful PayPal; seed payments with :meth:`authorize`, :meth:`capture` or :meth:`charge`."""

    def __init__(self, client_id: str, client_secret: str, token_ttl: int = 32400) -> None:
        super().__init__()
        self.basic = "Basic " + base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
        self.token_ttl = token_ttl
        self.tokens: dict[str, float] = {}
        self.orders: dict[str, dict[str, Any]] = {}
        self.authorizations: dict[str, dict[str, Any]] = {}
        self.captures: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self.disputes: dict[str, dict[str, Any]] = {}
        self.refund_status = "COMPLETED"
        """Status given to new refunds (``PENDING`` to model an eCheck refund)."""

    # -- seeding -----------------------------------------------------------------------------
    def _order(self, intent: str) -> str:
        order_id = _pid("O")
        self.orders[order_id] = {"id": order_id, "intent": intent, "status": "COMPLETED"}
        return order_id

    def authorize(self, amount: str, currency: str = "USD") -> str:
        """A new order with one authorization (status CREATED); returns the authorization id."""
        with self.lock:
            order_id, auth_id = self._order("AUTHORIZE"), _pid("A")
            self.authorizations[auth_id] = {
                "id": auth_id, "status": "CREATED", "amount": {"currency_code": currency, "value": amount},
                "supplementary_data": {"related_ids": {"order_id": order_id}},
                "links": [{"rel": "self", "method": "GET", "href": f"{self.url}/v2/payments/authorizations/{auth_id}"}]}
            return auth_id

    def capture(self, auth_id: str, amount: str | None = None) -> str:
        """Capture an authorization (all of it by default); returns the capture id."""
        with self.lock:
            auth = self.authorizations[auth_id]
            money = dict(auth["amount"], value=amount or auth["amount"]["value"])
            partial = to_minor(money["value"], money["currency_code"]) < self._minor(auth["amount"])
            auth["status"] = "PARTIALLY_CAPTURED" if partial else "CAPTURED"
            order_id = auth["supplementary_data"]["related_ids"]["order_id"]
            return self._add_capture(money, order_id, auth_id)

    def charge(self, amount: str, currency: str = "USD") -> str:
        """A new order captured at once (intent CAPTURE); returns the capture id."""
        with self.lock:
            return self._add_capture({"currency_code": currency, "value": amount}, self._order("CAPTURE"), None)

    def _add_capture(self, money: dict[str, str], order_id: str, auth_id: str | None) -> str:
        cap_id = _pid("C")
        related = {"order_id": order_id, **({"authorization_id": auth_id} if auth_id else {})}
        links = [{"rel": "self", "method": "GET", "href": f"{self.url}/v2/payments/captures/{cap_id}"}]
        if auth_id:
            links.append({"rel": "up", "method": "GET", "href": f"{self.url}/v2/payments/authorizations/{auth_id}"})
        self.captures[cap_id] = {"id": cap_id, "status": "COMPLETED", "amount": money, "final_capture": True,
                                 "supplementary_data": {"related_ids": related}, "links": links}
        return cap_id

    def set_authorization_status(self, auth_id: str, status: str) -> None:
        """Force a status (EXPIRED, DENIED, PENDING, ...)."""
        with self.lock:
            self.authorizations[auth_id]["status"] = status

    def dispute(self, capture_id: str) -> None:
        """Mark a capture as under a buyer complaint."""
        with self.lock:
            self.captures[capture_id]["status_details"] = {"reason": "BUYER_COMPLAINT"}

    def chargeback(self, capture_id: str) -> None:
        """A card chargeback on the capture: PayPal then refuses every refund of it."""
        with self.lock:
            self.captures[capture_id]["status_details"] = {"reason": "CHARGEBACK"}

    def open_dispute(self, capture_id: str, reason: str = "MERCHANDISE_OR_SERVICE_NOT_RECEIVED",
                     custom: str | None = None) -> str:
        """A buyer complaint on a capture (status WAITING_FOR_SELLER_RESPONSE); returns the dispute id."""
        with self.lock:
            self.captures[capture_id]["status_details"] = {"reason": "BUYER_COMPLAINT"}
            dispute_id = f"PP-D-{next(_ids):06d}"
            now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
            self.disputes[dispute_id] = {
                "dispute_id": dispute_id, "create_time": now, "update_time": now, "reason": reason,
                "status": "WAITING_FOR_SELLER_RESPONSE", "dispute_life_cycle_stage": "INQUIRY",
                "dispute_amount": dict(self.captures[capture_id]["amount"]),
                "disputed_transactions": [{"seller_transaction_id": capture_id, "custom": custom}],
                "evidences": [],
                "links": [{"href": f"{self.url}/v1/customer/disputes/{dispute_id}", "rel": "self", "method": "GET"},
                          {"href": f"{self.url}/v1/customer/disputes/{dispute_id}/provide-evidence",
                           "rel": "provide_evidence", "method": "POST"}]}
            return dispute_id

    def set_refund_status(self, refund_id: str, status: str) -> dict[str, Any]:
        """Settle a refund (PENDING -> COMPLETED or FAILED); returns the refund as a webhook carries it."""
        with self.lock:
            self.refunds[refund_id]["status"] = status
            return self._public(self.refunds[refund_id])

    def revoke_tokens(self) -> None:
        """Expire every access token (the next call with one gets 401)."""
        with self.lock:
            self.tokens.clear()

    # -- helpers -----------------------------------------------------------------------------
    @staticmethod
    def _minor(money: dict[str, str]) -> int:
        return to_minor(money["value"], money["currency_code"])

    def refunded_minor(self, capture_id: str) -> int:
        """What is refunded (completed or pending) on a capture, in minor units."""
        return sum(self._minor(r["amount"]) for r in self.refunds.values()
                   if r["capture_id"] == capture_id and r["status"] in ("COMPLETED", "PENDING"))

    def fault_body(self, status: int) -> Any:
        name = "RATE_LIMIT_REACHED" if status == 429 else "INTERNAL_SERVER_ERROR"
        return {"name": name, "message": "injected fault", "debug_id": secrets.token_hex(6)}

    @staticmethod
    def _public(resource: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in resource.items() if k != "capture_id"}

    # -- routing -----------------------------------------------------------------------------
    def handle(self, req: Request) -> Response:
        if req.path == "/v1/oauth2/token" and req.method == "POST":
            return self._token(req)
        token = (req.header("Authorization") or "").removeprefix("Bearer ")
        if self.tokens.get(token, 0) < time.monotonic():
            return _error(401, "AUTHENTICATION_FAILURE", None,
                          "Authentication failed due to invalid authentication credentials or a missing "
                          "Authorization header.")
        routes: list[tuple[str, str, Callable[[str], Response]]] = [
            ("GET", r"/v2/payments/authorizations/(\w+)", lambda m: self._get(self.authorizations, m)),
            ("POST", r"/v2/payments/authorizations/(\w+)/void", lambda m: self._void(req, m)),
            ("GET", r"/v2/payments/captures/(\w+)", lambda m: self._get(self.captures, m)),
            ("POST", r"/v2/payments/captures/(\w+)/refund", lambda m: self._refund(req, m)),
            ("GET", r"/v2/payments/refunds/(\w+)", lambda m: self._get(self.refunds, m)),
            ("GET", r"/v2/checkout/orders/(\w+)", lambda m: self._show_order(m)),
            ("GET", r"/v1/customer/disputes/([\w-]+)", lambda m: self._get_dispute(m)),
            ("POST", r"/v1/customer/disputes/([\w-]+)/provide-evidence", lambda m: self._provide_evidence(req, m)),
        ]
        for method, pattern, action in routes:
            match = re.fullmatch(pattern, req.path)
            if match and req.method == method:
                return action(match.group(1))
        return _error(404, "RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID", "The specified resource does not exist.")

    def _token(self, req: Request) -> Response:
        if req.header("Authorization") != self.basic:
            return Response(401, {"error": "invalid_client", "error_description": "Client Authentication failed"})
        if (req.body or {}).get("grant_type") != "client_credentials":
            return Response(400, {"error": "unsupported_grant_type", "error_description": "Grant Type is NULL"})
        token = "A21AA" + secrets.token_urlsafe(24)
        self.tokens[token] = time.monotonic() + self.token_ttl
        self.record("token")
        return Response(200, {"scope": "https://uri.paypal.com/services/payments/refund", "access_token": token,
                              "token_type": "Bearer", "app_id": "APP-FAKE", "expires_in": self.token_ttl,
                              "nonce": secrets.token_hex(8)})

    def _get(self, table: dict[str, dict[str, Any]], rid: str) -> Response:
        if rid not in table:
            return _error(404, "RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID", "Specified resource ID does not exist.")
        return Response(200, self._public(table[rid]))

    def _show_order(self, order_id: str) -> Response:
        if order_id not in self.orders:
            return _error(404, "RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID", "Specified resource ID does not exist.")

        def mine(table: dict[str, dict[str, Any]], key: str) -> list[dict[str, Any]]:
            return [self._public(r) for r in table.values() if r["supplementary_data"]["related_ids"][key] == order_id]

        payments = {"authorizations": mine(self.authorizations, "order_id"),
                    "captures": mine(self.captures, "order_id"),
                    "refunds": [self._public(r) for r in self.refunds.values()
                                if self.captures[r["capture_id"]]["supplementary_data"]["related_ids"]["order_id"]
                                == order_id]}
        return Response(200, {**self.orders[order_id], "purchase_units": [{"reference_id": "default",
                                                                             "payments": payments}]})

    def _void(self, req: Request, auth_id: str) -> Response:
        return self.idempotent(f"void:{auth_id}", req.header("PayPal-Request-Id"), "",
                               lambda: self._do_void(req, auth_id))

    def _do_void(self, req: Request, auth_id: str) -> Response:
        auth = self.authorizations.get(auth_id)
        if auth is None:
            return _error(404, "RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID", "Specified resource ID does not exist.")
        problem = {"VOIDED": "PREVIOUSLY_VOIDED", "CAPTURED": "PREVIOUSLY_CAPTURED",
                   "EXPIRED": "AUTHORIZATION_EXPIRED"}.get(auth["status"])
        if problem is None and auth["status"] not in ("CREATED", "PARTIALLY_CAPTURED"):
            problem = "CANNOT_BE_VOIDED"
        if problem:
            return _error(422, "UNPROCESSABLE_ENTITY", problem, f"Authorization is {auth['status']}.")
        auth["status"] = "VOIDED"
        self.record("void", authorization_id=auth_id, request_id=req.header("PayPal-Request-Id"))
        if "return=representation" in (req.header("Prefer") or ""):
            return Response(200, auth)
        return Response(204)

    def _refund(self, req: Request, cap_id: str) -> Response:
        return self.idempotent(f"refund:{cap_id}", req.header("PayPal-Request-Id"), "",
                               lambda: self._do_refund(req, cap_id))

    def _do_refund(self, req: Request, cap_id: str) -> Response:
        cap = self.captures.get(cap_id)
        if cap is None:
            return _error(404, "RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID", "Specified resource ID does not exist.")
        body = req.body if isinstance(req.body, dict) else {}
        currency = cap["amount"]["currency_code"]
        left = self._minor(cap["amount"]) - self.refunded_minor(cap_id)
        if left <= 0:
            return _error(422, "UNPROCESSABLE_ENTITY", "CAPTURE_FULLY_REFUNDED",
                          "The capture has already been fully refunded.")
        money = body.get("amount") or {"currency_code": currency, "value": to_decimal_string(left, currency)}
        try:
            if money.get("currency_code") != currency:
                raise ValueError("currency")
            amount = to_minor(str(money.get("value")), currency)
        except (ValueError, TypeError):
            return _error(400, "INVALID_REQUEST", "INVALID_PARAMETER_VALUE", "amount is not valid for this capture.")
        if amount <= 0:
            return _error(400, "INVALID_REQUEST", "INVALID_PARAMETER_VALUE", "amount must be positive.")
        if amount > left:
            return _error(422, "UNPROCESSABLE_ENTITY", "REFUND_AMOUNT_EXCEEDED",
                          "The refund amount must be less than or equal to the capture amount that has not "
                          "yet been refunded.")
        if cap.get("status_details", {}).get("reason") == "CHARGEBACK":
            return _error(422, "UNPROCESSABLE_ENTITY", "REFUND_NOT_PERMITTED_DUE_TO_CHARGEBACK",
                          "Refunds not allowed on this capture due to a chargeback on the card or bank.")
        if cap.get("status_details", {}).get("reason") == "BUYER_COMPLAINT" and amount < left:
            return _error(422, "UNPROCESSABLE_ENTITY", "CAPTURE_DISPUTED_PARTIAL_REFUND_NOT_ALLOWED",
                          "Partial refunds are not allowed on a disputed capture.")
        ref_id = _pid("R")
        refund = {"id": ref_id, "status": self.refund_status, "amount": {"currency_code": currency,
                                                                         "value": to_decimal_string(amount, currency)},
                  "custom_id": body.get("custom_id"), "invoice_id": body.get("invoice_id"),
                  "note_to_payer": body.get("note_to_payer"), "capture_id": cap_id,
                  "links": [{"rel": "self", "method": "GET", "href": f"{self.url}/v2/payments/refunds/{ref_id}"},
                            {"rel": "up", "method": "GET", "href": f"{self.url}/v2/payments/captures/{cap_id}"}]}
        self.refunds[ref_id] = refund
        cap["status"] = "REFUNDED" if amount == left else "PARTIALLY_REFUNDED"
        self.record("refund", capture_id=cap_id, refund_id=ref_id, amount=amount, currency=currency,
                    custom_id=body.get("custom_id"), invoice_id=body.get("invoice_id"),
                    request_id=req.header("PayPal-Request-Id"))
        if "return=representation" in (req.header("Prefer") or ""):
            return Response(201, self._public(refund))
        return Response(201, {"id": ref_id, "status": refund["status"], "links": refund["links"]})

    # -- disputes ----------------------------------------------------------------------------
    def _get_dispute(self, dispute_id: str) -> Response:
        if dispute_id not in self.disputes:
            return _error(404, "RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID", "Specified resource ID does not exist.")
        return Response(200, self.disputes[dispute_id])

    def _provide_evidence(self, req: Request, dispute_id: str) -> Response:
        dispute = self.disputes.get(dispute_id)
        if dispute is None:
            return _error(404, "RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID", "Specified resource ID does not exist.")
        evidences = _multipart_input(req).get("evidences")
        if not isinstance(evidences, list) or not evidences:
            return _error(400, "INVALID_REQUEST", "MISSING_REQUIRED_PARAMETER", "evidences is required (multipart "
                          "part 'input').")
        for ev in evidences:
            tracking = ((ev.get("evidence_info") or {}).get("tracking_info") or [{}])[0]
            if ev.get("evidence_type") == "PROOF_OF_FULFILLMENT" and not tracking.get("tracking_number"):
                return _error(400, "INVALID_REQUEST", "MISSING_TRACKING_INFO", "tracking_number is required.")
        if dispute["status"] != "WAITING_FOR_SELLER_RESPONSE":
            return _error(422, "UNPROCESSABLE_ENTITY", "NOT_AUTHORIZED",
                          f"Evidence cannot be provided while the dispute is {dispute['status']}.")
        now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
        dispute["evidences"].extend({**ev, "source": "SUBMITTED_BY_SELLER", "date": now} for ev in evidences)
        dispute.update(status="UNDER_REVIEW", update_time=now)
        self.record("evidence", dispute_id=dispute_id, evidence_types=[ev.get("evidence_type") for ev in evidences],
                    request_id=req.header("PayPal-Request-Id"))
        return Response(200, {"links": [{"href": f"{self.url}/v1/customer/disputes/{dispute_id}", "rel": "self",
                                         "method": "GET"}]})


def _multipart_input(req: Request) -> dict[str, Any]:
    """The JSON ``input`` part of a multipart/form-data request ({} when there is none)."""
    content_type = req.header("Content-Type") or ""
    if not content_type.startswith("multipart/form-data"):
        return {}
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + req.raw)
    for part in message.iter_parts():
        if part.get_param("name", header="content-disposition") == "input":
            try:
                value = json.loads(part.get_payload(decode=True) or b"{}")
            except ValueError:
                return {}
            return value if isinstance(value, dict) else {}
    return {}
