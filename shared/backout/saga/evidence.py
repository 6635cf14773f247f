"""Dispute evidence, assembled from what the order's timeline already proves (rule 10),
and submitted once through the gateway's dispute API.

The bundle (``build_evidence``) is Backout's own shape; each gateway adapter maps it
onto its evidence fields (``stripe_gateway.stripe_evidence``, ``paypal_evidence.paypal_evidences``).
"""

from __future__ import annotations

from typing import Any, Callable

from backout.adapters.gateway import PaymentGateway, gateway_for
from backout.repo.orders import OrdersRepository

#: Shown to the card network: the seller's cancellation and refund policy.
POLICY_TEXT = (
    "Orders can be cancelled free of charge until they ship; a cancellation request can be withdrawn within the "
    "cooling-off window. Shipped orders are intercepted or returned with a prepaid label and refunded when the "
    "return is scanned. Refunds go back to the original payment method."
)

_SCAN_STEPS = ("shipment_scanned", "return_scanned")
#: Gateways with a dispute API Backout submits to (a platform's own payments are the platform's business).
SUBMITS_EVIDENCE = frozenset({"stripe", "paypal"})


def build_evidence(repo: OrdersRepository, order_id: str) -> dict[str, Any]:
    """Carrier, tracking number, scans, shipping and delivery dates, cancellation record and policy text."""
    order = repo.require_order(order_id)
    timeline = repo.timeline(order_id)
    scans = [s for s in timeline if s["step"] in _SCAN_STEPS]
    delivered = next((s["at"] for s in scans if (s.get("detail") or {}).get("status") == "delivered"), None)
    last = (scans[-1].get("detail") or {}) if scans else {}
    requests = repo.items(order_id, "REQ#")
    return {
        "order_id": order_id,
        "amount": order.get("total"),
        "currency": order.get("currency"),
        "carrier": last.get("carrier") or order.get("carrier") or None,
        "tracking_number": last.get("tracking_number") or order.get("tracking_number") or None,
        "scans": [{"at": s["at"], **(s.get("detail") or {})} for s in scans],
        "shipping_date": scans[0]["at"] if scans else None,
        "delivery_date": delivered,
        "cancellation_requests": [{k: r.get(k) for k in ("request_id", "initiator", "reason", "recorded_at")} for r in requests],
        "refunds": [s.get("detail") for s in timeline if s["step"].startswith("payment_")],
        "policy": POLICY_TEXT,
    }


def submit_evidence(repo: OrdersRepository, order_id: str, dispute_id: str,
                    gateways: Callable[[str], PaymentGateway] = gateway_for) -> dict[str, Any]:
    """Submit the stored bundle of a dispute through the order's gateway, exactly once.

    The effect ``FX#evidence#<dispute>`` is recorded before the call and done after it;
    a retry after a crash finds the gateway's own record (evidence already submitted)
    and sends nothing. A gateway error propagates: the caller's retry owns it.
    """
    from backout.saga.platforms import _effect_once

    order = repo.require_order(order_id)
    gateway = str(order.get("gateway"))
    if gateway not in SUBMITS_EVIDENCE:
        return {"dispute_id": dispute_id, "outcome": "not_submitted", "reason": f"no dispute API for {gateway}"}
    stored = [e for e in repo.items(order_id, f"EVIDENCE#{dispute_id}") if e.get("sk") == f"EVIDENCE#{dispute_id}"]
    bundle = stored[0]["evidence"] if stored else build_evidence(repo, order_id)

    def call() -> dict[str, Any]:
        sent = gateways(gateway).submit_dispute_evidence(dispute_id, bundle, f"backout:evidence:{order_id}:{dispute_id}")
        return {"dispute_id": dispute_id, "gateway": gateway, "dispute_status": sent.status,
                "outcome": "submitted" if sent.submitted else "already_submitted", "fields": list(sent.fields)}

    return _effect_once(repo, order_id, f"evidence#{dispute_id}", "dispute_evidence_submitted", call)
