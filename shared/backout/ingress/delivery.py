"""What a receiver handles and answers: a delivery, an answer, a refusal (standard library only)."""

from __future__ import annotations

import json
from typing import Any, NamedTuple

__all__ = ["Answer", "Delivery", "Rejected", "Unavailable", "compact"]

#: Compact JSON (``json.dumps`` with ``separators`` builds a new encoder on every call).
compact = json.JSONEncoder(separators=(",", ":")).encode


# NamedTuples rather than dataclasses: the same fields, immutable, and several times cheaper to define at import
# (the receivers' cold path is held to 1.15 × ``import boto3``).
class Delivery(NamedTuple):
    """One HTTP request, as the receiver sees it."""

    provider: str
    raw: bytes
    headers: dict[str, str]
    source_ip: str
    request_id: str


class Answer(NamedTuple):
    """An HTTP answer in API Gateway v2 (payload format 2.0) shape.

    ``log`` holds safe fields for the function's log line; ``fault`` is our
    own exception when the answer is a 5xx.
    """

    status: int
    body: dict[str, Any]
    log: dict[str, Any]
    fault: BaseException | None = None

    def to_api(self) -> dict[str, Any]:
        """The Lambda proxy response."""
        return {"statusCode": self.status, "headers": {"content-type": "application/json"},
                "body": compact(self.body)}


class Rejected(Exception):
    """The delivery is refused with a 4xx; nothing is written."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class Unavailable(RuntimeError):
    """A dependency we need is unreachable right now (our fault: 503, retried)."""
