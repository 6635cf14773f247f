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
    AuthorizationExpired,
    CancelRequested,
    CancelWithdrawn,
    DisputeClosed,
    DisputeOpened,
    DomainEvent,
    Initiator,
    OrderPlaced,
    PlatformCancellationDecided,
    RefundSettled,
    ReturnScanned,
    ShipmentScanned,
    ShipmentStatus,
    parse_event,
)
from backout.domain.order import OrderStatus, can_transition
from backout.ingress.normalize import normalize
from backout.ingress.receiver import InboxRecord, read_inbox_item
from backout.ops.counters import count_placed
from backout.repo.orders import OrdersRepository
from backout.saga.orders import COOLING_OFF

_NAME_SAFE = re.compile(r"[^A-Za-z0-9_-]")
#: Order attribute set once the order's intake (timeline entry, parked events applied) has run to its end.
INTAKE_DONE = "intake_done"


def execution_name(order_id: str, request_id: str) -> str:
    """A deterministic Step Functions execution name (≤80 chars) for one request."""
    digest = hashlib.sha256(f"{order_id}|{request_id}".encode()).hexdigest()[:20]
    return f"{_NAME_SAFE.sub('-', order_id)[:55]}-{digest}"


class Dispatcher:
    """Applies domain events to the order records and the sagas."""

    def __init__(self, repo: OrdersRepository | None = None) -> None:
        self.repo = repo or OrdersRepository()

    def handle_delivery(self, item: dict[str, Any]) -> list[str]:
        """Normalise one inbox item (plain values) and apply its events; returns their kinds."""
        return self.handle_record(read_inbox_item(item))

    def handle_record(self, record: InboxRecord) -> list[str]:
        """Normalise one recorded delivery and apply its events; returns their kinds."""
        from datetime import datetime, timezone

        received = datetime.fromtimestamp(record.received_at_ms / 1000, tz=timezone.utc)
        events = normalize(record.provider, json.loads(record.body), record.headers, received)
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
            else:
                self._park(event)
        elif event.order_id and self.repo.get_order(event.order_id) is None:
            self._park(event)
        elif isinstance(event, CancelRequested):
            self._cancel_requested(event)
        elif isinstance(event, CancelWithdrawn):
            self._cancel_withdrawn(event)
        elif isinstance(event, AuthorizationExpired):
            self._authorization_expired(event)
        elif isinstance(event, (DisputeOpened, DisputeClosed)):
            self._dispute(event)
        else:
            self._resume(event)

    # ------------------------------------------------------------ resuming waits
    def _resume(self, event: DomainEvent) -> None:
        """Hand a webhook to the saga step waiting for it (if one is)."""
        order_id = str(event.order_id)
        self.repo.append_timeline(order_id, event.kind, _summary(event))
        purpose, output, failure = _wake(event)
        if isinstance(event, ShipmentScanned) and event.tracking_number:
            order = self.repo.require_order(order_id)
            if event.tracking_number == order.get("return_tracking_number"):
                # the return parcel: delivered back to the seller is the return scan
                purpose = "return" if event.status == ShipmentStatus.DELIVERED else None
                output = {"status": "returned", "tracking_number": event.tracking_number}
            elif not order.get("tracking_number"):
                self.repo.set_flag(order_id, "tracking_number", event.tracking_number)
                self.repo.set_flag(order_id, "carrier", event.carrier or "")
        if purpose is None:
            return
        # kept first: a wait that starts after this webhook finds it (webhooks outrun sagas)
        self.repo.save_wake(order_id, purpose, output, failure)
        token = self.repo.get_token(order_id, purpose)
        if token is None or token.get("used_by"):
            return
        complete_token(token["token"], output, failure)
        self.repo.mark_token_used(order_id, purpose, event.source_id)

    def _dispute(self, ev: DomainEvent) -> None:
        """Rule 10: a disputed payment is not refunded too; the evidence comes from the timeline."""
        order_id = str(ev.order_id)
        opened = isinstance(ev, DisputeOpened)
        self.repo.set_flag(order_id, "disputed", opened)
        if not opened:
            self.repo.append_timeline(order_id, ev.kind, _summary(ev))
            return
        from backout.saga.evidence import build_evidence, submit_evidence

        if self.repo.save_evidence(order_id, ev.dispute_id, build_evidence(self.repo, order_id)):
            self.repo.append_timeline(order_id, ev.kind, _summary(ev))  # once, though the stream may retry
        # one gateway call, recorded once; a failure raises, so the stream retries, then dead-letters
        submit_evidence(self.repo, order_id, ev.dispute_id)

    def _authorization_expired(self, ev: AuthorizationExpired) -> None:
        """Rule 9: an expired authorization is a system cancellation request."""
        request = CancelRequested(provider=ev.provider, source_id=ev.source_id, occurred_at=ev.occurred_at,
                                  order_id=ev.order_id, payment_ref=ev.payment_ref,
                                  request_id=f"expiry:{ev.payment_ref or ev.source_id}",
                                  initiator=Initiator.SYSTEM, reason="authorization_expired")
        self.repo.append_timeline(str(ev.order_id), "authorization_expired", _summary(ev))
        self._cancel_requested(request)

    # ------------------------------------------------------------ orders
    def _order_placed(self, ev: OrderPlaced) -> None:
        order = {
            "order_id": ev.order_id, "channel": ev.channel.value, "external_id": ev.external_id,
            "currency": ev.currency.upper(), "total": ev.total, "gateway": ev.gateway.value,
            "payment_ref": ev.payment_ref, "shipped": ev.shipped,
            "lines": [line.model_dump() for line in ev.lines],
        }
        outcome = self.repo.upsert_order(order, ev.occurred_at.isoformat())
        count_placed(self.repo, order, ev.occurred_at)  # the rates' denominator; counted once per order
        if outcome == "created" or not (self.repo.get_order(str(ev.order_id)) or {}).get(INTAKE_DONE):
            self._finish_intake(ev, created=outcome == "created")

    def _finish_intake(self, ev: OrderPlaced, created: bool) -> None:
        """Note the new order on its timeline and apply the events parked for it, then mark that done.

        Only the delivery that created the order finds it new. If it dies before the end (a crash
        while a parked cancel request is applied), its retry finds the order "stale"; the missing
        mark tells it to finish, else the parked events would never be applied: no later delivery
        brings them (a polled Ozon request's inbox key is taken, so the poller records it no more).
        """
        order_id = str(ev.order_id)
        if created or "order_recorded" not in {step.get("step") for step in self.repo.timeline(order_id)}:
            self.repo.append_timeline(order_id, "order_recorded",
                                      {"total": ev.total, "currency": ev.currency, "gateway": ev.gateway.value,
                                       "source": ev.source_id})
        self._replay_parked(order_id, ev.payment_ref)
        self.repo.set_flag(order_id, INTAKE_DONE, True)

    def _park(self, event: DomainEvent) -> None:
        """Keep an event that arrived before its order (or its payment); applied when the order is known.

        The order may be recorded between the lookup and the park, replaying the parked
        events before this one was kept; so look again after parking and apply it then.
        Applying twice is harmless: every step here is idempotent.
        """
        key = "#".join(p for p in (event.source_id, event.kind, getattr(event, "refund_id", None)) if p)
        order_id = str(event.order_id) if event.order_id else None
        self.repo.park(order_id, key, event.model_dump(mode="json"), payment_ref=event.payment_ref)  # once per key
        if order_id:
            known = order_id if self.repo.get_order(order_id) is not None else None
        else:
            known = self.repo.order_for_payment(str(event.payment_ref))
        if known is None:
            return
        self.apply(event.model_copy(update={"order_id": known}))

    def _replay_parked(self, order_id: str, payment_ref: str | None) -> None:
        for parked in self.repo.parked(order_id, payment_ref):
            event = parse_event(parked["event"])
            self.apply(event if event.order_id else event.model_copy(update={"order_id": order_id}))

    # ------------------------------------------------------------ cancellation
    def _cancel_requested(self, ev: CancelRequested) -> None:
        """Record the request, move the order to CANCEL_REQUESTED and start the request's saga.

        The stream delivers at least once, and may deliver a record again long after its saga
        ended (a batch is retried from its first failed record, so the records after that one are
        applied twice). A request already recorded whose saga began has had its say: an order it
        left OPEN (rejected, withdrawn) is not moved back, since that saga, named after the request,
        cannot start a second time and nothing would ever move the order on.
        """
        order_id = str(ev.order_id)
        request = {"request_id": ev.request_id, "initiator": ev.initiator.value, "reason": ev.reason,
                   "provider": ev.provider, "source_id": ev.source_id,
                   "platform_cancellation_id": ev.platform_cancellation_id}
        recorded = self.repo.record_request(order_id, request)
        if recorded:
            self.repo.append_timeline(order_id, "cancel_requested", {k: v for k, v in request.items() if v})
        order = self.repo.require_order(order_id)
        status = OrderStatus(order["status"])
        if status == OrderStatus.CANCEL_REQUESTED and order.get("active_request_id") == ev.request_id:
            self._start_saga(order_id, ev.request_id)  # a replay after a crash between the two writes
            return
        if not recorded and status == OrderStatus.OPEN and self._saga_began(order_id, ev.request_id):
            return
        if not can_transition(status, OrderStatus.CANCEL_REQUESTED):
            self.repo.append_timeline(order_id, "cancel_request_not_started",
                                      {"request_id": ev.request_id, "order_status": status.value})
            return
        self.repo.transition(order_id, OrderStatus.CANCEL_REQUESTED, active_request_id=ev.request_id)
        self._start_saga(order_id, ev.request_id)

    def _saga_began(self, order_id: str, request_id: str) -> bool:
        """Whether the request's saga ran its first step (BeginCancellation notes it on the timeline)."""
        return any(step.get("step") == "saga_started" and (step.get("detail") or {}).get("request_id") == request_id
                   for step in self.repo.timeline(order_id))

    def _start_saga(self, order_id: str, request_id: str) -> None:
        sfn = aws.client("stepfunctions")
        request = self.repo.get_request(order_id, request_id) or {}
        cooling = 0 if request.get("initiator") == "system" else int(os.environ.get("COOLING_OFF_SECONDS", "0"))
        payload = {"order_id": order_id, "request_id": request_id, "cooling_off_seconds": cooling,
                   "timeouts": _timeouts()}
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


