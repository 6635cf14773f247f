"""Per-provider helpers for the ingress tests: unique deliveries, signed the way `backout send` signs.

Every delivery is signed through ``backout_dev.sender.sign`` (the code path of
``backout send``), with a secrets dict shaped like the local stack's
(``{"webhooks": {...}, "paypal_local": {...}}``).
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import secrets as _random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backout_dev.sender import LOCAL_SOURCE_IP_HEADER, generate_provider_secrets, load_sample, sign

EVENTS = Path(__file__).resolve().parents[2] / "events"
PROVIDERS = ("stripe", "paypal", "shopify", "woocommerce", "ozon", "tiktok", "aftership", "easypost", "standard")
#: Providers whose signature covers a timestamp (replay window enforced).
TIMESTAMPED = ("stripe", "paypal", "standard")
#: Which function serves which provider (template.yaml).
FUNCTION_OF = {
    "woocommerce": "PlatformWebhookFunction", "shopify": "PlatformWebhookFunction", "ozon": "PlatformWebhookFunction",
    "tiktok": "PlatformWebhookFunction", "standard": "PlatformWebhookFunction",
    "stripe": "GatewayWebhookFunction", "paypal": "GatewayWebhookFunction",
    "aftership": "CarrierWebhookFunction", "easypost": "CarrierWebhookFunction",
}
#: The header whose absence must be refused (Ozon: the local source address; without it the peer is 127.0.0.1).
AUTH_HEADER = {
    "stripe": "stripe-signature", "paypal": "paypal-transmission-sig", "shopify": "x-shopify-hmac-sha256",
    "woocommerce": "x-wc-webhook-signature", "tiktok": "authorization", "aftership": "aftership-hmac-sha256",
    "easypost": "x-hmac-signature", "standard": "webhook-signature", "ozon": LOCAL_SOURCE_IP_HEADER,
}
#: The sample each provider's tests start from, and the domain events one delivery of it yields.
SAMPLE = {
    "stripe": ("stripe/refund.updated", ["refund_settled"]),
    "paypal": ("paypal/PAYMENT.CAPTURE.REFUNDED", ["refund_settled"]),
    "shopify": ("shopify/refunds-create", ["refund_settled"]),
    "woocommerce": ("woocommerce/order.cancel-request", ["order_placed", "cancel_requested"]),
    "ozon": ("ozon/TYPE_POSTING_CANCELLED", ["platform_cancellation_decided"]),
    "tiktok": ("tiktok/cancellation_status_change.pending", ["cancel_requested"]),
    "aftership": ("aftership/tracking_update.Delivered", ["shipment_scanned"]),
    "easypost": ("easypost/tracker.updated.return_to_sender", ["shipment_scanned"]),
    "standard": ("standard/order.cancel_requested", ["cancel_requested"]),
}

_serial = itertools.count(1)


def fresh_secrets() -> dict[str, Any]:
    """A complete local secrets dict: the stack's generator plus TikTok, PayPal and Ozon."""
    from backout_dev.stack import generate_local_secrets

    return with_provider_secrets(generate_local_secrets())


def with_provider_secrets(base: dict[str, Any]) -> dict[str, Any]:
    """``base`` plus TikTok/PayPal/Ozon entries where it has none (a deep copy)."""
    out = copy.deepcopy(base)
    extra = generate_provider_secrets()
    for provider, value in extra["webhooks"].items():
        out["webhooks"].setdefault(provider, value)
    if "paypal_local" not in out:
        out["paypal_local"] = extra["paypal_local"]
        out["webhooks"]["paypal"] = extra["webhooks"]["paypal"]
    return out


def other_secrets(secrets: dict[str, Any], provider: str) -> dict[str, Any]:
    """A copy of ``secrets`` whose ``provider`` entry is replaced by unrelated values (the "wrong secret")."""
    out = copy.deepcopy(secrets)
    hooks = out["webhooks"]
    if provider == "standard":
        hooks[provider] = ["whsec_" + __import__("base64").b64encode(_random.token_bytes(24)).decode()]
    elif provider == "tiktok":
        hooks[provider] = [[hooks["tiktok"][0][0], _random.token_urlsafe(24)]]  # same app key, wrong secret
    elif provider == "paypal":
        hooks[provider] = dict(hooks["paypal"], webhook_ids=["WH-WRONG-" + _random.token_hex(6)])
    elif provider == "ozon":
        pass  # Ozon has no secret: see Delivery.wrong_source
    else:
        hooks[provider] = [("whsec_" if provider == "stripe" else "") + _random.token_urlsafe(24)]
    return out


def rotated(secrets: dict[str, Any], provider: str) -> dict[str, Any]:
    """The webhook config after a rotation began: a new entry first, the old one still active."""
    hooks = copy.deepcopy(secrets["webhooks"])
    new = other_secrets(secrets, provider)["webhooks"][provider]
    if provider == "paypal":
        hooks[provider] = dict(hooks[provider], webhook_ids=new["webhook_ids"] + hooks[provider]["webhook_ids"])
    elif provider == "ozon":
        hooks[provider] = dict(hooks[provider], seller_ids=[99999999] + list(hooks[provider]["seller_ids"]))
    elif provider == "tiktok":
        hooks[provider] = [["local_app_new", _random.token_urlsafe(24)]] + hooks[provider]
    else:
        hooks[provider] = new + hooks[provider]
    return hooks


