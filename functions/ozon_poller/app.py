"""Scheduled: Ozon does not push cancellation requests, so list them and record each in the inbox once."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from backout import metric_names as names
from backout.ozon_poller import poll
from backout.saga.providers import ozon_client, ozon_configured

logger = Logger()
tracer = Tracer()
metrics = Metrics()
#: The poller says once per container that it has nothing to do (a seller who does not sell on Ozon).
_SAID_UNCONFIGURED: list[bool] = []


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """One poll (the schedule's event carries nothing we need); new requests flow on through the inbox stream."""
    if not ozon_configured():
        if not _SAID_UNCONFIGURED:
            logger.warning("Ozon is not configured (no ozon_client_id and ozon_api_key in the provider credentials): "
                           "the cancellation-request poller does nothing")
            _SAID_UNCONFIGURED.append(True)
        return {"skipped": "ozon is not configured"}
    result = poll(ozon_client())
    logger.info("ozon cancellation requests polled", extra=asdict(result))
    metrics.add_dimension(name="provider", value="ozon")
    metrics.add_metric(name=names.WEBHOOKS_RECEIVED, unit=MetricUnit.Count, value=result.recorded)
    return asdict(result)
