"""PayPal (REST, Payments v2 + Orders v2 read) as a :class:`PaymentGateway`.

**payment_ref convention.** The order's payment reference is the PayPal id
WooCommerce stores as ``transaction_id`` (and PayPal webhooks carry): an
authorization id (intent AUTHORIZE) or a capture id (intent CAPTURE). A bare
id is resolved by reading it as an authorization first, then as a capture
(PayPal ids are unique across both; a 404 on both is PaymentNotAllowed).
``"auth:<id>"`` and ``"cap:<id>"`` name the kind explicitly and skip the probe.

**Calls.**

* Token: ``POST /v1/oauth2/token`` (Basic client id/secret, client
  credentials), cached until 60 s before ``expires_in``; a 401 on a cached
  token fetches a new one and repeats the call once.
* ``retrieve``: ``GET /v2/payments/authorizations/{id}``: CREATED ->
  authorized, VOIDED/EXPIRED -> voided, PENDING -> pending, CAPTURED /
  PARTIALLY_CAPTURED -> the captures of that authorization; DENIED and the
  rest -> unknown. ``GET /v2/payments/captures/{id}``: COMPLETED /
  PARTIALLY_REFUNDED / REFUNDED -> captured, PENDING -> pending. A capture
  whose ``status_details.reason`` is BUYER_COMPLAINT or CHARGEBACK is
  reported ``disputed``. ``captures`` lists every completed capture with
  what is refunded on it.
* Captures and refunds are listed from the order
  (``supplementary_data.related_ids.order_id`` -> ``GET
  /v2/checkout/orders/{id}``, ``purchase_units[].payments``): PayPal has no
  "list refunds of a capture" call. A capture belongs to an authorization by
  ``related_ids.authorization_id`` or its ``up`` link; a refund to a capture
  by its ``up`` link (or ``related_ids.capture_id``). Refunded = COMPLETED +
  PENDING refunds.
* ``void``: ``POST /v2/payments/authorizations/{id}/void`` with
  ``PayPal-Request-Id``; PREVIOUSLY_VOIDED, AUTHORIZATION_VOIDED and
  AUTHORIZATION_EXPIRED count as done; PREVIOUSLY_CAPTURED and
  CANNOT_BE_VOIDED raise PaymentNotAllowed.
* ``find_refund`` / ``create_refund``: each refund targets one capture
  (``capture_id``, or the payment's only completed capture). Backout's effect
  key goes into the refund's ``invoice_id`` (<= 127 chars; a longer key is
  replaced by ``backout:sha256:<hex>``), the lookup key; ``custom_id`` carries
  the Backout order id (``backout_order_id`` in ``metadata``), which is how the
  ``PAYMENT.CAPTURE.REFUNDED`` webhook finds its order. Refunds made before
  this convention carried the effect key in ``custom_id``; the lookup accepts
  both. ``create_refund`` posts ``{amount, invoice_id, custom_id,
  note_to_payer}`` with ``PayPal-Request-Id`` (PayPal keeps these for 45 days;
  the lookup covers the rest). Errors: CAPTURE_FULLY_REFUNDED and
  REFUND_AMOUNT_EXCEEDED -> OverRefund, issues about a dispute ->
  PaymentNotAllowed, other 4xx -> RefundFailed; 429/5xx/network ->
  TransientError.
* ``submit_dispute_evidence``: ``GET /v1/customer/disputes/{id}`` first; a
  dispute no longer WAITING_FOR_SELLER_RESPONSE, or with evidence the seller
  already submitted, is left alone. Otherwise ``POST
  /v1/customer/disputes/{id}/provide-evidence``, a multipart/form-data request
  whose ``input`` part is ``{"evidences": [...]}`` (PROOF_OF_FULFILLMENT with
  carrier and tracking number, PROOF_OF_REFUND with refund ids, OTHER with
  the policy and the cancellation record as notes).

Money crosses the wire as decimal strings and is converted with
:mod:`backout.money` (never float).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
import time
import urllib.error
import urllib.request
from typing import Any
from collections.abc import Callable

from backout.adapters.gateway import CaptureState, EvidenceSubmission, PaymentState, PaymentStatus, RefundRecord
from backout.adapters.paypal_evidence import multipart, paypal_evidences
from backout.adapters.http import RETRYABLE
from backout.errors import BackoutError, OverRefund, PaymentNotAllowed, RefundFailed, TransientError
from backout.money import to_decimal_string, to_minor

LIVE_BASE = "https://api-m.paypal.com"
DEFAULT_NOTE = "Refund for your cancelled order"
CUSTOM_ID_MAX = 127
_CAPTURED = ("COMPLETED", "PARTIALLY_REFUNDED", "REFUNDED")
_REFUND_STATUS = {"COMPLETED": "succeeded", "PENDING": "pending", "FAILED": "failed", "CANCELLED": "canceled"}
_DONE_VOID = {"PREVIOUSLY_VOIDED", "AUTHORIZATION_VOIDED", "AUTHORIZATION_EXPIRED"}
_OVER = {"CAPTURE_FULLY_REFUNDED", "REFUND_AMOUNT_EXCEEDED"}
_DISPUTE_REASONS = {"BUYER_COMPLAINT", "CHARGEBACK"}


def effect_tag(effect_key: str) -> str:
    """The ``invoice_id`` that marks a refund as created for ``effect_key`` (<= 127 chars)."""
    if len(effect_key) <= CUSTOM_ID_MAX and effect_key.isprintable():
        return effect_key
    return "backout:sha256:" + hashlib.sha256(effect_key.encode()).hexdigest()


def request_id_for(operation: str, effect_key: str) -> str:
    """A short, stable ``PayPal-Request-Id`` for one operation of one effect."""
    return f"backout-{operation}-" + hashlib.sha256(effect_key.encode()).hexdigest()[:48]


def parse_ref(payment_ref: str) -> tuple[str, str]:
    """``"auth:X"`` -> ("auth", "X"); ``"cap:Y"`` -> ("cap", "Y"); a bare id ``"Z"`` -> ("", "Z")
    (its kind is found by reading it); anything else is refused."""
    kind, sep, pid = payment_ref.partition(":")
    if not sep:
        kind, pid = "", payment_ref
    if kind not in ("", "auth", "cap") or not pid or not pid.replace("-", "").isalnum():
        raise PaymentNotAllowed(f"paypal: payment_ref must be a PayPal id, 'auth:<id>' or 'cap:<id>', "
                                f"not {payment_ref!r}")
    return kind, pid


def _refunded(refunds: list[dict[str, Any]], capture_id: str) -> int:
    """Completed and pending refunds of one capture, in minor units."""
    return sum(_minor(r["amount"]) for r in refunds
               if r.get("status") in ("COMPLETED", "PENDING") and _up_is(r, "capture", capture_id))


def _minor(money: dict[str, Any]) -> int:
    return to_minor(str(money["value"]), str(money["currency_code"]))


def _issue(body: Any) -> str:
    """PayPal's most specific error name: the first ``details[].issue``, else ``name``/``error``."""
    if not isinstance(body, dict):
        return "UNKNOWN"
    for detail in body.get("details") or []:
        if isinstance(detail, dict) and detail.get("issue"):
            return str(detail["issue"])
    return str(body.get("name") or body.get("error") or "UNKNOWN")


