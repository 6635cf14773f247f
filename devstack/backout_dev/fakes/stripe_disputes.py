"""A fake of Stripe's disputes endpoints (dev and tests only, never deployed).

localstripe, the local Stripe, has no disputes. This fake serves just the part
of Stripe's API that Backout uses for them, with Stripe's shapes, on its own
port; the local stack points ``STRIPE_DISPUTES_API_BASE`` at it, so only
dispute calls leave localstripe (``StripeGateway._disputes``).

Endpoints (form-encoded like every Stripe call, ``Authorization: Bearer <key>``):

* ``GET /v1/disputes/{id}`` - the Dispute: ``id, object, amount, currency,
  charge, payment_intent, reason, status, evidence{...}, evidence_details{due_by,
  has_evidence, past_due, submission_count}, metadata, is_charge_refundable``;
* ``GET /v1/disputes?payment_intent=`` - a list object;
* ``POST /v1/disputes/{id}`` - ``evidence[<field>]``, ``metadata[<key>]``,
  ``submit``. Only Stripe's evidence field names are accepted (400 "Received
  unknown parameter"); more than 20,000 characters in a text field or
  150,000 in all fields together (what is stored plus the update) is a 400
  ``invalid_request_error``. ``submit=true`` moves ``needs_response`` ->
  ``under_review`` (``warning_needs_response`` -> ``warning_under_review``)
  and counts a submission; any update of a dispute past those statuses is a
  400 ``invalid_request_error`` (Stripe's wording is not reproduced);
* ``POST /v1/disputes/{id}/close`` - accept the dispute: ``lost``.

Stripe's dispute statuses (https://docs.stripe.com/api/disputes/object):
``warning_needs_response``, ``warning_under_review``, ``warning_closed`` (an
inquiry, before any chargeback), ``needs_response``, ``under_review``, ``won``,
``lost`` (and ``prevented``, not modelled). The card network decides a
dispute; the local stack decides it with :meth:`FakeStripeDisputes.close_dispute`
(``won`` or ``lost``; an inquiry closes as ``warning_closed`` and is never
lost). A lost dispute's amount went to the buyer through the card network:
ledger op ``dispute_lost`` and :meth:`FakeStripeDisputes.lost_minor`, so that a
test can add it to the refunds that succeeded on localstripe.

401 for a wrong key, 404 ``resource_missing`` for an unknown id. A repeated
``Idempotency-Key`` replays the first answer; the same key with other
parameters is a 400 ``idempotency_error``. Seed disputes with
:meth:`FakeStripeDisputes.open_dispute`. Ledger ops: ``evidence_submitted``,
``dispute_closed``, ``dispute_lost``.
"""

from __future__ import annotations

import itertools
import re
import secrets
import time
from typing import Any

from backout_dev.fakes._base import FakeServer, Request, Response

#: "The combined character count of all fields is limited to 150,000"
#: (https://docs.stripe.com/api/disputes/update#update_dispute-evidence); each text field holds 20,000.
#: Stripe's error wording for these two limits is not documented: the messages below are the fake's.
EVIDENCE_TOTAL_MAX = 150_000
EVIDENCE_TEXT_MAX = 20_000
#: Stripe's dispute evidence fields (text fields and file ids).
EVIDENCE_FIELDS = (
    "access_activity_log", "billing_address", "cancellation_policy", "cancellation_policy_disclosure",
    "cancellation_rebuttal", "customer_communication", "customer_email_address", "customer_name",
    "customer_purchase_ip", "customer_signature", "duplicate_charge_documentation", "duplicate_charge_explanation",
    "duplicate_charge_id", "product_description", "receipt", "refund_policy", "refund_policy_disclosure",
    "refund_refusal_explanation", "service_date", "service_documentation", "shipping_address", "shipping_carrier",
    "shipping_date", "shipping_documentation", "shipping_tracking_number", "uncategorized_file", "uncategorized_text",
)  # fmt: skip
_OPEN = {"needs_response": "under_review", "warning_needs_response": "warning_under_review"}
_INQUIRY = ("warning_needs_response", "warning_under_review")
_CHARGEBACK = ("needs_response", "under_review")
_ids = itertools.count(1)


def _error(status: int, message: str, *, type_: str = "invalid_request_error", code: str | None = None,
           param: str | None = None) -> Response:
    err: dict[str, Any] = {"type": type_, "message": message}
    if code:
        err["code"] = code
    if param:
        err["param"] = param
    return Response(status, {"error": err})


def _nested(form: dict[str, str], name: str) -> dict[str, str]:
    """``{"evidence[a]": "x"}`` -> ``{"a": "x"}`` for one bracketed parameter."""
    out = {}
    for key, value in form.items():
        match = re.fullmatch(rf"{name}\[([^\]]+)\]", key)
        if match:
            out[match.group(1)] = value
    return out


