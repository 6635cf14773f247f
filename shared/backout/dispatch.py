"""After the acknowledgement: turn a recorded delivery into domain events and act.

Every action here is idempotent, because the stream delivers at least once:
orders are upserted by modification time, requests are conditional puts,
saga executions are named after their request, and a task token is
completed at most once by Step Functions itself.
"""

from __future__ import annotations

import json
import re
from typing import Any

from backout import identity
from backout.domain import rules
from backout.domain.events import (
    AuthorizationExpired,
    CancelRequested,
    CancelWithdrawn,
    DisputeClosed,
    DisputeOpened,
    DomainEvent,
    Initiator,
    OrderPlaced,
    PaymentCaptured,
    RefundSettled,
    ReturnScanned,
    ShipmentScanned,
    parse_event,
)
from backout.domain.ledger import Ledger
from backout.domain.order import OrderStatus, can_transition
from backout.domain.rules import fact_of
from backout.ingress.normalize import normalize
from backout.ingress.inbox import InboxRecord, read_inbox_item
from backout.ops.counters import count_placed
from backout.repo.orders import OrdersRepository
from backout.saga import waits
from backout.saga.start import cooling_off_seconds, execution_name, start_saga, timeouts as _timeouts

__all__ = ["Dispatcher", "INTAKE_DONE", "execution_name", "_timeouts"]

