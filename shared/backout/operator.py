"""Operator decisions on held cancellations, checked against the ledger.

A decision is for the one hold that waits (its request's ``TOKEN#operator#<request>``). Of two
concurrent decisions one wins: the token is claimed by a conditional write, the other gets
``DecisionConflict`` (409). A decision that contradicts where the money already is, is refused
with the reason, and so is a decision on a hold that no longer waits.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Literal

from backout.adapters import stepfunctions
from backout.domain import rules
from backout.domain.ledger import Fact, FactKind
from backout.domain.order import OrderStatus
from backout.errors import BackoutError
from backout.repo.orders import OrdersRepository
from backout.saga.waits import OPERATOR

Decision = Literal["approve", "reject"]
#: The timeline step of each decision ("operator_" + verb + "d" gave "operator_rejectd").
TIMELINE_STEP: dict[str, str] = {"approve": "operator_approved", "reject": "operator_rejected"}


class DecisionConflict(BackoutError):
    """The decision cannot be taken now (answered 409 with the reason and what to do)."""


def decide(order_id: str, decision: Decision, actor: str, note: str, repo: OrdersRepository) -> dict[str, Any]:
    """Resume a held saga: approve re-runs its idempotent steps (re-decided from the ledger), reject closes it."""
    order = repo.require_order(order_id)
    if order["status"] != OrderStatus.ON_HOLD.value:
        raise DecisionConflict(f"order {order_id} is {order['status']}, not on hold: nothing waits for a decision")
    request_id = str(order.get("hold_request_id") or order.get("active_request_id") or "")
    token = repo.get_token(order_id, OPERATOR, request_id)
    if token is None or token.get("used_by"):
        raise DecisionConflict(f"order {order_id} has no pending operator decision (decided by "
                               f"{(token or {}).get('used_by', 'nobody')}); read its timeline before acting again")
    ledger = repo.ledger(order_id)
    if decision == "approve" and rules.in_dispute(ledger):
        raise DecisionConflict("a dispute is open on this payment: approving would refund on top of it; "
                               "wait for the dispute's outcome (a lost dispute counts as money returned)")
    if not repo.claim_token(order_id, OPERATOR, request_id, f"operator:{actor}"):
        raise DecisionConflict(f"another decision on order {order_id} was taken first")
    now = datetime.now(timezone.utc)
    repo.record_fact(order_id, Fact(kind=FactKind.OPERATOR, object_id=f"{request_id}@{token.get('saved_at', '')}",
                                    state=decision, at=now, request_id=request_id, source_id=f"operator:{actor}",
                                    detail={"note": note, "hold": str(token.get("reason") or "")}))
    repo.append_timeline(order_id, TIMELINE_STEP[decision], {"actor": actor, "note": note, "request_id": request_id,
                                                              "hold": str(token.get("reason") or "")})
    stepfunctions.complete(str(token["token"]), {"decision": decision, "actor": actor}, None)
    return {"order_id": order_id, "decision": decision, "request_id": request_id}