def complete_token(token: str, output: dict[str, Any], failure: str | None) -> None:
    """Resume a waiting saga step; a token already completed or timed out is not an error."""
    sfn = aws.client("stepfunctions")
    try:
        if failure:
            sfn.send_task_failure(taskToken=token, error=failure, cause=json.dumps(output)[:256])
        else:
            sfn.send_task_success(taskToken=token, output=json.dumps(output))
    except Exception as exc:
        code = getattr(exc, "response", {}).get("Error", {}).get("Code")
        if code not in ("TaskTimedOut", "InvalidToken", "TaskDoesNotExist"):
            raise


def _timeouts() -> dict[str, int]:
    """Wait limits for the saga, from the template's parameters (shortened locally through the input)."""
    def val(name: str, default: int) -> int:
        return int(os.environ.get(name, str(default)))

    carrier = val("CARRIER_WAIT_TIMEOUT_SECONDS", 2592000)
    return {"platform_seconds": val("PLATFORM_APPROVAL_TIMEOUT_SECONDS", 1209600), "carrier_seconds": carrier,
            "return_seconds": carrier, "refund_seconds": val("REFUND_SETTLEMENT_TIMEOUT_SECONDS", 604800),
            "operator_seconds": val("OPERATOR_DECISION_TIMEOUT_SECONDS", 2592000),
            # the long waits' heartbeat: the scheduled watchdog must beat within it (HeartbeatSeconds)
            "heartbeat_seconds": val("HEARTBEAT_SECONDS", 86400)}


