"""Stripe Event bodies for the local stack (dev and tests only), and sending them signed.

An Event is ``{"id", "object": "event", "api_version", "created", "type",
"data": {"object", "previous_attributes"?}, "livemode", "pending_webhooks",
"request": {"id", "idempotency_key"}}`` (https://docs.stripe.com/api/events/object).
Types and what ``data.object`` is (https://docs.stripe.com/api/events/types):

* ``refund.created`` / ``refund.updated`` / ``refund.failed`` - a Refund
  ("Occurs whenever a refund is created / updated / has failed");
* ``charge.refund.updated`` - a Refund, the older name of ``refund.updated``;
* ``charge.dispute.created`` / ``charge.dispute.closed`` - a Dispute
  (closed: "the dispute status changes to lost, warning_closed, or won");
* ``charge.dispute.funds_withdrawn`` - a Dispute ("Occurs when funds are
  removed from your account due to a dispute").

Backout's normaliser (``backout.ingress.normalize.stripe``) turns the four
refund types into ``RefundSettled``, ``charge.dispute.created`` into
``DisputeOpened``, ``charge.dispute.closed`` into ``DisputeClosed``, and
acknowledges ``charge.dispute.funds_withdrawn`` as ``Ignored``.

The Refund objects come from ``LocalStripe.set_refund_status`` (or
``LocalStripe.refunds``), the Dispute objects from ``FakeStripeDisputes``.
:func:`send_stripe_event` re-signs one of the ``events/stripe/`` samples with
the body replaced (only its headers and route are kept), as the sender does.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

#: The API version of the samples in events/stripe/.
API_VERSION = "2024-06-20"
#: Every event type built here, and what its ``data.object`` is.
EVENT_OBJECTS = {
    "refund.created": "refund", "refund.updated": "refund", "refund.failed": "refund",
    "charge.refund.updated": "refund", "charge.dispute.created": "dispute", "charge.dispute.closed": "dispute",
    "charge.dispute.funds_withdrawn": "dispute",
}  # fmt: skip
#: The sample re-signed for a type that has none of its own in events/stripe/.
FALLBACK_SAMPLE = "refund.updated.json"


def stripe_event(type_: str, obj: dict[str, Any], previous_attributes: dict[str, Any] | None = None,
                 created: int | None = None) -> dict[str, Any]:
    """One Event of ``type_`` about ``obj`` (a Refund or Dispute, checked against the type)."""
    expected = EVENT_OBJECTS.get(type_)
    if expected is None or obj.get("object") != expected:
        raise ValueError(f"{type_} carries a {expected or 'type not built here'}, not a {obj.get('object')}")
    data: dict[str, Any] = {"object": dict(obj)}
    if previous_attributes is not None:
        data["previous_attributes"] = dict(previous_attributes)
    return {"id": f"evt_{secrets.token_hex(12)}", "object": "event", "api_version": API_VERSION,
            "created": int(time.time()) if created is None else created, "type": type_, "data": data,
            "livemode": False, "pending_webhooks": 1, "request": {"id": None, "idempotency_key": None}}


def refund_created(refund: dict[str, Any]) -> dict[str, Any]:
    """``refund.created``."""
    return stripe_event("refund.created", refund)


def refund_updated(refund: dict[str, Any], previous_status: str | None = None) -> dict[str, Any]:
    """``refund.updated``, with ``previous_attributes.status`` when the status changed."""
    return stripe_event("refund.updated", refund, _previous(refund, previous_status))


def refund_failed(refund: dict[str, Any], previous_status: str | None = None) -> dict[str, Any]:
    """``refund.failed`` (the refund's status is ``failed``)."""
    if refund.get("status") != "failed":
        raise ValueError(f"refund.failed carries a failed refund, not a {refund.get('status')} one")
    return stripe_event("refund.failed", refund, _previous(refund, previous_status))


def charge_refund_updated(refund: dict[str, Any], previous_status: str | None = None) -> dict[str, Any]:
    """``charge.refund.updated``, the older name of ``refund.updated``."""
    return stripe_event("charge.refund.updated", refund, _previous(refund, previous_status))


def dispute_created(dispute: dict[str, Any]) -> dict[str, Any]:
    """``charge.dispute.created``."""
    return stripe_event("charge.dispute.created", dispute)


def dispute_closed(dispute: dict[str, Any]) -> dict[str, Any]:
    """``charge.dispute.closed`` (status ``won``, ``lost`` or ``warning_closed``)."""
    if dispute.get("status") not in ("won", "lost", "warning_closed"):
        raise ValueError(f"charge.dispute.closed carries a closed dispute, not a {dispute.get('status')} one")
    return stripe_event("charge.dispute.closed", dispute)


def dispute_funds_withdrawn(dispute: dict[str, Any]) -> dict[str, Any]:
    """``charge.dispute.funds_withdrawn``."""
    return stripe_event("charge.dispute.funds_withdrawn", dispute)


def _previous(refund: dict[str, Any], previous_status: str | None) -> dict[str, Any] | None:
    if previous_status is None:
        return None
    previous: dict[str, Any] = {"status": previous_status}
    if refund.get("status") == "failed":
        previous.update(failure_reason=None, failure_balance_transaction=None)
    return previous


def send_stripe_event(env: Any, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Sign ``body`` with the local stack's Stripe secret and post it to ``/webhooks/stripe``."""
    from backout_dev.sender import load_sample, send_event
    from backout_dev.template import ROOT

    samples = ROOT / "events" / "stripe"
    sample = samples / f"{body['type']}.json"
    return send_event(env.url, load_sample(sample if sample.exists() else samples / FALLBACK_SAMPLE), env.secrets, body)
