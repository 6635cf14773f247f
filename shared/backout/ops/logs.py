"""The saga functions' Powertools Logger: order id as correlation id, personal data redacted.

Webhook bodies carry names, e-mail and postal addresses; Backout never
needs them in a log line. The formatter replaces the value of any key that
names personal data, at any depth, before the line is written. (Powertools'
data-masking utility needs ``jsonpath-ng``/the encryption SDK in the layer;
a key-name filter is all the log path needs.)
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

REDACTED = "***"

#: Keys whose values are personal data (compared lower-cased, ``-`` as ``_``).
PII_KEYS = frozenset({
    "email", "billing_email", "customer_email", "payer_email", "phone", "billing_phone", "shipping_phone",
    "first_name", "last_name", "name", "full_name", "customer_name", "buyer_name", "address", "address_1",
    "address_2", "street", "postcode", "postal_code", "zip", "billing", "shipping_address", "billing_address",
    "payer", "customer", "ip", "source_ip", "card", "last4",
})


def redact(value: Any) -> Any:
    """A copy of ``value`` with every personal-data key's value replaced."""
    if isinstance(value, dict):
        return {k: REDACTED if str(k).lower().replace("-", "_") in PII_KEYS else redact(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    return value


class RedactingFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON formatter, with personal data removed from every field."""

    def serialize(self, log: dict[str, Any]) -> str:
        """Redact, then serialise as Powertools does."""
        return super().serialize(redact(log))


def saga_logger() -> Logger:
    """The Logger of a function that works on orders (correlation id set by the handler's decorator)."""
    return Logger(logger_formatter=RedactingFormatter())
