"""Saga task: settle the payment (void or refund) exactly once."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Metrics, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from backout.ops.logs import saga_logger
from backout.ops.publish import settled
from backout.repo.orders import OrdersRepository
from backout.saga.payments import settle

logger = saga_logger()
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context(correlation_id_path="order_id")
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """``{"action": "settle", "order_id", "request_id"}`` → the settlement outcome."""
    if event.get("action") != "settle":
        raise ValueError(f"unknown action {event.get('action')!r}")
    result = settle(event["order_id"], event["request_id"], OrdersRepository(), path=str(event.get("path") or ""))
    settled(result)
    logger.info("payment settled", extra={"outcome": result["outcome"], "amount": result["amount"],
                                           "currency": result["currency"]})
    return result