def _up_is(resource: dict[str, Any], kind: str, rid: str) -> bool:
    related = (resource.get("supplementary_data") or {}).get("related_ids") or {}
    if related.get(f"{kind}_id") == rid:
        return True
    return any(link.get("rel") == "up" and str(link.get("href", "")).endswith(f"/{kind}s/{rid}")
               for link in resource.get("links") or [])


class PayPalGateway:
    """Void, refund and inspect PayPal payments; every effect idempotent under its effect key."""

    name = "paypal"

    def __init__(self, base_url: str, client_id: str, client_secret: str, *, note_to_payer: str = DEFAULT_NOTE,
                 timeout: float = 8.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.base = base_url.rstrip("/")
        self.note_to_payer = note_to_payer[:255]
        self.timeout = timeout
        self._basic = "Basic " + base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
        self._clock = clock
        self._token: str | None = None
        self._token_expiry = 0.0
        self._lock = threading.Lock()
        self._kinds: dict[str, str] = {}  # bare id -> "auth" | "cap", once read

    @classmethod
    def from_credentials(cls) -> PayPalGateway:
        """Built from the provider-credentials secret (``paypal_client_id``, ``paypal_client_secret``,
        optional ``paypal_api_base``); ``PAYPAL_API_BASE`` overrides the base (local stack)."""
        from backout.credentials import provider_credentials

        creds = provider_credentials()
        base = os.environ.get("PAYPAL_API_BASE") or str(creds.get("paypal_api_base") or LIVE_BASE)
        return cls(base, str(creds["paypal_client_id"]), str(creds["paypal_client_secret"]))

    # -- HTTP --------------------------------------------------------------------------------
    def _send(self, method: str, path: str, headers: dict[str, str], data: bytes | None) -> tuple[int, Any]:
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Accept": "application/json", **headers})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310 - configured URL
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            raise TransientError(f"paypal {method} {path}: {exc}") from exc
        if status in RETRYABLE or status >= 500:
            raise TransientError(f"paypal {method} {path}: HTTP {status}")
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, {"name": "UNPARSEABLE", "message": raw[:300].decode("utf-8", "replace")}

    def _access_token(self, fail: type[BackoutError], refresh: bool = False) -> str:
        with self._lock:
            if not refresh and self._token and self._clock() < self._token_expiry:
                return self._token
            status, body = self._send("POST", "/v1/oauth2/token",
                                      {"Authorization": self._basic,
                                       "Content-Type": "application/x-www-form-urlencoded"},
                                      b"grant_type=client_credentials")
            if status != 200 or not isinstance(body, dict) or not body.get("access_token"):
                raise fail(f"paypal: token request refused: HTTP {status} {_issue(body)}")
            self._token = str(body["access_token"])
            self._token_expiry = self._clock() + max(0, int(body.get("expires_in") or 0) - 60)
            return self._token

    def _api(self, method: str, path: str, *, body: Any = None, headers: dict[str, str] | None = None,
             fail: type[BackoutError] = PaymentNotAllowed, raw: tuple[bytes, str] | None = None
             ) -> tuple[int, Any]:
        """An authenticated call; returns (status, body) for 2xx and 4xx (5xx/429 raise TransientError).

        ``body`` is sent as JSON; ``raw`` is ``(bytes, content type)`` for anything else."""
        data, content_type = raw or ((json.dumps(body).encode() if body is not None else None), "application/json")
        extra = {"Content-Type": content_type, **(headers or {})}
        for attempt in (0, 1):
            token = self._access_token(fail, refresh=attempt == 1)
            status, answer = self._send(method, path, {"Authorization": f"Bearer {token}", **extra}, data)
            if status != 401:
                return status, answer
        raise fail(f"paypal {method} {path}: authentication failed ({_issue(answer)})")

    def _get(self, path: str, fail: type[BackoutError] = PaymentNotAllowed) -> dict[str, Any]:
        status, body = self._api("GET", path, fail=fail)
        if status != 200 or not isinstance(body, dict):
            raise fail(f"paypal GET {path}: HTTP {status} {_issue(body)}")
        return body

    # -- reading -----------------------------------------------------------------------------
    def _payments(self, resource: dict[str, Any], fail: type[BackoutError]) -> dict[str, list[dict[str, Any]]]:
        """The ``payments`` collections of the order a resource belongs to."""
        order_id = ((resource.get("supplementary_data") or {}).get("related_ids") or {}).get("order_id")
        if not order_id:
            raise fail(f"paypal: {resource.get('id')} has no related order; its refunds cannot be listed")
        order = self._get(f"/v2/checkout/orders/{order_id}", fail)
        merged: dict[str, list[dict[str, Any]]] = {"captures": [], "refunds": []}
        for unit in order.get("purchase_units") or []:
            payments = unit.get("payments") or {}
            for key, items in merged.items():
                items.extend(payments.get(key) or [])
        return merged

    def _kind(self, payment_ref: str, fail: type[BackoutError] = PaymentNotAllowed) -> tuple[str, str]:
        """("auth" | "cap", id) of a ref; a bare id is read as an authorization, then as a capture."""
        kind, pid = parse_ref(payment_ref)
        if kind:
            return kind, pid
        if pid not in self._kinds:
            for probe, collection in (("auth", "authorizations"), ("cap", "captures")):
                status, body = self._api("GET", f"/v2/payments/{collection}/{pid}", fail=fail)
                if status == 200:
                    self._kinds[pid] = probe
                    break
                if status != 404:
                    raise fail(f"paypal GET /v2/payments/{collection}/{pid}: HTTP {status} {_issue(body)}")
            else:
                raise fail(f"paypal: {pid} is neither an authorization nor a capture (RESOURCE_NOT_FOUND)")
        return self._kinds[pid], pid

    def _captures(self, payment_ref: str, fail: type[BackoutError], auth: dict[str, Any] | None = None
                  ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(captures, refunds of those captures) behind a ref (``auth``: the authorization, if already read)."""
        kind, pid = self._kind(payment_ref, fail)
        if kind == "cap":
            capture = self._get(f"/v2/payments/captures/{pid}", fail)
            payments = self._payments(capture, fail)
            captures = [capture]
        else:
            auth = auth or self._get(f"/v2/payments/authorizations/{pid}", fail)
            payments = self._payments(auth, fail)
            captures = [c for c in payments["captures"] if _up_is(c, "authorization", pid)]
        refunds = [r for r in payments["refunds"] if any(_up_is(r, "capture", str(c["id"])) for c in captures)]
        return captures, refunds

    def _capture(self, payment_ref: str, capture_id: str | None, fail: type[BackoutError]
                 ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The capture to refund (``capture_id``, else the only completed one) and its refunds."""
        captures, refunds = self._captures(payment_ref, fail)
        live = [c for c in captures if c.get("status") in _CAPTURED]
        if capture_id is not None:
            live = [c for c in live if c["id"] == capture_id]
            if not live:
                raise PaymentNotAllowed(f"paypal: {capture_id} is not a completed capture of {payment_ref}")
        if len(live) != 1:
            raise PaymentNotAllowed(f"paypal: {payment_ref} has {len(live)} completed captures; name the capture")
        cap_id = str(live[0]["id"])
        return live[0], [r for r in refunds if _up_is(r, "capture", cap_id)]

    def retrieve(self, payment_ref: str) -> PaymentState:
        """The payment's truth: authorized, voided, captured (with refunds) or pending."""
        kind, pid = self._kind(payment_ref)
        authorized = 0
        auth: dict[str, Any] | None = None
        if kind == "auth":
            auth = self._get(f"/v2/payments/authorizations/{pid}")
            currency, authorized = str(auth["amount"]["currency_code"]).upper(), _minor(auth["amount"])
            simple: dict[str, PaymentStatus] = {"CREATED": "authorized", "VOIDED": "voided", "EXPIRED": "voided",
                                                "PENDING": "pending"}
            if auth.get("status") in ("VOIDED", "EXPIRED"):  # a capture made before still has to be refunded
                behind, _ = self._captures(payment_ref, PaymentNotAllowed, auth)
                if not behind:
                    return PaymentState(payment_ref, "voided", currency, authorized, 0, 0)
            elif auth.get("status") in simple:
                return PaymentState(payment_ref, simple[str(auth["status"])], currency, authorized, 0, 0)
            elif auth.get("status") not in ("CAPTURED", "PARTIALLY_CAPTURED"):
                return PaymentState(payment_ref, "unknown", currency, authorized, 0, 0)
        captures, refunds = self._captures(payment_ref, PaymentNotAllowed, auth)
        if not captures:
            raise PaymentNotAllowed(f"paypal: no capture found behind {payment_ref}")
        currency = str(captures[0]["amount"]["currency_code"]).upper()
        states = tuple(CaptureState(str(c["id"]), _minor(c["amount"]), _refunded(refunds, str(c["id"])))
                       for c in captures if c.get("status") in _CAPTURED)
        captured = sum(c.captured for c in states)
        refunded = sum(c.refunded for c in states)
        disputed = any((c.get("status_details") or {}).get("reason") in _DISPUTE_REASONS for c in captures)
        status: PaymentStatus = "captured" if captured else (
            "pending" if any(c.get("status") == "PENDING" for c in captures) else "unknown")
        held = authorized - captured if auth and auth.get("status") == "PARTIALLY_CAPTURED" else 0
        return PaymentState(payment_ref, status, currency, authorized or captured, captured, refunded, disputed,
                            captures=states, held=max(0, held))

    # -- effects -----------------------------------------------------------------------------
    def void(self, payment_ref: str, effect_key: str) -> None:
        """Void an authorization; already voided or expired counts as done."""
        kind, pid = self._kind(payment_ref)
        if kind != "auth":
            raise PaymentNotAllowed(f"paypal: {payment_ref} is a capture; it can only be refunded")
        status, body = self._api("POST", f"/v2/payments/authorizations/{pid}/void",
                                 headers={"PayPal-Request-Id": request_id_for("void", effect_key),
                                          "Prefer": "return=minimal"})
        if status in (200, 204):
            return
        issue = _issue(body)
        if issue in _DONE_VOID:
            return
        raise PaymentNotAllowed(f"paypal: void of {pid} refused: HTTP {status} {issue}")

    def find_refund(self, payment_ref: str, effect_key: str, capture_id: str | None = None) -> RefundRecord | None:
        """A refund created earlier for this effect (found by ``invoice_id``, or a legacy ``custom_id``), if any."""
        _, refunds = self._capture(payment_ref, capture_id, RefundFailed)
        tag = effect_tag(effect_key)
        for refund in refunds:
            if tag in (refund.get("invoice_id"), refund.get("custom_id")):
                return self._record(refund, None)
        return None

    def create_refund(self, payment_ref: str, amount: int, effect_key: str, metadata: dict[str, str],
                      capture_id: str | None = None) -> RefundRecord:
        """Refund ``amount`` (minor units) of one capture, tagged with the effect key."""
        capture, _ = self._capture(payment_ref, capture_id, RefundFailed)
        currency = str(capture["amount"]["currency_code"]).upper()
        order_id = str(metadata.get("backout_order_id") or "")
        body = {"amount": {"value": to_decimal_string(amount, currency), "currency_code": currency},
                "invoice_id": effect_tag(effect_key), "note_to_payer": self.note_to_payer,
                **({"custom_id": order_id} if 0 < len(order_id) <= CUSTOM_ID_MAX else {})}
        status, answer = self._api("POST", f"/v2/payments/captures/{capture['id']}/refund", body=body,
                                   headers={"PayPal-Request-Id": request_id_for("refund", effect_key),
                                            "Prefer": "return=representation"}, fail=RefundFailed)
        if status in (200, 201) and isinstance(answer, dict):
            return self._record(answer, (amount, currency))
        issue = _issue(answer)
        if issue in _OVER:
            raise OverRefund(f"paypal: {issue} on capture {capture['id']}", issue=issue)
        if "DISPUTE" in issue or issue == "REFUND_NOT_PERMITTED_DUE_TO_CHARGEBACK":  # a dispute, not a failure
            raise PaymentNotAllowed(f"paypal: {issue} on capture {capture['id']}", issue=issue)
        raise RefundFailed(f"paypal: refund of capture {capture['id']} refused: HTTP {status} {issue}", issue=issue)

    # -- disputes ----------------------------------------------------------------------------
    def submit_dispute_evidence(self, dispute_id: str, evidence: dict[str, Any],
                                effect_key: str) -> EvidenceSubmission:
        """Provide the bundle as evidence, unless the seller's evidence is already in."""
        if not dispute_id.replace("-", "").isalnum():
            raise PaymentNotAllowed(f"paypal: malformed dispute id {dispute_id!r}")
        path = f"/v1/customer/disputes/{dispute_id}"
        dispute = self._get(path)
        mine = [e for e in dispute.get("evidences") or [] if e.get("source") == "SUBMITTED_BY_SELLER"]
        if mine or dispute.get("status") != "WAITING_FOR_SELLER_RESPONSE":
            return EvidenceSubmission(dispute_id, str(dispute.get("status")), submitted=False)
        evidences = paypal_evidences(evidence)
        data, content_type = multipart({"input": json.dumps({"evidences": evidences})})
        status, answer = self._api("POST", f"{path}/provide-evidence", raw=(data, content_type),
                                   headers={"PayPal-Request-Id": request_id_for("evidence", effect_key)})
        if status != 200:
            raise PaymentNotAllowed(f"paypal: evidence for {dispute_id} refused: HTTP {status} {_issue(answer)}")
        after = self._get(path)
        return EvidenceSubmission(dispute_id, str(after.get("status")), submitted=True,
                                  fields=tuple(e["evidence_type"] for e in evidences))

    @staticmethod
    def _record(refund: dict[str, Any], asked: tuple[int, str] | None) -> RefundRecord:
        money = refund.get("amount")
        amount, currency = (_minor(money), str(money["currency_code"]).upper()) if money else asked or (0, "")
        return RefundRecord(str(refund["id"]), amount, currency,
                            _REFUND_STATUS.get(str(refund.get("status")), "pending"))
