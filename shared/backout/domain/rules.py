"""What the saga needs to know, derived from the ledger by pure functions.

Nothing here reads a flag: every answer comes from what the providers said
(:mod:`backout.domain.ledger`) and what was recorded (requests, effects).
Each function names the domain rule it serves.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from backout.domain.events import (
    AuthorizationExpired,
    CancelWithdrawn,
    DisputeClosed,
    DisputeOpened,
    DomainEvent,
    PaymentAuthorized,
    PaymentCaptured,
    PaymentVoided,
    PlatformCancellationDecided,
    RefundSettled,
    ReturnScanned,
    ShipmentScanned,
)
from backout.domain.ledger import Fact, FactKind, Ledger, Request
from backout.domain.order import TERMINAL, OrderStatus

#: Scan statuses that mean the parcel has left the seller (a label alone has not).
LEFT_THE_SELLER = frozenset({"picked_up", "in_transit", "out_for_delivery", "failed_attempt",
                             "available_for_pickup", "delivered", "exception", "return_to_sender"})
#: Carrier statuses that decide an intercept (rule 2).
INTERCEPT_FINAL = {"return_to_sender": "return_to_sender", "returned": "returned", "delivered": "delivered"}
#: Dispute outcomes that mean the buyer kept the money through the card network (rule 10).
LOST_OUTCOMES = frozenset({"lost", "buyer_favour", "resolved_buyer_favour", "charge_refunded"})


# ------------------------------------------------------------------ facts from events
def fact_of(event: DomainEvent, known: Ledger | None = None) -> Fact | None:
    """The ledger fact a domain event states, or None for events that are not about a provider object.

    ``known``: the ledger so far; what a later update of an object leaves out (a dispute's close that
    names no amount) is kept from what the object's earlier facts said.
    """
    fact = _fact_of(event)
    if fact is not None and known is not None and not fact.amount:
        before = known.get(fact.kind, fact.object_id)
        if before is not None and before.amount:
            fact = fact.model_copy(update={"amount": before.amount, "currency": fact.currency or before.currency})
    return fact


def _fact_of(event: DomainEvent) -> Fact | None:
    base: dict[str, Any] = {"at": event.occurred_at, "source_id": event.source_id,
                            "payment_ref": event.payment_ref or ""}
    if isinstance(event, RefundSettled):
        return Fact(kind=FactKind.REFUND, object_id=event.refund_id, state=event.status, amount=event.amount,
                    currency=event.currency.upper(), detail={"reason": event.failure_reason or ""}, **base)
    if isinstance(event, DisputeOpened):
        return Fact(kind=FactKind.DISPUTE, object_id=event.dispute_id, state="open", amount=event.amount,
                    currency=(event.currency or "").upper(), detail=_dispute_detail(event), **base)
    if isinstance(event, DisputeClosed):
        state = "lost" if event.outcome.lower() in LOST_OUTCOMES else "won"
        return Fact(kind=FactKind.DISPUTE, object_id=event.dispute_id, state=state, amount=event.amount,
                    currency=(event.currency or "").upper(), detail={"outcome": event.outcome}, **base)
    if isinstance(event, PaymentCaptured):
        return Fact(kind=FactKind.CAPTURE, object_id=event.capture_id or event.payment_ref or event.source_id,
                    state="captured", amount=event.amount, currency=event.currency.upper(), **base)
    if isinstance(event, (PaymentAuthorized, PaymentVoided, AuthorizationExpired)):
        state = {"payment_authorized": "authorized", "payment_voided": "voided"}.get(event.kind, "expired")
        amount = event.amount if isinstance(event, PaymentAuthorized) else 0
        return Fact(kind=FactKind.AUTHORIZATION, object_id=event.payment_ref or event.source_id, state=state,
                    amount=amount, **base)
    if isinstance(event, ShipmentScanned):
        return Fact(kind=FactKind.PARCEL, object_id=event.tracking_number or "untracked", state=event.status.value,
                    detail={"carrier": event.carrier or "", "raw": event.raw_status}, **base)
    if isinstance(event, ReturnScanned):
        return Fact(kind=FactKind.PARCEL, object_id=event.tracking_number or "return", state="returned",
                    detail={"return": True}, **base)
    if isinstance(event, PlatformCancellationDecided):
        cid = event.platform_cancellation_id or ""
        return Fact(kind=FactKind.DECISION, object_id=cid or event.source_id, state=event.decision, parent_id=cid,
                    **base)
    if isinstance(event, CancelWithdrawn):
        return Fact(kind=FactKind.WITHDRAWAL, object_id=event.source_id, state="withdrawn",
                    parent_id=event.request_id or "", **base)
    return None


def _dispute_detail(event: DisputeOpened) -> dict[str, Any]:
    detail: dict[str, Any] = {"reason": event.reason}
    if event.evidence_due_by is not None:
        detail["evidence_due_by"] = event.evidence_due_by.isoformat()
    return detail


# ------------------------------------------------------------------ money (rules 1, 3, 9, 10)
def lost_to_chargeback(ledger: Ledger) -> int:
    """Money the buyer got back through a lost dispute: it counts as returned (never refund it too)."""
    return sum(f.amount for f in ledger.all(FactKind.DISPUTE) if f.state == "lost")


def in_dispute(ledger: Ledger) -> bool:
    """A dispute is open: no refund now, a person decides (rule 10)."""
    return any(f.state == "open" for f in ledger.all(FactKind.DISPUTE))


def dispute_amount(ledger: Ledger, dispute_id: str) -> int:
    """The amount a dispute was opened for (a close event often carries none)."""
    opened = ledger.get(FactKind.DISPUTE, dispute_id)
    return opened.amount if opened else 0


def owed(refundable_left: int, ledger: Ledger) -> int:
    """What is still owed to the buyer of a granted cancellation: what the gateway can still refund,
    less what a lost dispute already gave back."""
    return max(0, refundable_left - lost_to_chargeback(ledger))


def refund_states(ledger: Ledger, refund_ids: Iterable[str]) -> dict[str, str]:
    """The latest state the gateway reported for each of ``refund_ids`` (``unknown`` when none yet)."""
    out: dict[str, str] = {}
    for rid in refund_ids:
        fact = ledger.get(FactKind.REFUND, rid)
        out[rid] = fact.state if fact else "unknown"
    return out


def settlement(states: Mapping[str, str]) -> str:
    """``settled`` when every refund succeeded, ``failed`` when one failed or was canceled, else ``pending``."""
    if any(s in ("failed", "canceled") for s in states.values()):
        return "failed"
    if states and all(s == "succeeded" for s in states.values()):
        return "settled"
    return "pending"


def needs_operator_for_value(amount: int, threshold: int, approved: bool) -> bool:
    """High value: a refund at or above the threshold waits for a person, once (their approval)."""
    return threshold > 0 and amount >= threshold and not approved


def parse_thresholds(text: str) -> dict[str, int]:
    """``"USD=100000,JPY=150000"`` -> ``{"USD": 100000, "JPY": 150000}`` (minor units per ISO currency).

    Raises ValueError naming the bad entry: a setting that cannot be read must not pass as "no threshold".
    """
    table: dict[str, int] = {}
    for entry in (e.strip() for e in text.split(",")):
        if not entry:
            continue
        code, sep, value = entry.partition("=")
        code = code.strip().upper()
        if not sep or len(code) != 3 or not code.isalpha() or not value.strip().isdigit():
            raise ValueError(f"high-value threshold {entry!r} is not CURRENCY=MINOR_UNITS (e.g. USD=100000)")
        table[code] = int(value)
    return table


def high_value_threshold(currency: str, table: Mapping[str, int], default: int) -> int:
    """The threshold for ``currency`` in its own minor units: its entry in ``table``, else ``default``.

    One number cannot serve every currency: 1,000.00 USD is 100000 minor units, and so is 1,000.00 RUB
    (about 11 USD); 100000 JPY is 100,000 yen. 0 switches the guard off for that currency.
    """
    return int(table.get(currency.upper(), default))


# ------------------------------------------------------------------ requests (rules 3, 4)
#: Who can withdraw a request a withdrawal does not name: the buyer (a store's "withdraw" is the buyer's).
_UNNAMED_WITHDRAWS = frozenset({"buyer", ""})


def withdrawal_of(ledger: Ledger, request: Request) -> Fact | None:
    """The withdrawal that withdraws ``request`` (rule 4): named by its id; or, unnamed, a buyer's
    withdrawal made at or after the buyer's request (never the seller's or the platform's request)."""
    for fact in ledger.all(FactKind.WITHDRAWAL):
        if fact.parent_id:
            if fact.parent_id == request.request_id:
                return fact
        elif request.initiator in _UNNAMED_WITHDRAWS and request.at is not None and fact.at >= request.at:
            return fact
    return None


