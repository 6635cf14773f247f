"""Metrics with their own dimensions, in CloudWatch EMF rendered by Powertools.

A function's ``Metrics`` object carries one set of dimensions per flush; the
metrics here each need their own (provider, channel and initiator, currency,
guardrail), so each is written as its own EMF line, at once (nothing is held
back in memory, so a frozen or recycled container loses no count). Every name
is one of :mod:`backout.metric_names`. Light on purpose: the webhook receivers
call :func:`webhook_answered` on every answer (Powertools is already imported
there for the Logger).

Powertools' ``single_metric`` builds, validates and serialises a new metric
set on every call (about a third of a receiver's own CPU per
acknowledgement). The line it prints depends only on the name, unit,
namespace, service and dimensions, apart from the timestamp (its first
field) and the value (its last), so it is rendered by Powertools once per
such key and kept as text: each call only writes the time and the value
into it, byte for byte what ``single_metric`` would have printed.
"""

from __future__ import annotations

import json
import numbers
import os
import time
import warnings
from collections.abc import Collection, Mapping
from functools import lru_cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.base import SingleMetric
from aws_lambda_powertools.metrics.exceptions import MetricValueError

from backout import metric_names as names

__all__ = ["MetricUnit", "emit", "webhook_answered"]

# Every metric here is its own EMF line, so a handler's ``log_metrics`` often has nothing left to flush.
warnings.filterwarnings("ignore", message="No application metrics to publish")

#: Rendered lines kept (names × dimension values; dimension values are bounded by the callers).
_LINES = 256
#: How Powertools' EMF document starts: the timestamp is the first field, the metric's values the last.
_HEAD = '{"_aws":{"Timestamp":'


@lru_cache(maxsize=_LINES)
def _line(name: str, unit: MetricUnit, namespace: str, service: str | None,
          dimensions: tuple[tuple[str, str], ...]) -> str:
    """Powertools' EMF line for one metric, validated by Powertools, between its timestamp and its value.

    Rendered with timestamp 0 and value 0.0, then cut: the text after the
    timestamp, up to the value list (the document's first and last fields).
    """
    metric = SingleMetric(namespace=namespace, service=service)
    metric.add_metric(name=name, unit=unit, value=0)
    for key, val in dimensions:
        metric.add_dimension(name=key, value=val)
    document = metric.serialize_metric_set()
    document["_aws"]["Timestamp"] = 0
    text = json.dumps(document, separators=(",", ":"))
    tail = f'{json.dumps(name)}:[0.0]}}'
    if not (text.startswith(_HEAD + "0,") and text.endswith(tail)):
        raise RuntimeError(f"unexpected EMF layout from Powertools: {text[:80]}")
    return text[len(_HEAD) + 1:-len("[0.0]}")]


def _disabled() -> bool:
    return os.environ.get("POWERTOOLS_METRICS_DISABLED", "false").strip().lower() in ("1", "true", "yes", "on")


def emit(name: str, value: float = 1, unit: MetricUnit = MetricUnit.Count, **dimensions: str) -> None:
    """Write one metric with the given dimensions (a no-op when POWERTOOLS_METRICS_DISABLED is set)."""
    if _disabled():
        return  # Powertools' single metrics do not read the switch themselves; the local stack sets it
    if not isinstance(value, numbers.Number):
        raise MetricValueError(f"{value} is not a valid number")
    namespace = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", names.NAMESPACE)
    dims = tuple((key, str(val) or "none") for key, val in dimensions.items())
    middle = _line(name, unit, namespace, os.environ.get("POWERTOOLS_SERVICE_NAME"), dims)
    print(f"{_HEAD}{int(time.time() * 1000)}{middle}[{json.dumps(float(value))}]}}")


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