#: Carrier statuses that decide an intercept.
_INTERCEPT_FINAL = {ShipmentStatus.RETURN_TO_SENDER: "return_to_sender", ShipmentStatus.RETURNED: "returned",
                    ShipmentStatus.DELIVERED: "delivered"}


def _wake(event: DomainEvent) -> tuple[str | None, dict[str, Any], str | None]:
    """(token purpose, output, failure error name) for an event that can end a wait."""
    if isinstance(event, PlatformCancellationDecided):
        return "platform_decision", {"decision": event.decision}, None
    if isinstance(event, ShipmentScanned) and event.status in _INTERCEPT_FINAL:
        return "carrier", {"status": _INTERCEPT_FINAL[event.status], "tracking_number": event.tracking_number}, None
    if isinstance(event, ReturnScanned):
        return "return", {"status": "returned", "tracking_number": event.tracking_number}, None
    if isinstance(event, RefundSettled) and event.status in ("succeeded", "failed", "canceled"):
        output = {"status": event.status, "refund_id": event.refund_id, "reason": event.failure_reason}
        return "refund_settlement", output, None if event.status == "succeeded" else "RefundFailed"
    return None, {}, None


def _summary(event: DomainEvent) -> dict[str, Any]:
    """The event's fields worth a timeline entry."""
    return event.model_dump(mode="json", exclude={"occurred_at", "order_id", "kind"}, exclude_none=True)
