"""Saga task: roll stock back through the ledger, each line exactly once."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Metrics, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from backout.ops.logs import saga_logger
from backout.ops.publish import restocked
from backout.repo.inventory import InventoryRepository
from backout.repo.orders import OrdersRepository
from backout.saga.inventory import restock

logger = saga_logger()
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context(correlation_id_path="order_id")
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """``{"action": "restock", "order_id", "request_id"}`` → units restocked and skipped."""
    if event.get("action") != "restock":
        raise ValueError(f"unknown action {event.get('action')!r}")
    result = restock(event["order_id"], event["request_id"], OrdersRepository(), InventoryRepository())
    restocked(result)
    logger.info("restocked", extra=result)
    return result
