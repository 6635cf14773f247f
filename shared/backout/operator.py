"""Operator decisions on held cancellations."""

from __future__ import annotations

from typing import Any, Literal

from backout.domain.order import OrderStatus
from backout.errors import IllegalTransition
from backout.repo.orders import OrdersRepository
from backout.saga.orders import OPERATOR

Decision = Literal["approve", "reject"]


def decide(order_id: str, decision: Decision, actor: str, note: str, repo: OrdersRepository) -> dict[str, Any]:
    """Resume a held saga: approve re-runs its idempotent steps, reject closes the request."""
    from backout.dispatch import complete_token

    order = repo.require_order(order_id)
    if order["status"] != OrderStatus.ON_HOLD.value:
        raise IllegalTransition(f"order {order_id} is {order['status']}, not on hold")
    token = repo.get_token(order_id, OPERATOR)
    if token is None or token.get("used_by"):
        raise IllegalTransition(f"order {order_id} has no pending operator decision")
    repo.append_timeline(order_id, f"operator_{decision}d", {"actor": actor, "note": note})
    complete_token(token["token"], {"decision": decision, "actor": actor}, None)
    repo.mark_token_used(order_id, OPERATOR, f"operator:{actor}")
    return {"order_id": order_id, "decision": decision}