def inside_window(request: Request, withdrawal: Fact, cooling_off_seconds: int) -> bool:
    """A withdrawal sent within the request's cooling-off window (rule 4)."""
    if request.at is None:
        return True
    return withdrawal.at <= request.at + timedelta(seconds=cooling_off_seconds)


def decision_for(ledger: Ledger, request: Request, cancellation_id: str = "") -> Fact | None:
    """The platform's decision on this request's cancellation, never another request's (rule 5).

    Matched by the platform's cancellation id; a decision that names none (an Ozon posting
    cancelled) is taken only when it came at or after the request.
    """
    wanted = cancellation_id or request.platform_cancellation_id
    for fact in reversed(ledger.all(FactKind.DECISION)):
        if wanted and fact.parent_id == wanted:
            return fact
        if not fact.parent_id and (request.at is None or fact.at >= request.at):
            return fact
    return None


def operator_approved(ledger: Ledger, request_id: str, since: datetime | None = None) -> bool:
    """A person approved this request (after ``since``, when given)."""
    return any(f.request_id == request_id and f.state == "approve" and (since is None or f.at >= since)
               for f in ledger.all(FactKind.OPERATOR))


def approvals(ledger: Ledger, request_id: str) -> int:
    """How many times a person approved this request (each approval after a failure is a new attempt)."""
    return sum(1 for f in ledger.all(FactKind.OPERATOR) if f.request_id == request_id and f.state == "approve")


