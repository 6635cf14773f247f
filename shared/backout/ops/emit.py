"""Metrics with their own dimensions, in CloudWatch EMF through Powertools ``single_metric``.

A function's ``Metrics`` object carries one set of dimensions per flush; the
metrics here each need their own (provider, channel and initiator, currency,
guardrail), so each is written as its own EMF line. Every name is one of
:mod:`backout.metric_names`. Light on purpose: the webhook receivers call
:func:`webhook_answered` (Powertools is already imported there for the Logger).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Collection, Mapping
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from backout import metric_names as names

__all__ = ["MetricUnit", "emit", "webhook_answered"]

# Every metric here is its own EMF line, so a handler's ``log_metrics`` often has nothing left to flush.
warnings.filterwarnings("ignore", message="No application metrics to publish")


def emit(name: str, value: float = 1, unit: MetricUnit = MetricUnit.Count, **dimensions: str) -> None:
    """Write one metric with the given dimensions (a no-op when POWERTOOLS_METRICS_DISABLED is set)."""
    if os.environ.get("POWERTOOLS_METRICS_DISABLED", "false").strip().lower() in ("1", "true", "yes", "on"):
        return  # single_metric does not read the switch itself; the local stack sets it
    namespace = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", names.NAMESPACE)
    with single_metric(name=name, unit=unit, value=value, namespace=namespace) as metric:
        for key, val in dimensions.items():
            metric.add_dimension(name=key, value=str(val) or "none")


def webhook_answered(log: Mapping[str, Any], served: Collection[str]) -> None:
    """Count one receiver answer: received, duplicate, rejected (4xx) or failed (5xx), by provider.

    ``log`` is the answer's log fields; a provider the function does not
    serve is counted as ``unknown`` (the route is the caller's choice, not ours).
    Pings are not deliveries and are not counted.
    """
    if log.get("ping"):
        return
    status = int(log.get("status", 0))
    provider = str(log.get("provider", ""))
    if status >= 500:
        name = names.WEBHOOKS_FAILED
    elif status >= 400:
        name = names.WEBHOOKS_REJECTED
    else:
        name = names.WEBHOOKS_DUPLICATE if log.get("duplicate") else names.WEBHOOKS_RECEIVED
    emit(name, provider=provider if provider in served else "unknown")
