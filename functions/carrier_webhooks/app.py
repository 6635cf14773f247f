"""Receives carrier-tracking webhooks: verify, deduplicate, record, answer fast.

Routes:
    POST /webhooks/aftership, POST /webhooks/easypost.
The route's last path segment names the provider; anything else is answered 404. See backout.ingress.receiver.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger

from backout.ingress.receiver import api_handler

#: The providers this function answers for (each has its own route in template.yaml).
PROVIDERS = frozenset({"aftership", "easypost"})

handler = api_handler(PROVIDERS, Logger())
