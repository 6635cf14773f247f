"""The acknowledgement path: verify, deduplicate, record, answer.

Exactly one durable write per delivery: a conditional put into the inbox
table keyed by the provider's dedupe key. It both records the delivery and
refuses a second copy of it. All work happens after the answer, from the
inbox table's stream. Only the standard library, boto3 (through
``backout.aws``) and the light verification/key modules are imported here,
so a receiver's cold start stays close to ``import boto3``.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from backout import aws
from backout.ingress import verify
from backout.ingress.keys import MalformedPayload, dedupe_key, topic_of

#: Headers never stored with a delivery (credentials and signatures).
_SECRET_HEADER_HINTS = ("signature", "hmac", "authorization", "cookie", "api-key", "transmission-sig")


@dataclass(frozen=True)
class Delivery:
    """One HTTP request, as the receiver sees it."""

    provider: str
    raw: bytes
    headers: dict[str, str]
    source_ip: str
    request_id: str


@dataclass(frozen=True)
class Answer:
    """An HTTP answer in API Gateway v2 (payload format 2.0) shape."""

    status: int
    body: dict[str, Any]

    def to_api(self) -> dict[str, Any]:
        """The Lambda proxy response."""
        return {"statusCode": self.status, "headers": {"content-type": "application/json"},
                "body": json.dumps(self.body, separators=(",", ":"))}


class Rejected(Exception):
    """The delivery is refused with a 4xx; nothing is written."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


Verifier = Callable[[Delivery, float], None]


def _secrets(provider: str) -> list[str]:
    from backout.credentials import webhook_secrets

    values = webhook_secrets(provider)
    if not values:
        raise RuntimeError(f"no webhook secret configured for {provider}")
    return values


def _tolerance() -> int:
    return int(os.environ.get("REPLAY_WINDOW_SECONDS", "300"))


def _hmac_verifier(fn: Callable[[bytes, Mapping[str, str], list[str]], None]) -> Verifier:
    def check(d: Delivery, now: float) -> None:
        fn(d.raw, d.headers, _secrets(d.provider))

    return check


def _stripe(d: Delivery, now: float) -> None:
    verify.verify_stripe(d.raw, d.headers, _secrets("stripe"), now=now, tolerance=_tolerance())


def _standard(d: Delivery, now: float) -> None:
    verify.verify_standard_webhooks(d.raw, d.headers, _secrets("standard"), now=now, tolerance=_tolerance())


#: provider -> how its deliveries are authenticated.
VERIFIERS: dict[str, Verifier] = {
    "woocommerce": _hmac_verifier(verify.verify_woocommerce),
    "shopify": _hmac_verifier(verify.verify_shopify),
    "aftership": _hmac_verifier(verify.verify_aftership),
    "easypost": _hmac_verifier(verify.verify_easypost),
    "stripe": _stripe,
    "standard": _standard,
}


def delivery_from_api_event(provider: str, event: Mapping[str, Any]) -> Delivery:
    """Build a Delivery from an API Gateway HTTP API (v2) event; raw bytes kept exact."""
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise Rejected(400, "body is not valid base64") from exc
    else:
        raw = body.encode("utf-8", "surrogateescape")
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    ctx = event.get("requestContext") or {}
    return Delivery(provider, raw, headers, str((ctx.get("http") or {}).get("sourceIp", "")),
                    str(ctx.get("requestId", "")))


def _stored_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if not any(h in k for h in _SECRET_HEADER_HINTS)}


def _is_woocommerce_ping(d: Delivery) -> bool:
    return d.provider == "woocommerce" and d.raw.startswith(b"webhook_id=") and "x-wc-webhook-topic" not in d.headers


def receive(delivery: Delivery, *, now: float | None = None) -> Answer:
    """Authenticate and record one delivery; answer at once.

    4xx answers write nothing. A duplicate is answered 200 and writes nothing.
    Our own faults propagate (the Lambda runtime answers 5xx, so the sender retries).
    """
    now = time.time() if now is None else now
    max_bytes = int(os.environ.get("MAX_BODY_BYTES", "262144"))
    try:
        if delivery.provider not in VERIFIERS:
            raise Rejected(404, "unknown provider")
        if len(delivery.raw) > max_bytes:
            raise Rejected(413, f"body over {max_bytes} bytes")
        if _is_woocommerce_ping(delivery):
            return Answer(200, {"received": True, "ping": True})
        try:
            VERIFIERS[delivery.provider](delivery, now)
        except verify.SignatureError as exc:
            raise Rejected(401, f"signature: {exc.reason}") from exc
        try:
            text = delivery.raw.decode("utf-8")
            body = json.loads(text)
            key = dedupe_key(delivery.provider, body, delivery.headers)
            topic = topic_of(delivery.provider, body, delivery.headers)
        except (UnicodeDecodeError, ValueError) as exc:  # JSONDecodeError and MalformedPayload are ValueErrors
            reason = exc.args[0] if isinstance(exc, MalformedPayload) else "body is not UTF-8 JSON"
            raise Rejected(400, str(reason)[:200]) from exc
    except Rejected as rej:
        return Answer(rej.status, {"error": rej.reason})
    created = record_delivery(delivery, key, topic, text, now)
    return Answer(200, {"received": True, "duplicate": not created, "key": key})


def record_delivery(delivery: Delivery, key: str, topic: str, text: str, now: float) -> bool:
    """The one durable write: put the delivery unless its key is already there."""
    retention_days = int(os.environ.get("INBOX_RETENTION_DAYS", "35"))
    item = {
        "pk": {"S": key},
        "provider": {"S": delivery.provider},
        "topic": {"S": topic},
        "body": {"S": text},
        "headers": {"S": json.dumps(_stored_headers(delivery.headers), separators=(",", ":"))},
        "source_ip": {"S": delivery.source_ip},
        "request_id": {"S": delivery.request_id},
        "received_at": {"N": str(int(now * 1000))},
        "expires_at": {"N": str(int(now) + retention_days * 86400)},
    }
    try:
        aws.client("dynamodb").put_item(
            TableName=aws.env("INBOX_TABLE"), Item=item, ConditionExpression="attribute_not_exists(pk)"
        )
    except Exception as exc:
        code = getattr(exc, "response", {}).get("Error", {}).get("Code")
        if code == "ConditionalCheckFailedException":
            return False
        raise
    return True
