"""Saga tasks that talk to sales platforms and carriers, idempotently."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from backout.ops.logs import saga_logger
from backout.repo.orders import OrdersRepository
from backout.saga import platforms

logger = saga_logger()
tracer = Tracer()


@logger.inject_lambda_context(correlation_id_path="order_id")
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """One platform or carrier step named by ``event['action']``."""
    repo = OrdersRepository()
    action, order_id, request_id = event.get("action"), event["order_id"], event["request_id"]
    if action == "confirm_cancelled":
        return platforms.confirm_cancelled(order_id, request_id, repo)
    if action == "request_cancellation":
        return platforms.request_cancellation(order_id, request_id, event["task_token"], repo)
    if action == "request_intercept":
        return platforms.request_intercept(order_id, request_id, event["task_token"], repo)
    if action == "issue_return_label":
        return platforms.issue_return_label(order_id, request_id, event["task_token"], repo)
    raise ValueError(f"unknown action {action!r}")