class FakeStripeDisputes(FakeServer):
    """Stateful Stripe disputes; ``disputes`` maps id -> the Dispute object."""

    def __init__(self, api_key: str) -> None:
        super().__init__()
        self.api_key = api_key
        self.disputes: dict[str, dict[str, Any]] = {}

    def open_dispute(self, payment_intent: str, amount: int, currency: str, reason: str = "fraudulent",
                     dispute_id: str | None = None, charge: str | None = None) -> str:
        """A new dispute in ``needs_response`` on a payment; returns its id."""
        with self.lock:
            dp_id = dispute_id or f"dp_{next(_ids):06d}{secrets.token_hex(6)}"
            now = int(time.time())
            self.disputes[dp_id] = {
                "id": dp_id, "object": "dispute", "amount": amount, "currency": currency.lower(),
                "charge": charge or f"ch_for_{payment_intent}", "payment_intent": payment_intent, "created": now,
                "livemode": False, "metadata": {}, "reason": reason, "status": "needs_response",
                "is_charge_refundable": False, "balance_transactions": [],
                "evidence": dict.fromkeys(EVIDENCE_FIELDS),
                "evidence_details": {"due_by": now + 7 * 86400, "has_evidence": False, "past_due": False,
                                     "submission_count": 0},
            }
            return dp_id

    def close_dispute(self, dispute_id: str, outcome: str) -> dict[str, Any]:
        """Decide a dispute as the card network would: ``won`` or ``lost``.

        Returns the Dispute as ``charge.dispute.closed`` carries it ("Occurs when a dispute
        is closed and the dispute status changes to lost, warning_closed, or won",
        https://docs.stripe.com/api/events/types). An inquiry (``warning_*``) that is won
        becomes ``warning_closed``; one that goes against the merchant escalates to a
        chargeback first, so ``lost`` on it is a ``ValueError``, as is deciding a closed dispute.
        """
        if outcome not in ("won", "lost"):
            raise ValueError(f"a dispute is won or lost, not {outcome!r}")
        with self.lock:
            dispute = self.disputes[dispute_id]
            if dispute["status"] in _INQUIRY and outcome == "won":
                self._settle(dispute, "warning_closed")
            elif dispute["status"] in _CHARGEBACK:
                self._settle(dispute, outcome)
            else:
                raise ValueError(f"dispute {dispute_id} is {dispute['status']}; it cannot be {outcome}")
            return dict(dispute)

    def lost_minor(self, payment_intent: str) -> int:
        """What lost disputes on ``payment_intent`` gave the buyer back (minor units)."""
        return sum(int(e["amount"]) for e in self.effects("dispute_lost") if e["payment_intent"] == payment_intent)

    def _settle(self, dispute: dict[str, Any], status: str) -> None:
        dispute["status"] = status
        dispute["is_charge_refundable"] = False
        self.record("dispute_closed", dispute_id=dispute["id"], status=status)
        if status == "lost":
            self.record("dispute_lost", dispute_id=dispute["id"], payment_intent=dispute["payment_intent"],
                        amount=dispute["amount"], currency=dispute["currency"])

    def fault_body(self, status: int) -> Any:
        return {"error": {"type": "api_error", "message": "injected fault"}}

    # -- routing -----------------------------------------------------------------------------
    def handle(self, req: Request) -> Response:
        if (req.header("Authorization") or "") != f"Bearer {self.api_key}":
            return _error(401, "Invalid API Key provided.")
        if req.path == "/v1/disputes" and req.method == "GET":
            return self._list(req)
        match = re.fullmatch(r"/v1/disputes/(\w+)(/close)?", req.path)
        if not match:
            return _error(404, f"Unrecognized request URL ({req.method}: {req.path}).")
        dispute = self.disputes.get(match.group(1))
        if dispute is None:
            return _error(404, f"No such dispute: '{match.group(1)}'", code="resource_missing", param="dispute")
        if req.method == "GET" and not match.group(2):
            return Response(200, dispute)
        if req.method != "POST":
            return _error(404, f"Unrecognized request URL ({req.method}: {req.path}).")
        form = req.body if isinstance(req.body, dict) else {}
        action = self._close if match.group(2) else self._update
        return self.idempotent(f"dispute:{dispute['id']}", req.header("Idempotency-Key"), req.raw.decode(),
                               lambda: action(dispute, form),
                               on_mismatch=lambda: _error(400, "Keys for idempotent requests can only be used with "
                                                          "the same parameters they were first used with.",
                                                          type_="idempotency_error"))

    def _list(self, req: Request) -> Response:
        pi = req.query.get("payment_intent")
        data = [d for d in self.disputes.values() if pi is None or d["payment_intent"] == pi]
        return Response(200, {"object": "list", "url": "/v1/disputes", "has_more": False, "data": data})

    def _update(self, dispute: dict[str, Any], form: dict[str, str]) -> Response:
        evidence, metadata = _nested(form, "evidence"), _nested(form, "metadata")
        unknown = sorted(set(evidence) - set(EVIDENCE_FIELDS))
        if unknown:
            return _error(400, f"Received unknown parameter: evidence[{unknown[0]}]", code="parameter_unknown",
                          param=f"evidence[{unknown[0]}]")
        combined = {**{k: v for k, v in dispute["evidence"].items() if isinstance(v, str)}, **evidence}
        if sum(len(v) for v in combined.values()) > EVIDENCE_TOTAL_MAX:
            return _error(400, "The combined character count of all evidence fields is limited to 150,000.",
                          param="evidence")
        too_long = sorted(k for k, v in evidence.items() if len(v) > EVIDENCE_TEXT_MAX)
        if too_long:
            return _error(400, f"evidence[{too_long[0]}] is longer than 20,000 characters.",
                          param=f"evidence[{too_long[0]}]")
        if dispute["status"] not in _OPEN:
            return _error(400, f"This dispute is {dispute['status']}; its evidence can no longer be updated.")
        dispute["evidence"].update(evidence)
        dispute["metadata"].update(metadata)
        details = dispute["evidence_details"]
        details["has_evidence"] = details["has_evidence"] or bool(evidence)
        if form.get("submit") == "true":
            dispute["status"] = _OPEN[dispute["status"]]
            details["submission_count"] += 1
            self.record("evidence_submitted", dispute_id=dispute["id"], fields=sorted(evidence))
        return Response(200, dispute)

    def _close(self, dispute: dict[str, Any], form: dict[str, str]) -> Response:
        if dispute["status"] not in _OPEN:
            return _error(400, f"This dispute is {dispute['status']} and cannot be closed.")
        self._settle(dispute, "lost")
        return Response(200, dispute)
