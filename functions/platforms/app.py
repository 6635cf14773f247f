"""Saga task: tell the sales platform, idempotently."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from backout.repo.orders import OrdersRepository
from backout.saga.platforms import confirm_cancelled

logger = Logger()
tracer = Tracer()


@logger.inject_lambda_context(correlation_id_path="order_id")
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """``{"action": "confirm_cancelled", "order_id", "request_id"}``."""
    if event.get("action") != "confirm_cancelled":
        raise ValueError(f"unknown action {event.get('action')!r}")
    return confirm_cancelled(event["order_id"], event["request_id"], OrdersRepository())
