"""Scheduled watchdog: heartbeats the saga's long waits and resumes those whose webhook was lost."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from backout import metric_names as names
from backout.watchdog import Watchdog

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """One watchdog pass (the EventBridge schedule's event carries nothing we need)."""
    report = Watchdog().run()
    logger.info("watchdog pass", extra=report.as_dict())
    metrics.add_metric(name=names.WAITS_HEARTBEATED, unit=MetricUnit.Count, value=report.heartbeats)
    metrics.add_metric(name=names.WAITS_RESUMED_BY_WATCHDOG, unit=MetricUnit.Count, value=report.completed)
    metrics.add_metric(name=names.WATCHDOG_WAIT_FAILURES, unit=MetricUnit.Count, value=report.failed)
    metrics.add_metric(name=names.OPERATOR_HOLDS_OPEN, unit=MetricUnit.Count, value=report.holds)
    metrics.add_metric(name=names.OLDEST_HOLD_AGE, unit=MetricUnit.Seconds, value=report.oldest_hold_age_seconds)
    if report.failed:
        logger.warning("watchdog: some waits could not be checked", extra={"failed": report.failed})
    return report.as_dict()
