"""Scheduled: reconcile the stock ledger with the stock counts; emit the error rate (alarm above 0.5 %)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from backout.ops.audit import InventoryAudit
from backout.ops.publish import publish_audit

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Audit every SKU; the differing SKUs are logged and returned."""
    summary = publish_audit(InventoryAudit().run())
    (logger.warning if summary["over_threshold"] else logger.info)("inventory audit", extra=summary)
    return summary
