"""After the acknowledgement: turn a recorded delivery into domain events and act.

Every action here is idempotent, because the stream delivers at least once:
orders are upserted by modification time, requests are conditional puts,
saga executions are named after their request, and a task token is
completed at most once by Step Functions itself.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from typing import Any

from backout import aws
from backout.domain.events import (
    CancelRequested,
    CancelWithdrawn,
    DomainEvent,
    OrderPlaced,
    parse_event,
)
from backout.domain.order import OrderStatus, can_transition
from backout.ingress.normalize import normalize
from backout.repo.orders import OrdersRepository
from backout.saga.orders import COOLING_OFF

_NAME_SAFE = re.compile(r"[^A-Za-z0-9_-]")


def execution_name(order_id: str, request_id: str) -> str:
    """A deterministic Step Functions execution name (≤80 chars) for one request."""
    digest = hashlib.sha256(f"{order_id}|{request_id}".encode()).hexdigest()[:20]
    return f"{_NAME_SAFE.sub('-', order_id)[:55]}-{digest}"


class Dispatcher:
    """Applies domain events to the order records and the sagas."""

    def __init__(self, repo: OrdersRepository | None = None) -> None:
        self.repo = repo or OrdersRepository()

    def handle_delivery(self, item: dict[str, Any]) -> list[str]:
        """Normalise one inbox item and apply its events; returns their kinds."""
        from datetime import datetime, timezone

        received = datetime.fromtimestamp(int(item["received_at"]) / 1000, tz=timezone.utc)
        events = normalize(item["provider"], json.loads(item["body"]), json.loads(item.get("headers") or "{}"), received)
        for event in events:
            self.apply(event)
        return [e.kind for e in events]

    def apply(self, event: DomainEvent) -> None:
        """Act on one domain event."""
        if isinstance(event, OrderPlaced):
            self._order_placed(event)
        elif event.order_id is None and event.payment_ref:
            order_id = self.repo.order_for_payment(event.payment_ref)
            if order_id:
                self.apply(event.model_copy(update={"order_id": order_id}))
        elif event.order_id and self.repo.get_order(event.order_id) is None:
            self._park(event)
        elif isinstance(event, CancelRequested):
            self._cancel_requested(event)
        elif isinstance(event, CancelWithdrawn):
            self._cancel_withdrawn(event)
        elif event.order_id:
            self.repo.append_timeline(event.order_id, event.kind, _summary(event))

    # ------------------------------------------------------------ orders
    def _order_placed(self, ev: OrderPlaced) -> None:
        order = {
            "order_id": ev.order_id, "channel": ev.channel.value, "external_id": ev.external_id,
            "currency": ev.currency.upper(), "total": ev.total, "gateway": ev.gateway.value,
            "payment_ref": ev.payment_ref, "shipped": ev.shipped,
            "lines": [line.model_dump() for line in ev.lines],
        }
        outcome = self.repo.upsert_order(order, ev.occurred_at.isoformat())
        if outcome == "created":
            self.repo.append_timeline(str(ev.order_id), "order_recorded",
                                      {"total": ev.total, "currency": ev.currency, "gateway": ev.gateway.value,
                                       "source": ev.source_id})
            self._replay_parked(str(ev.order_id))

    def _park(self, event: DomainEvent) -> None:
        """Keep an event that arrived before its order; applied when the order is known."""
        self.repo.park(str(event.order_id), event.source_id + "#" + event.kind, event.model_dump(mode="json"))

    def _replay_parked(self, order_id: str) -> None:
        for parked in self.repo.items(order_id, "PARK#"):
            self.apply(parse_event(parked["event"]))

    # ------------------------------------------------------------ cancellation
    def _cancel_requested(self, ev: CancelRequested) -> None:
        order_id = str(ev.order_id)
        request = {"request_id": ev.request_id, "initiator": ev.initiator.value, "reason": ev.reason,
                   "provider": ev.provider, "source_id": ev.source_id,
                   "platform_cancellation_id": ev.platform_cancellation_id}
        if self.repo.record_request(order_id, request):
            self.repo.append_timeline(order_id, "cancel_requested", {k: v for k, v in request.items() if v})
        order = self.repo.require_order(order_id)
        status = OrderStatus(order["status"])
        if status == OrderStatus.CANCEL_REQUESTED and order.get("active_request_id") == ev.request_id:
            self._start_saga(order_id, ev.request_id)  # a replay after a crash between the two writes
            return
        if not can_transition(status, OrderStatus.CANCEL_REQUESTED):
            self.repo.append_timeline(order_id, "cancel_request_not_started",
                                      {"request_id": ev.request_id, "order_status": status.value})
            return
        self.repo.transition(order_id, OrderStatus.CANCEL_REQUESTED, active_request_id=ev.request_id)
        self._start_saga(order_id, ev.request_id)

    def _start_saga(self, order_id: str, request_id: str) -> None:
        sfn = aws.client("stepfunctions")
        payload = {"order_id": order_id, "request_id": request_id,
                   "cooling_off_seconds": int(os.environ.get("COOLING_OFF_SECONDS", "0"))}
        try:
            sfn.start_execution(stateMachineArn=aws.env("CANCELLATION_STATE_MACHINE_ARN"),
                                name=execution_name(order_id, request_id), input=json.dumps(payload))
        except Exception as exc:
            if getattr(exc, "response", {}).get("Error", {}).get("Code") != "ExecutionAlreadyExists":
                raise

    def _cancel_withdrawn(self, ev: CancelWithdrawn) -> None:
        order_id = str(ev.order_id)
        token = self.repo.get_token(order_id, COOLING_OFF)
        order = self.repo.require_order(order_id)
        if token is None or order["status"] != OrderStatus.CANCEL_REQUESTED.value:
            self.repo.append_timeline(order_id, "withdrawal_too_late", {"order_status": order["status"]})
            return
        try:
            aws.client("stepfunctions").send_task_success(taskToken=token["token"], output=json.dumps({"withdrawn": True}))
        except Exception as exc:
            code = getattr(exc, "response", {}).get("Error", {}).get("Code")
            if code not in ("TaskTimedOut", "InvalidToken", "TaskDoesNotExist"):
                raise
            self.repo.append_timeline(order_id, "withdrawal_too_late", {"reason": code})


def _summary(event: DomainEvent) -> dict[str, Any]:
    data = event.model_dump(mode="json", exclude={"occurred_at", "order_id", "kind"}, exclude_none=True)
    return data
