"""Every wait of the saga and what ends it, in one place.

A wait is for one request and, where it has one, one object: ``TOKEN#<purpose>#<request id>``
holds the task token with what it waits for (the refunds, the parcel, the platform's
cancellation). Nothing stores "the next event of this kind": a webhook only appends
its fact to the ledger, then :func:`wake` evaluates each open wait of the order against
the ledger and completes the ones whose condition holds. A step that starts to wait
evaluates its own condition at once (:func:`begin_wait`), since the webhook often
outruns the saga. Completing twice is harmless: Step Functions answers a stale token,
which :mod:`backout.adapters.stepfunctions` treats as "someone got there first".
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from backout.adapters import stepfunctions
from backout.domain import rules
from backout.domain.ledger import FactKind, Ledger, Request
from backout.repo.facts import load_ledger
from backout.repo.orders import OrdersRepository

COOLING_OFF = "cooling_off"
PLATFORM_DECISION = "platform_decision"
CARRIER = "carrier"
RETURN = "return"
REFUND_SETTLEMENT = "refund_settlement"
OPERATOR = "operator"
#: Waits a webhook can end (the operator's is ended by a person, through the operator API).
EVENT_WAITS = (COOLING_OFF, PLATFORM_DECISION, CARRIER, RETURN, REFUND_SETTLEMENT)

Outcome = tuple[dict[str, Any], str | None]

#: A seam for the adversarial tests only, never set in a deployment: True restores the wake-up the ledger
#: replaced (one wait per purpose, ended by the first event of its kind, whatever object it names), so a
#: test can show the model-based generator finds the defects that design had.
PER_PURPOSE_WAKE = False


def request_of(record: dict[str, Any]) -> Request:
    """The domain's view of a recorded request (``REQ#``)."""
    at = record.get("requested_at") or record.get("recorded_at")
    return Request(request_id=str(record["request_id"]), initiator=str(record.get("initiator") or ""),
                   reason=str(record.get("reason") or ""), at=datetime.fromisoformat(str(at)) if at else None,
                   platform_cancellation_id=str(record.get("platform_cancellation_id") or ""))


def begin_wait(repo: OrdersRepository, order_id: str, request_id: str, purpose: str, task_token: str,
               **about: Any) -> dict[str, Any]:
    """Keep the token of a step that starts to wait, then end it at once if the ledger already allows."""
    repo.save_token(order_id, purpose, task_token, request_id, **about)
    repo.append_timeline(order_id, f"waiting_for_{purpose}", {"request_id": request_id, **about})
    wake(repo, order_id, "ledger", only=(purpose, request_id))
    return {}


def wake(repo: OrdersRepository, order_id: str, by: str, only: tuple[str, str] | None = None) -> int:
    """Complete every open wait of the order whose condition the ledger now meets; returns how many."""
    waits = [w for w in repo.open_tokens(order_id) if w["purpose"] in EVENT_WAITS
             and (only is None or (w["purpose"], w["request_id"]) == only)]
    if not waits:
        return 0
    ledger, done = load_ledger(repo, order_id), 0
    for wait in waits:
        if PER_PURPOSE_WAKE and only is not None and wait["purpose"] == COOLING_OFF:
            continue  # the old window never looked back at a withdrawal that came before it opened
        outcome = condition(repo, order_id, ledger, wait)
        if outcome is None:
            continue
        output, failure = outcome
        stepfunctions.complete(str(wait["token"]), output, failure)
        repo.mark_token_used(order_id, wait["purpose"], wait["request_id"], by)
        done += 1
    return done


def condition(repo: OrdersRepository, order_id: str, ledger: Ledger, wait: dict[str, Any]) -> Outcome | None:
    """What ends ``wait`` according to the ledger (output, failure name), or None while it must wait on."""
    purpose, request_id = str(wait["purpose"]), str(wait["request_id"])
    if PER_PURPOSE_WAKE:
        return _first_of_its_kind(ledger, purpose, wait)
    if purpose == REFUND_SETTLEMENT:
        return _refunds_settled(ledger, [str(r) for r in wait.get("refund_ids") or []])
    if purpose in (CARRIER, RETURN):
        return _parcel(ledger, purpose, wait)
    record = repo.get_request(order_id, request_id)
    if record is None:
        return None
    request = request_of(record)
    if purpose == COOLING_OFF:
        withdrawal = rules.withdrawal_of(ledger, request)
        if withdrawal and rules.inside_window(request, withdrawal, int(wait.get("window_seconds") or 0) or 10**9):
            return {"withdrawn": True, "by": withdrawal.source_id}, None
        return None
    if purpose == PLATFORM_DECISION:
        decision = rules.decision_for(ledger, request, str(wait.get("platform_cancellation_id") or ""))
        return ({"decision": decision.state, "by": decision.source_id}, None) if decision else None
    return None


def _refunds_settled(ledger: Ledger, refund_ids: list[str]) -> Outcome | None:
    """Every Backout refund of the request succeeded, or one failed (the operator gets the amount owed)."""
    states = rules.refund_states(ledger, refund_ids)
    verdict = rules.settlement(states)
    if verdict == "settled":
        return {"status": "succeeded", "refund_ids": refund_ids}, None
    if verdict == "failed":
        failed = [rid for rid, s in states.items() if s in ("failed", "canceled")]
        owed = sum(f.amount for rid in failed if (f := ledger.get(FactKind.REFUND, rid)) is not None)
        return {"status": "failed", "refund_ids": failed, "owed": owed}, "RefundFailed"
    return None


def _parcel(ledger: Ledger, purpose: str, wait: dict[str, Any]) -> Outcome | None:
    tracking, back = str(wait.get("tracking_number") or ""), str(wait.get("return_tracking_number") or "")
    if purpose == CARRIER:
        scan = rules.intercept_outcome(ledger, tracking, back)
        if scan is None:
            return None
        return {"status": rules.INTERCEPT_FINAL[scan.state], "tracking_number": scan.object_id}, None
    scan = rules.return_received(ledger, back)
    return ({"status": "returned", "tracking_number": scan.object_id}, None) if scan else None


def _first_of_its_kind(ledger: Ledger, purpose: str, wait: dict[str, Any]) -> Outcome | None:
    """The old wake-up (PER_PURPOSE_WAKE): the first settled refund, any decision, any withdrawal (while
    the window is open); the object each names is not looked at."""
    if purpose == REFUND_SETTLEMENT:
        for fact in ledger.all(FactKind.REFUND):
            if fact.state in ("succeeded", "failed", "canceled") and fact.source_id != "backout":
                failed = fact.state != "succeeded"
                return {"status": fact.state, "refund_id": fact.object_id}, "RefundFailed" if failed else None
        return None
    if purpose == PLATFORM_DECISION:
        decisions = ledger.all(FactKind.DECISION)
        return ({"decision": decisions[0].state}, None) if decisions else None
    if purpose == COOLING_OFF:
        return ({"withdrawn": True}, None) if ledger.all(FactKind.WITHDRAWAL) else None
    return _parcel(ledger, purpose, wait)
