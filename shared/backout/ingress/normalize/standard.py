"""Standard Webhooks senders (``{type, timestamp, data}``, id in ``webhook-id``).

For storefronts without a native integration. Two types are understood:

- ``order.cancel_requested``: ``data{order_id, request_id, initiator, reason}``
  where ``order_id`` is already a Backout order id ``"<channel>:<id>"`` and
  ``initiator`` one of buyer/seller/system/platform;
- ``order.cancel_withdrawn``: ``data{order_id, request_id}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from backout.domain.events import CancelRequested, CancelWithdrawn, DomainEvent, Initiator
from backout.ingress.normalize import (
    MalformedPayload,
    as_object,
    backout_order_id,
    delivery,
    ident,
    opt_ident,
    text,
)


def _order_id(data: Mapping[str, Any]) -> str:
    order_id = backout_order_id(data.get("order_id"))
    if order_id is None:
        raise MalformedPayload("data.order_id must be a Backout order id '<channel>:<id>'")
    return order_id


def normalize(
    body: Any, headers: Mapping[str, str], received_at: datetime
) -> list[DomainEvent]:
    """Normalise one Standard Webhooks message (see the module docstring)."""
    obj = as_object(body, "standard webhook body")
    d = delivery("standard", obj, headers, received_at, obj.get("timestamp"))
    topic = text(obj.get("type"))
    if topic == "order.cancel_requested":
        data = as_object(obj.get("data"), "data")
        raw = text(data.get("initiator")).lower()
        try:
            initiator = Initiator(raw)
        except ValueError:
            raise MalformedPayload(f"data.initiator unknown: {raw!r}") from None
        return [
            CancelRequested(
                **d.common(
                    order_id=_order_id(data),
                    request_id=ident(data.get("request_id"), "data.request_id"),
                    initiator=initiator,
                    reason=text(data.get("reason")),
                )
            )
        ]
    if topic == "order.cancel_withdrawn":
        data = as_object(obj.get("data"), "data")
        return [
            CancelWithdrawn(
                **d.common(order_id=_order_id(data), request_id=opt_ident(data.get("request_id")))
            )
        ]
    return [d.ignored(topic or "(none)")]
