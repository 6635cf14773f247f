"""EasyPost tracker events (``id, description, created_at, result: Tracker``).

Trackers carry no order reference: scans are matched by tracking number.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from backout.domain.events import DomainEvent, ShipmentScanned, ShipmentStatus
from backout.ingress.normalize import as_object, delivery, ident, opt_ident

STATUSES: Mapping[str, ShipmentStatus] = {
    "pre_transit": ShipmentStatus.LABEL_CREATED,
    "in_transit": ShipmentStatus.IN_TRANSIT,
    "out_for_delivery": ShipmentStatus.OUT_FOR_DELIVERY,
    "delivered": ShipmentStatus.DELIVERED,
    "available_for_pickup": ShipmentStatus.AVAILABLE_FOR_PICKUP,
    "return_to_sender": ShipmentStatus.RETURN_TO_SENDER,
    "failure": ShipmentStatus.EXCEPTION,
    "cancelled": ShipmentStatus.EXCEPTION,
    "error": ShipmentStatus.EXCEPTION,
    "unknown": ShipmentStatus.UNKNOWN,
}
"""Tracker status -> scan status (unlisted statuses are UNKNOWN too)."""

TOPICS = frozenset({"tracker.updated", "tracker.created"})


def normalize(
    body: Any, headers: Mapping[str, str], received_at: datetime
) -> list[DomainEvent]:
    """Normalise one EasyPost event (see the module docstring)."""
    obj = as_object(body, "easypost event")
    d = delivery("easypost", obj, headers, received_at, obj.get("created_at"))
    topic = ident(obj.get("description"), "easypost description")
    if topic not in TOPICS:
        return [d.ignored(topic)]
    tracker = as_object(obj.get("result"), "result")
    raw = ident(tracker.get("status"), "result.status")
    return [
        ShipmentScanned(
            **d.common(
                tracking_number=ident(tracker.get("tracking_code"), "result.tracking_code"),
                carrier=opt_ident(tracker.get("carrier")),
                status=STATUSES.get(raw.lower(), ShipmentStatus.UNKNOWN),
                raw_status=raw,
            )
        )
    ]
