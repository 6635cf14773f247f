"""The tracking services: AfterShip (``tracking_update``, tag + subtag) and EasyPost (``tracker.updated``).

Scans the model draws (PROVIDERS.md "AfterShip", "EasyPost" and its corrections): in transit, out for
delivery, delivered, a failed attempt, an exception, ``Exception_010`` (on its way back to the sender:
still travelling) and ``Exception_011`` / ``return_to_sender`` (received back by the sender). Each scan
says where it leaves the goods (:data:`WHERE`: ``transit``, ``buyer``, ``back``).
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from backout_dev.sim.model.bodies import iso
from backout_dev.sim.model.drive import sample

#: scan name -> (AfterShip tag, subtag), EasyPost status, where the goods are afterwards
SCANS: dict[str, tuple[tuple[str, str], str, str]] = {
    "in_transit": (("InTransit", "InTransit_001"), "in_transit", "transit"),
    "out_for_delivery": (("OutForDelivery", "OutForDelivery_001"), "out_for_delivery", "transit"),
    "attempt_fail": (("AttemptFail", "AttemptFail_001"), "failure", "transit"),
    "exception": (("Exception", "Exception_004"), "failure", "transit"),
    "returning": (("Exception", "Exception_010"), "in_transit", "transit"),  # on its way back: not back yet
    "delivered": (("Delivered", "Delivered_001"), "delivered", "buyer"),
    "return_to_sender": (("Exception", "Exception_011"), "return_to_sender", "back"),
}
WHERE = {name: where for name, (_, _, where) in SCANS.items()}


def aftership(order_id: str, tracking: str, scan: str) -> tuple[str, dict[str, Any], dict[str, Any], dict[str, str]]:
    tag, subtag = SCANS[scan][0]
    event = sample("aftership/tracking_update.Delivered")
    body = json.loads(event["body"])
    body.update({"event_id": f"model-{uuid.uuid4().hex[:16]}", "ts": int(time.time())})
    body["msg"].update({"tracking_number": tracking, "tag": tag, "subtag": subtag, "slug": "dhl",
                        "order_number": order_id, "checkpoints": []})
    return f"aftership {tag}/{subtag} ({scan}) of {tracking}", event, body, {}


def easypost(tracking: str, scan: str) -> tuple[str, dict[str, Any], dict[str, Any], dict[str, str]]:
    """A tracker event; trackers carry no order reference (matched by tracking code)."""
    status = SCANS[scan][1]
    event = sample("easypost/tracker.updated.return_to_sender")
    body = json.loads(event["body"])
    body.update({"id": f"evt_{uuid.uuid4().hex[:24]}", "description": "tracker.updated",
                 "created_at": iso(time.time(), "Z")})
    result = dict(body.get("result") or {})
    result.update({"object": "Tracker", "tracking_code": tracking, "status": status, "carrier": "USPS",
                   "updated_at": iso(time.time(), "Z")})
    body["result"] = result
    return f"easypost tracker.updated {status} ({scan}) of {tracking}", event, body, {}


def scan(api: str, order_id: str, tracking: str, name: str) -> tuple[str, dict[str, Any], dict[str, Any], dict[str, str]]:
    return aftership(order_id, tracking, name) if api == "aftership" else easypost(tracking, name)