@dataclass
class Delivery:
    """One signed request: what a provider would post."""

    provider: str
    sample: dict[str, Any]
    body: Any
    raw: bytes
    headers: dict[str, str]

    @property
    def path(self) -> str:
        return f"/webhooks/{self.provider}"

    @property
    def key(self) -> str:
        """The dedupe key the README documents for this provider."""
        return expected_key(self.provider, self.body, self.headers)

    def api_event(self, raw: bytes | None = None, headers: dict[str, str] | None = None) -> dict[str, Any]:
        """The API Gateway v2 event API Gateway would hand the function."""
        headers = dict(self.headers if headers is None else headers)
        source = headers.pop(LOCAL_SOURCE_IP_HEADER, None) or "203.0.113.99"
        event = copy.deepcopy(self.sample)
        event["headers"] = headers
        body = self.raw if raw is None else raw
        try:
            event["body"], event["isBase64Encoded"] = body.decode("utf-8"), False
        except UnicodeDecodeError:  # API Gateway base64-encodes what is not text
            event["body"], event["isBase64Encoded"] = __import__("base64").b64encode(body).decode(), True
        event["requestContext"]["http"]["sourceIp"] = source
        event["requestContext"]["requestId"] = uuid.uuid4().hex
        return event


def unique_body(provider: str, body: dict[str, Any], headers: dict[str, str]) -> None:
    """Give a sample body (or headers) a never-seen dedupe key, in place."""
    n = next(_serial)
    tag = f"{uuid.uuid4().hex[:12]}{n}"
    digits = str(int(uuid.uuid4().int % 10**12) * 1000 + n % 1000)
    if provider == "stripe":
        body["id"] = f"evt_ingress_{tag}"
    elif provider == "paypal":
        body["id"] = f"WH-INGRESS-{tag.upper()}"
    elif provider == "shopify":
        headers["x-shopify-event-id"] = str(uuid.uuid4())
    elif provider == "woocommerce":
        body["id"] = 9_000_000_000 + int(digits) % 10**9
    elif provider == "ozon":
        body["posting_number"] = f"{digits}-0020-1"
    elif provider == "tiktok":
        body["tts_notification_id"] = digits
    elif provider == "aftership":
        body["event_id"] = str(uuid.uuid4())
    elif provider == "easypost":
        body["id"] = f"evt_{tag}"
    elif provider == "standard":
        headers["webhook-id"] = f"msg_{tag}"


def expected_key(provider: str, body: Any, headers: dict[str, str]) -> str:
    """The dedupe key as documented in the README's provider table."""
    if provider == "stripe":
        return f"stripe:{body['id']}"
    if provider == "paypal":
        return f"paypal:{body['id']}"
    if provider == "shopify":
        return f"shopify:{headers['x-shopify-event-id']}"
    if provider == "woocommerce":
        return f"woocommerce:{body['id']}:{headers['x-wc-webhook-topic']}:{body['date_modified_gmt']}"
    if provider == "ozon":
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return "ozon:" + hashlib.sha256(canonical.encode()).hexdigest()
    if provider == "tiktok":
        return f"tiktok:{body['tts_notification_id']}"
    if provider == "aftership":
        return f"aftership:{body['event_id']}"
    if provider == "easypost":
        return f"easypost:{body['id']}"
    return f"standard:{headers['webhook-id']}"


def make(provider: str, secrets: dict[str, Any], *, now: float | None = None, sample: str | None = None,
         mutate: Callable[[dict[str, Any]], None] | None = None, unique: bool = True) -> Delivery:
    """A signed delivery of ``provider``'s sample, with a fresh dedupe key unless ``unique=False``."""
    event = load_sample(EVENTS / f"{sample or SAMPLE[provider][0]}.json")
    body = json.loads(event["body"])
    headers = {k: v for k, v in event["headers"].items() if k not in ("content-length", "host")}
    if unique:
        unique_body(provider, body, headers)
    if mutate:
        mutate(body)
    raw = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    source_ip = event["requestContext"]["http"]["sourceIp"]
    signed = sign(provider, raw, headers, secrets, now=now, source_ip=source_ip)
    return Delivery(provider, event, body, raw, signed)


def tampered(d: Delivery) -> tuple[bytes, dict[str, str]]:
    """The delivery with its body changed after signing (Ozon, unsigned: the seller id changed)."""
    if d.provider == "ozon":
        body = dict(d.body, seller_id=int(d.body["seller_id"]) + 1)
        return json.dumps(body, separators=(",", ":")).encode(), dict(d.headers)
    return d.raw[:-1] + b',"tampered":true}', dict(d.headers)


def without_auth_header(d: Delivery) -> dict[str, str]:
    """The delivery's headers without the one that authenticates it."""
    return {k: v for k, v in d.headers.items() if k != AUTH_HEADER[d.provider]}


def wrong_source(d: Delivery) -> dict[str, str]:
    """Ozon's "wrong secret": a source address outside Ozon's networks."""
    return dict(d.headers, **{LOCAL_SOURCE_IP_HEADER: "198.51.100.7"})
