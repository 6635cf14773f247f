"""TikTok Shop webhooks (``type, tts_notification_id, shop_id, timestamp, data``).

``type`` arrives as an int (sometimes as a string, or as the type name):
1 ORDER_STATUS_CHANGE, 4 PACKAGE_UPDATE, 11 CANCELLATION_STATUS_CHANGE,
12 RETURN_STATUS_CHANGE. The order id is ``"tiktok:<order_id>"`` and a
cancellation's request id is ``"tiktok:<cancel_id>"``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from backout.domain.events import (
    CancelRequested,
    CancelWithdrawn,
    Channel,
    DomainEvent,
    Initiator,
    PlatformCancellationDecided,
    order_id_for,
)
from backout.ingress.normalize import (
    Delivery,
    MalformedPayload,
    as_object,
    delivery,
    ident,
    text,
)

TYPE_NAMES: Mapping[int, str] = {
    1: "ORDER_STATUS_CHANGE",
    2: "REVERSE_STATUS_UPDATE",
    4: "PACKAGE_UPDATE",
    11: "CANCELLATION_STATUS_CHANGE",
    12: "RETURN_STATUS_CHANGE",
}

ROLES: Mapping[str, Initiator] = {
    "BUYER": Initiator.BUYER,
    "SELLER": Initiator.SELLER,
    "SYSTEM": Initiator.SYSTEM,
    "OPERATOR": Initiator.PLATFORM,
    "PLATFORM": Initiator.PLATFORM,
}

#: Cancellation statuses (Search Cancellations 202602): PENDING, SUCCESS, CANCEL, COMPLETE. There is no
#: "rejected" value: a request that ends without a cancel (closed by the buyer or the system, or after the
#: seller's reject) is CANCEL (``CANCELLED`` accepted as a spelling). ``cancellations_role`` names who
#: OPENED the request, not who closed it.
PENDING = "CANCELLATION_REQUEST_PENDING"
APPROVED = frozenset({"CANCELLATION_REQUEST_SUCCESS", "CANCELLATION_REQUEST_COMPLETE"})
CLOSED = frozenset({"CANCELLATION_REQUEST_CANCEL", "CANCELLATION_REQUEST_CANCELLED"})
ORDER_CANCELLED = frozenset({"CANCELLED", "CANCEL"})
#: ``RETURN_OR_REFUND_REQUEST_SUCCESS`` means the seller accepted the request or issued the refund; it does not
#: say the returned parcel reached the seller, so it is never read as a return scan (the carrier's scans are).
REFUND_AGREED = frozenset({"RETURN_OR_REFUND_REQUEST_SUCCESS"})


def type_name(value: object) -> str:
    """``11`` / ``"11"`` / ``"CANCELLATION_STATUS_CHANGE"`` -> the type name."""
    raw = ident(value, "tiktok type")
    if raw.isdigit():
        return TYPE_NAMES.get(int(raw), raw)
    return raw.upper()


def _cancellation(d: Delivery, data: Mapping[str, Any]) -> list[DomainEvent]:
    order_id = order_id_for(Channel.TIKTOK, ident(data.get("order_id"), "data.order_id"))
    cancel_id = ident(data.get("cancel_id"), "data.cancel_id")
    status = ident(data.get("cancel_status"), "data.cancel_status").upper()
    role = text(data.get("cancellations_role")).upper()
    request_id = f"tiktok:{cancel_id}"
    common = {"order_id": order_id, "platform_cancellation_id": cancel_id}
    if status == PENDING:
        if role not in ROLES:
            raise MalformedPayload(f"unknown cancellations_role {role!r}")
        return [
            CancelRequested(
                **d.common(
                    order_id=order_id,
                    request_id=request_id,
                    initiator=ROLES[role],
                    reason=text(data.get("cancel_reason")),
                    platform_cancellation_id=cancel_id,
                )
            )
        ]
    if status in APPROVED:
        return [PlatformCancellationDecided(**d.common(**common, decision="approved"))]
    if status in CLOSED:  # the request no longer stands, whoever closed it
        return [
            PlatformCancellationDecided(**d.common(**common, decision="rejected")),
            CancelWithdrawn(**d.common(order_id=order_id, request_id=request_id)),
        ]
    return [d.ignored(f"CANCELLATION_STATUS_CHANGE:{status}")]


def _order_status(d: Delivery, data: Mapping[str, Any]) -> list[DomainEvent]:
    order_id = order_id_for(Channel.TIKTOK, ident(data.get("order_id"), "data.order_id"))
    status = text(data.get("order_status")).upper()
    if status in ORDER_CANCELLED:
        return [PlatformCancellationDecided(**d.common(order_id=order_id, decision="approved"))]
    return [d.ignored(f"ORDER_STATUS_CHANGE:{status}")]


def _return_status(d: Delivery, data: Mapping[str, Any]) -> list[DomainEvent]:
    """Nothing here moves money or stock: TikTok refunds the buyer itself, and only a carrier's scan says the
    returned parcel arrived."""
    ident(data.get("order_id"), "data.order_id")  # still a malformed body without one
    status = text(data.get("return_status")).upper()
    return_type = text(data.get("return_type")).upper()
    if status in REFUND_AGREED:  # the refund is agreed or issued; the parcel's arrival is the carrier's to tell
        return [d.ignored(f"RETURN_STATUS_CHANGE:{status}:{return_type or 'unknown'}:refund_agreed")]
    return [d.ignored(f"RETURN_STATUS_CHANGE:{status}")]


def normalize(
    body: Any, headers: Mapping[str, str], received_at: datetime
) -> list[DomainEvent]:
    """Normalise one TikTok Shop webhook (see the module docstring)."""
    obj = as_object(body, "tiktok body")
    name = type_name(obj.get("type"))
    d = delivery("tiktok", obj, headers, received_at, obj.get("timestamp"))
    handler = {
        "CANCELLATION_STATUS_CHANGE": _cancellation,
        "ORDER_STATUS_CHANGE": _order_status,
        "RETURN_STATUS_CHANGE": _return_status,
    }.get(name)
    if handler is None:
        return [d.ignored(name)]
    data = as_object(obj.get("data"), "data")
    return handler(d.at(data.get("update_time"), "data.update_time"), data)
