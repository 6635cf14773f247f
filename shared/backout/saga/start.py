"""Starting a request's saga, and the next one when a request ends without cancelling the order.

One request runs at a time per order. A request that arrives while another one runs is queued
(``queued`` on its ``REQ#`` record); when the running one ends with the order still open (withdrawn,
rejected), :func:`start_queued` starts the oldest queued request that was not withdrawn meanwhile.
So a buyer withdrawing their own request never drops the seller's (or the platform's) request.
"""

from __future__ import annotations

import hashlib
import os
import re
from typing import Any

from backout.adapters import stepfunctions
from backout.domain import rules
from backout.domain.order import OrderStatus
from backout.repo.orders import OrdersRepository

_NAME_SAFE = re.compile(r"[^A-Za-z0-9_-]")


def execution_name(order_id: str, request_id: str) -> str:
    """A deterministic Step Functions execution name (≤80 chars) for one request."""
    digest = hashlib.sha256(f"{order_id}|{request_id}".encode()).hexdigest()[:20]
    return f"{_NAME_SAFE.sub('-', order_id)[:55]}-{digest}"


def cooling_off_seconds() -> int:
    return int(os.environ.get("COOLING_OFF_SECONDS", "0"))


def timeouts() -> dict[str, int]:
    """Wait limits for the saga, from the template's parameters (shortened locally through the input)."""
    def val(name: str, default: int) -> int:
        return int(os.environ.get(name, str(default)))

    carrier = val("CARRIER_WAIT_TIMEOUT_SECONDS", 2592000)
    return {"platform_seconds": val("PLATFORM_APPROVAL_TIMEOUT_SECONDS", 1209600), "carrier_seconds": carrier,
            "return_seconds": carrier, "refund_seconds": val("REFUND_SETTLEMENT_TIMEOUT_SECONDS", 604800),
            "operator_seconds": val("OPERATOR_DECISION_TIMEOUT_SECONDS", 2592000),
            # the long waits' heartbeat: the scheduled watchdog must beat within it (HeartbeatSeconds)
            "heartbeat_seconds": val("HEARTBEAT_SECONDS", 86400)}


def start_saga(order_id: str, request_id: str, request: dict[str, Any], remedy: dict[str, Any] | None = None) -> None:
    """Start the request's saga (named after it, so a replay cannot start a second)."""
    cooling = 0 if request.get("initiator") == "system" or remedy else cooling_off_seconds()
    payload: dict[str, Any] = {"order_id": order_id, "request_id": request_id, "cooling_off_seconds": cooling,
                               "timeouts": timeouts(), "remedy": remedy or {},
                               "order": {"path": ""}}  # a hold before the path is chosen still has one
    name = execution_name(order_id, request_id)
    if remedy:
        name = execution_name(order_id, f"{request_id}#remedy#{remedy.get('refund_id', '')}")
    stepfunctions.start(name, payload)


def start_queued(repo: OrdersRepository, order_id: str) -> str | None:
    """The order is open again: start the oldest request that waited for the one that just ended."""
    from backout.saga.waits import request_of

    snap = repo.snapshot(order_id)
    order = snap.require_order()
    queued = sorted((r for r in snap.requests.values() if r.get("queued")), key=lambda r: str(r.get("requested_at")))
    active = str(order.get("active_request_id") or "")
    if order["status"] == OrderStatus.CANCEL_REQUESTED.value and any(r["request_id"] == active for r in queued):
        start_saga(order_id, active, snap.requests[active])  # a retry after a crash between the writes
        repo.mark_request(order_id, active, queued=False)
        return active
    if order["status"] != OrderStatus.OPEN.value:
        return None
    for record in queued:
        request_id = str(record["request_id"])
        if rules.withdrawal_of(snap.facts(), request_of(record)) is not None:
            repo.mark_request(order_id, request_id, queued=False)
            repo.append_timeline(order_id, "cancel_withdrawn", {"request_id": request_id, "before_saga": True})
            continue
        repo.transition(order_id, OrderStatus.CANCEL_REQUESTED, current=order, active_request_id=request_id)
        repo.append_timeline(order_id, "cancel_request_started", {"request_id": request_id, "was": "queued"})
        start_saga(order_id, request_id, record)
        repo.mark_request(order_id, request_id, queued=False)
        return request_id
    return None