#: Order attribute set once the order's intake (timeline entry, parked events applied) has run to its end.
INTAKE_DONE = "intake_done"


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
            return
        order = self.repo.get_order(event.order_id) if event.order_id else None
        if order is not None and order.get("reissued_as"):  # the store reused the number (rule 8)
            routed = identity.route(self.repo, order, event.occurred_at)["order_id"]
            event = event if routed == event.order_id else event.model_copy(update={"order_id": routed})
        if event.order_id is None and isinstance(event, ShipmentScanned) and event.tracking_number:
            self._scan_of_parcel(event, event.tracking_number)
        elif event.order_id is None and event.payment_ref:
            order_id = self.repo.order_for_payment(event.payment_ref)
            if order_id:
                self.apply(event.model_copy(update={"order_id": order_id}))
            else:
                self._park(event)
        elif event.order_id and order is None:
            self._park(event)
        elif not self._names_this_order(event):
            self._park(event.model_copy(update={"order_id": None}))  # kept under the payment it names
        elif isinstance(event, CancelRequested):
            self._cancel_requested(event)
        elif isinstance(event, AuthorizationExpired):
            self._authorization_expired(event)
        else:
            self._record(event)

    def _names_this_order(self, event: DomainEvent) -> bool:
        """A payment event applies to the order it carries only when the payment it names is the order's.

        A PayPal refund names its capture, a Stripe refund its PaymentIntent: either is the order's own
        payment reference or one Backout linked to the order (``PAY#``: captures learnt from the gateway).
        """
        ref, order_id = event.payment_ref, str(event.order_id)
        if not ref or isinstance(event, (CancelRequested, CancelWithdrawn, ShipmentScanned, ReturnScanned)):
            return True
        order = self.repo.require_order(order_id)
        return ref == order.get("payment_ref") or self.repo.order_for_payment(ref) == order_id

    # ------------------------------------------------------------ facts and the waits they end
    def _record(self, event: DomainEvent) -> None:
        """Append what the event says to the order's ledger, then let every wait it may end re-check."""
        order_id = str(event.order_id)
        fact = fact_of(event, self.repo.ledger(order_id) if isinstance(event, DisputeClosed) else None)
        new = fact is None or self.repo.record_fact(order_id, fact)
        if new and not isinstance(event, DisputeOpened):  # once per fact, not per delivery
            step = "withdrawal_received" if isinstance(event, CancelWithdrawn) else event.kind
            self.repo.append_timeline(order_id, step, _summary(event))
        if isinstance(event, PaymentCaptured) and event.capture_id:
            self._link(order_id, event.capture_id)
        if isinstance(event, ShipmentScanned) and event.tracking_number:
            self._note_parcel(order_id, event)
        if isinstance(event, (DisputeOpened, DisputeClosed)):
            self._dispute(event)
        if isinstance(event, RefundSettled) and event.status in ("failed", "canceled") and new:
            self._refund_failed(order_id, event)
        woke = waits.wake(self.repo, order_id, event.source_id)
        if isinstance(event, CancelWithdrawn) and new:
            self._withdrawal(order_id, event, woke)

    def _link(self, order_id: str, payment_ref: str) -> None:
        """Map a capture to its order, and apply what was parked under it."""
        if self.repo.link_payment(payment_ref, order_id):
            for parked in self.repo.parked_under_payment(payment_ref):
                self.apply(parse_event(parked["event"]).model_copy(update={"order_id": order_id}))

    def _scan_of_parcel(self, event: ShipmentScanned, tracking: str) -> None:
        """A scan that names only its parcel (EasyPost): the order the tracking number is linked to, or kept
        under the tracking number until a scan or a return label links it. Looked up again after parking,
        as :meth:`_park` does, since the link may be written in between."""
        order_id = self.repo.order_for_tracking(tracking)
        if order_id is None:
            self.repo.park_under_tracking(tracking, f"{event.source_id}#{event.kind}", event.model_dump(mode="json"))
            order_id = self.repo.order_for_tracking(tracking)
        if order_id is not None:
            self.apply(event.model_copy(update={"order_id": order_id}))

    def _note_parcel(self, order_id: str, event: ShipmentScanned) -> None:
        if self.repo.link_tracking(str(event.tracking_number), order_id):
            for parked in self.repo.parked_under_tracking(str(event.tracking_number)):
                self.apply(parse_event(parked["event"]).model_copy(update={"order_id": order_id}))
        order = self.repo.require_order(order_id)
        if event.tracking_number != order.get("return_tracking_number") and not order.get("tracking_number"):
            self.repo.set_flag(order_id, "tracking_number", str(event.tracking_number))
            self.repo.set_flag(order_id, "carrier", event.carrier or "")

    def _refund_failed(self, order_id: str, event: RefundSettled) -> None:
        """Rule 5 of the ledger: nothing is over once the order is CANCELLED. A refund of ours that fails
        afterwards reopens what is owed: the request's saga is started again, straight to the operator."""
        order = self.repo.require_order(order_id)
        if order["status"] != OrderStatus.CANCELLED.value:
            return  # a running saga sees it: its refund wait, or the completion's own check
        request_id = self._request_of_refund(order_id, event.refund_id)
        if request_id is None:
            self.repo.append_timeline(order_id, "refund_failed_outside_backout", _summary(event))
            return
        cause = f"refund {event.refund_id} of {event.amount} {event.currency} {event.status} after the order was cancelled"
        self._start_saga(order_id, request_id, None, remedy={"Error": "RefundFailed", "Cause": cause,
                                                       "refund_id": event.refund_id, "owed": event.amount})

    def _request_of_refund(self, order_id: str, refund_id: str) -> str | None:
        """The request whose settlement made this refund (its recorded result lists it)."""
        for fx in self.repo.items(order_id, "FX#settle#"):
            result = fx.get("result") or {}
            if refund_id in (result.get("refund_ids") or [result.get("refund_id")]):
                # request ids may hold '#' (WooCommerce's); the intent records it whole
                return str(fx.get("request_id") or re.sub(r"#a\d+$", "", str(fx["sk"]).removeprefix("FX#settle#")))
        return None

    def _dispute(self, ev: DomainEvent) -> None:
        """Rule 10: a disputed payment is not refunded too; the evidence comes from the timeline.

        ``disputed`` is derived from the ledger: it stays set while any dispute of the order is open,
        and a lost one keeps counting as money returned (backout.domain.rules.lost_to_chargeback).
        """
        order_id = str(ev.order_id)
        self.repo.set_flag(order_id, "disputed", rules.in_dispute(self.repo.ledger(order_id)))
        if not isinstance(ev, DisputeOpened):
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
        fact = fact_of(ev)
        if fact is None or self.repo.record_fact(str(ev.order_id), fact):
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
        if outcome == "stale":  # older, or the order ended: is it another order under a reused number (rule 8)?
            placed = identity.placement(self.repo, ev)
            if placed.order_id != ev.order_id:
                self._order_placed(placed)
                return
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
        if order_id and order_id.startswith("tiktok:") and self.repo.get_order(order_id) is None:
            from backout.intake import learn_order  # TikTok's webhooks carry no lines: ask TikTok for the order

            placed = learn_order(order_id)  # None: TikTok does not know it; a transient fault raises
            if placed is not None:
                self.apply(placed)  # records the order and replays the events parked for it
                self.apply(event)
                return
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
        cannot start a second time and nothing would ever move the order on. A request whose
        withdrawal came first (network or stream order) is recorded as withdrawn and never started.
        """
        order_id = str(ev.order_id)
        request = {"request_id": ev.request_id, "initiator": ev.initiator.value, "reason": ev.reason,
                   "provider": ev.provider, "source_id": ev.source_id, "requested_at": ev.occurred_at.isoformat(),
                   "platform_cancellation_id": ev.platform_cancellation_id,
                   "auto_approve_at": ev.auto_approve_at.isoformat() if ev.auto_approve_at else None}
        recorded = self.repo.record_request(order_id, request)
        if recorded:
            self.repo.append_timeline(order_id, "cancel_requested", {k: v for k, v in request.items() if v})
        snap = self.repo.snapshot(order_id)
        stored = snap.requests.get(ev.request_id) or request
        if self._withdrawn_before(order_id, ev, recorded, stored, snap.facts()):
            return
        order = snap.require_order()
        status = OrderStatus(order["status"])
        if status == OrderStatus.CANCEL_REQUESTED and order.get("active_request_id") == ev.request_id:
            self._start_saga(order_id, ev.request_id, stored)  # a replay after a crash between the two writes
            return
        if not recorded and status == OrderStatus.OPEN and self._saga_began(order_id, ev.request_id):
            return
        if not can_transition(status, OrderStatus.CANCEL_REQUESTED):
            running = status in (OrderStatus.CANCEL_REQUESTED, OrderStatus.CANCELLING, OrderStatus.ON_HOLD)
            if running and recorded and not order.get("reopened"):  # it waits for the running request to end
                self.repo.mark_request(order_id, ev.request_id, queued=True)
            self.repo.append_timeline(order_id, "cancel_request_queued" if running else "cancel_request_not_started",
                                      {"request_id": ev.request_id, "order_status": status.value})
            return
        self.repo.transition(order_id, OrderStatus.CANCEL_REQUESTED, current=order, active_request_id=ev.request_id)
        self._start_saga(order_id, ev.request_id, stored)

    def _withdrawn_before(self, order_id: str, ev: CancelRequested, recorded: bool, stored: dict[str, Any],
                          ledger: Ledger) -> bool:
        """A withdrawal of this request already in the ledger, sent inside its window: the request ends here."""
        if ev.initiator == Initiator.SYSTEM or waits.PER_PURPOSE_WAKE:
            return False
        request = waits.request_of(stored)
        withdrawal = rules.withdrawal_of(ledger, request)
        if withdrawal is None or not rules.inside_window(request, withdrawal, cooling_off_seconds()):
            return False
        if recorded:
            self.repo.append_timeline(order_id, "cancel_withdrawn", {"request_id": ev.request_id,
                                                                     "by": withdrawal.source_id, "before_saga": True})
        return True

    def _saga_began(self, order_id: str, request_id: str) -> bool:
        """Whether the request's saga ran its first step (BeginCancellation notes it on the timeline)."""
        return any(step.get("step") == "saga_started" and (step.get("detail") or {}).get("request_id") == request_id
                   for step in self.repo.timeline(order_id))

    def _start_saga(self, order_id: str, request_id: str, request: dict[str, Any] | None = None,
                    remedy: dict[str, Any] | None = None) -> None:
        request = request if request is not None else (self.repo.get_request(order_id, request_id) or {})
        start_saga(order_id, request_id, request, remedy)

    def _withdrawal(self, order_id: str, ev: CancelWithdrawn, woke: int) -> None:
        """A withdrawal that ended no cooling-off: too late for a request already past its window.

        A withdrawal of a request not known yet stays in the ledger; the request finds it on arrival.
        """
        fact = fact_of(ev)
        if woke or fact is None:
            return
        alone = Ledger.of(order_id, [fact])
        for record in self.repo.items(order_id, "REQ#"):
            request = waits.request_of(record)
            if rules.withdrawal_of(alone, request) is None:
                continue
            token = self.repo.get_token(order_id, waits.COOLING_OFF, request.request_id)
            if token is None and self.repo.require_order(order_id)["status"] == OrderStatus.CANCEL_REQUESTED.value:
                continue  # its saga has not opened the window yet: opening it will find the withdrawal
            self.repo.append_timeline(order_id, "withdrawal_too_late", {"request_id": request.request_id})


def _summary(event: DomainEvent) -> dict[str, Any]:
    """The event's fields worth a timeline entry."""
    return event.model_dump(mode="json", exclude={"occurred_at", "order_id", "kind"}, exclude_none=True)
