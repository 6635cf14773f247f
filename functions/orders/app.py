"""Saga tasks on the order record: begin, cooling-off, waits, withdraw, reject, complete, hold."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Metrics, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from backout.ops.logs import saga_logger
from backout.ops.publish import saga_step
from backout.repo.orders import OrdersRepository
from backout.saga import orders

logger = saga_logger()
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context(correlation_id_path="order_id")
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Run one order step named by ``event['action']``; saga outcomes, durations and holds become metrics."""
    result = _step(event)
    saga_step(event["action"], event, result)
    return result


def _step(event: dict[str, Any]) -> dict[str, Any]:
    repo = OrdersRepository()
    order_id, request_id, action = event["order_id"], event["request_id"], event["action"]
    logger.info("order step", extra={"action": action, "request_id": request_id})
    if action == "begin":
        return orders.begin(order_id, request_id, event.get("execution_id", ""), repo, event.get("remedy"))
    if action == "decide":
        return orders.redecide(order_id, request_id, repo)
    if action == "open_cooling_off":
        return orders.open_cooling_off(order_id, request_id, event["task_token"], repo,
                                       int(event.get("window_seconds") or 0))
    if action == "withdraw":
        return orders.withdraw(order_id, request_id, repo)
    if action == "complete":
        return orders.complete(order_id, request_id, event.get("payment", {}), event.get("stock", {}), repo)
    if action == "hold":
        return orders.hold(order_id, request_id, event.get("error") or {}, repo, event.get("task_token"))
    if action == "await":
        return orders.await_event(order_id, request_id, event["purpose"], event["task_token"], repo)
    if action == "reject":
        state = event.get("state") or {}
        decision = state.get("operator") or state.get("platform") or {}
        return orders.reject(order_id, request_id, decision, repo)
    raise ValueError(f"unknown action {action!r}")
