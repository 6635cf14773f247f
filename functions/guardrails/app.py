"""Scheduled: compute the cancellation-rate guardrails and emit them as metrics (alarms watch them)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from backout.ops.guardrails import evaluate
from backout.ops.publish import publish_evaluation
from backout.repo.orders import OrdersRepository

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Rolling rates per guardrail and this week vs the trailing mean; returns what was emitted."""
    summary = publish_evaluation(evaluate(OrdersRepository()))
    logger.info("cancellation guardrails", extra=summary)
    return summary
