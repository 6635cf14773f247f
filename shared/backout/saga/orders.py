"""Saga steps on the order record itself: begin, cooling-off, withdraw, complete, hold."""

from __future__ import annotations

from typing import Any

from backout.domain.order import OrderStatus, can_transition, require_request
from backout.repo.orders import OrdersRepository

COOLING_OFF = "cooling_off"


def begin(order_id: str, request_id: str, execution_id: str, repo: OrdersRepository) -> dict[str, Any]:
    """Check the saga has a recorded request for a known order; log its start."""
    order = repo.require_order(order_id)
    require_request(repo.get_request(order_id, request_id), request_id)
    repo.append_timeline(order_id, "saga_started", {"request_id": request_id, "execution": execution_id})
    return {"gateway": order["gateway"], "currency": order["currency"], "status": order["status"]}


def open_cooling_off(order_id: str, request_id: str, task_token: str, repo: OrdersRepository) -> dict[str, Any]:
    """Park the saga's token so a withdrawal webhook can end the window."""
    repo.save_token(order_id, COOLING_OFF, task_token, request_id)
    repo.append_timeline(order_id, "cooling_off_opened", {"request_id": request_id})
    return {}


def withdraw(order_id: str, request_id: str, repo: OrdersRepository) -> dict[str, Any]:
    """The customer withdrew within the window: the order is open again."""
    repo.transition(order_id, OrderStatus.OPEN, active_request_id="")
    repo.append_timeline(order_id, "cancel_withdrawn", {"request_id": request_id})
    return {}


def complete(order_id: str, request_id: str, payment: dict[str, Any], stock: dict[str, Any],
             repo: OrdersRepository) -> dict[str, Any]:
    """Money and stock are back: the order is cancelled."""
    repo.transition(order_id, OrderStatus.CANCELLED)
    repo.append_timeline(order_id, "cancelled", {"request_id": request_id, "payment": payment, "stock": stock})
    return {}


def hold(order_id: str, request_id: str, error: dict[str, Any], repo: OrdersRepository) -> dict[str, Any]:
    """Put the order on the operator queue with the error that stopped the saga."""
    order = repo.get_order(order_id)
    if order is not None and can_transition(OrderStatus(order["status"]), OrderStatus.ON_HOLD):
        repo.transition(order_id, OrderStatus.ON_HOLD, hold_reason=str(error.get("Error", "unknown")))
    if order is not None:
        repo.append_timeline(order_id, "held_for_operator", {"request_id": request_id, "error": error})
    return {}

