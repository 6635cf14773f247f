"""Dispute evidence, assembled from what the order's timeline already proves (rule 10)."""

from __future__ import annotations

from typing import Any

from backout.repo.orders import OrdersRepository

#: Shown to the card network: the seller's cancellation and refund policy.
POLICY_TEXT = (
    "Orders can be cancelled free of charge until they ship; a cancellation request can be withdrawn within the "
    "cooling-off window. Shipped orders are intercepted or returned with a prepaid label and refunded when the "
    "return is scanned. Refunds go back to the original payment method."
)

_SCAN_STEPS = ("shipment_scanned", "return_scanned")


def build_evidence(repo: OrdersRepository, order_id: str) -> dict[str, Any]:
    """Carrier, tracking number, scans, delivery date, cancellation record and policy text."""
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
        "carrier": last.get("carrier"),
        "tracking_number": last.get("tracking_number"),
        "scans": [{"at": s["at"], **(s.get("detail") or {})} for s in scans],
        "delivery_date": delivered,
        "cancellation_requests": [{k: r.get(k) for k in ("request_id", "initiator", "reason", "recorded_at")} for r in requests],
        "refunds": [s.get("detail") for s in timeline if s["step"].startswith("payment_")],
        "policy": POLICY_TEXT,
    }