# ------------------------------------------------------------------ parcels (rule 2)
def outbound(ledger: Ledger, return_tracking: str = "") -> list[Fact]:
    """The order's outgoing parcels (everything scanned but the return parcel)."""
    return [f for f in ledger.all(FactKind.PARCEL) if f.object_id != return_tracking and not f.detail.get("return")]


def has_left(ledger: Ledger, return_tracking: str = "") -> bool:
    """A parcel of the order has left the seller (a label alone has not)."""
    return any(f.state in LEFT_THE_SELLER for f in outbound(ledger, return_tracking))


def intercept_outcome(ledger: Ledger, tracking: str = "", return_tracking: str = "") -> Fact | None:
    """The outbound parcel's final scan (returned to sender, back, or delivered), if there is one."""
    for fact in reversed(outbound(ledger, return_tracking)):
        if (not tracking or fact.object_id == tracking) and fact.state in INTERCEPT_FINAL:
            return fact
    return None


def return_received(ledger: Ledger, return_tracking: str) -> Fact | None:
    """The return parcel is back at the seller."""
    for fact in ledger.all(FactKind.PARCEL):
        back = fact.state in ("returned", "delivered") and (fact.object_id == return_tracking and return_tracking)
        if back or (fact.detail.get("return") and fact.state == "returned"):
            return fact
    return None


def goods_with_buyer(shipped: bool, ledger: Ledger, return_tracking: str = "") -> bool:
    """The goods left the seller and nothing says they came back (rules 2, 6): never restock them.

    Back means the intercept turned the parcel round (returned to sender, or back at the seller) or
    the return parcel was received.
    """
    if not shipped:
        return False
    turned = intercept_outcome(ledger, "", return_tracking)
    back = turned is not None and turned.state in ("return_to_sender", "returned")
    return not back and return_received(ledger, return_tracking) is None


def is_reorder(order: Mapping[str, Any], payment_ref: str | None) -> bool:
    """Rule 8 where a store reuses numbers: a placement under a known number is a new order when the
    order it would land on has ended and the placement names another payment than that order's.

    An order that has not ended keeps its number: a changed payment there is the same order paid
    again (a retried checkout), and its refresh is the repository's to judge.
    """
    ended = OrderStatus(order["status"]) in TERMINAL
    return bool(ended and payment_ref and order.get("payment_ref") and payment_ref != order["payment_ref"])
