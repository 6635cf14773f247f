"""Dispute evidence for PayPal's Customer Disputes API: the bundle as ``evidences[]``, sent multipart."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from backout.adapters.gateway import evidence_texts

#: PayPal's carrier names for the carriers Backout's carrier adapter reports (others: OTHER + name).
_CARRIERS = {"dhl": "DHL", "ups": "UPS", "usps": "USPS", "fedex": "FEDEX", "dpd": "DPD", "gls": "GLS"}
NOTES_MAX = 2000


def paypal_evidences(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    """The evidence bundle as PayPal ``evidences[]``: fulfillment, refunds and the policy notes."""
    texts = evidence_texts(bundle)
    out: list[dict[str, Any]] = []
    if bundle.get("tracking_number"):
        carrier = str(bundle.get("carrier") or "")
        name = _CARRIERS.get(carrier.lower(), "OTHER")
        info = {"carrier_name": name, "tracking_number": str(bundle["tracking_number"]),
                **({"carrier_name_other": carrier or "unknown"} if name == "OTHER" else {})}
        out.append({"evidence_type": "PROOF_OF_FULFILLMENT", "evidence_info": {"tracking_info": [info]},
                    "notes": texts["shipping"][:NOTES_MAX]})
    refund_ids = [str(r["refund_id"]) for r in bundle.get("refunds") or [] if isinstance(r, dict) and r.get("refund_id")]
    if refund_ids:
        out.append({"evidence_type": "PROOF_OF_REFUND", "evidence_info": {"refund_ids": refund_ids}})
    notes = f"{texts['cancellation']} {texts['refund_refusal']} Policy: {texts['policy']}"
    out.append({"evidence_type": "OTHER", "notes": notes[:NOTES_MAX]})
    return out


def multipart(parts: dict[str, str]) -> tuple[bytes, str]:
    """A multipart/form-data body of JSON parts (PayPal's provide-evidence accepts only multipart)."""
    boundary = "backout-" + hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:32]
    chunks = [f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n"
              f"Content-Type: application/json\r\n\r\n{value}\r\n" for name, value in parts.items()]
    return ("".join(chunks) + f"--{boundary}--\r\n").encode(), f"multipart/form-data; boundary={boundary}"
