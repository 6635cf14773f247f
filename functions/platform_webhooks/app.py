"""Receives sales-platform webhooks: verify, deduplicate, record, answer fast.

The route's last path segment names the provider (``/webhooks/woocommerce``).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from backout.ingress.receiver import delivery_from_api_event, receive

logger = Logger()


def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """API Gateway HTTP API (v2) proxy handler."""
    provider = str(event.get("rawPath", "")).rstrip("/").rsplit("/", 1)[-1]
    answer = receive(delivery_from_api_event(provider, event))
    log = logger.info if answer.status < 400 else logger.warning
    log("webhook answered", extra={"provider": provider, "status": answer.status, **answer.body})
    return answer.to_api()
