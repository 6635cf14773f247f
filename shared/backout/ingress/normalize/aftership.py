"""AfterShip tracking webhooks (``event, event_id, ts, msg{...}``).

``msg.order_number`` names the order only when it is a Backout order id
``"<channel>:<id>"`` with a known channel (how Backout registers
trackings); other order numbers leave ``order_id`` None and the scan is
matched by tracking number.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from backout.domain.events import DomainEvent, ShipmentScanned, ShipmentStatus
from backout.ingress.normalize import (
    as_object,
    backout_order_id,
    delivery,
    ident,
    opt_ident,
    text,
)

TAGS: Mapping[str, ShipmentStatus] = {
    "Pending": ShipmentStatus.LABEL_CREATED,
    "InfoReceived": ShipmentStatus.LABEL_CREATED,
    "InTransit": ShipmentStatus.IN_TRANSIT,
    "OutForDelivery": ShipmentStatus.OUT_FOR_DELIVERY,
    "AttemptFail": ShipmentStatus.FAILED_ATTEMPT,
    "Delivered": ShipmentStatus.DELIVERED,
    "AvailableForPickup": ShipmentStatus.AVAILABLE_FOR_PICKUP,
    "Exception": ShipmentStatus.EXCEPTION,
    "Expired": ShipmentStatus.EXPIRED,
}
RETURN_SUBTAGS = frozenset({"Exception_011"})
"""The exception subtag for a parcel the sender has received back. ``Exception_010`` ("Returning to
sender": on its way back) is not one: the parcel still travels, so it stays an ``exception`` scan
(https://www.aftership.com/docs/tracking/2026-07/enum/delivery-sub-statuses)."""

TRACKING_EVENTS = frozenset({"tracking_update"})


def status_for(tag: str, subtag: str = "") -> ShipmentStatus:
    """Map an AfterShip tag (and subtag) to a scan status."""
    if tag == "Exception" and subtag in RETURN_SUBTAGS:
        return ShipmentStatus.RETURN_TO_SENDER
    return TAGS.get(tag, ShipmentStatus.UNKNOWN)


def normalize(
    body: Any, headers: Mapping[str, str], received_at: datetime
) -> list[DomainEvent]:
    """Normalise one AfterShip webhook (see the module docstring)."""
    obj = as_object(body, "aftership body")
    d = delivery("aftership", obj, headers, received_at, obj.get("ts"))
    topic = ident(obj.get("event"), "aftership event")
    if topic not in TRACKING_EVENTS:
        return [d.ignored(topic)]
    msg = as_object(obj.get("msg"), "msg")
    tag = ident(msg.get("tag"), "msg.tag")
    subtag = text(msg.get("subtag"))
    order_number = text(msg.get("order_number"))
    return [
        ShipmentScanned(
            **d.common(
                order_id=backout_order_id(order_number),
                tracking_number=ident(msg.get("tracking_number"), "msg.tracking_number"),
                carrier=opt_ident(msg.get("slug")),
                status=status_for(tag, subtag),
                raw_status=subtag or tag,
            )
        )
    ]
