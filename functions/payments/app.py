"""Saga task: settle the payment (void or refund) exactly once."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.typing import LambdaContext

from backout.repo.orders import OrdersRepository
from backout.saga.payments import settle

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context(correlation_id_path="order_id")
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """``{"action": "settle", "order_id", "request_id"}`` → the settlement outcome."""
    if event.get("action") != "settle":
        raise ValueError(f"unknown action {event.get('action')!r}")
    result = settle(event["order_id"], event["request_id"], OrdersRepository())
    with single_metric(name="PaymentsSettled", unit=MetricUnit.Count, value=1, namespace=metrics.namespace) as metric:
        metric.add_dimension(name="outcome", value=str(result["outcome"]))
    logger.info("payment settled", extra={"outcome": result["outcome"], "amount": result["amount"],
                                           "currency": result["currency"]})
    return result
