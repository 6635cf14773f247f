"""Receives payment-gateway webhooks: verify, deduplicate, record, answer fast.

Routes:
    POST /webhooks/stripe, POST /webhooks/paypal.
The route's last path segment names the provider; anything else is answered 404. See backout.ingress.receiver.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from backout.ingress.receiver import answer_api_event

#: The providers this function answers for (each has its own route in template.yaml).
PROVIDERS = frozenset({"stripe", "paypal"})

logger = Logger()


def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """API Gateway HTTP API (v2) proxy handler."""
    answer = answer_api_event(event, PROVIDERS)
    if answer.fault is not None:
        logger.error("webhook receiver fault", extra=answer.log, exc_info=answer.fault)
    elif answer.status >= 400:
        logger.warning("webhook refused", extra=answer.log)
    else:
        logger.info("webhook answered", extra=answer.log)
    return answer.to_api()
