"""Signed webhook deliveries for the benchmark, and the minimal baseline receiver.

Every delivery is a provider's sample from ``events/`` with a never-seen
dedupe id, signed the way ``backout send`` signs it (``sender.sign``), as the
API Gateway v2 event the receiver function gets.
"""

from __future__ import annotations

import base64
import copy
import functools
import hashlib
import hmac
import ipaddress
import itertools
import json
import time
import uuid
import zlib
from collections.abc import Callable
from typing import Any

from backout_dev import signing
from backout_dev.sender import LOCAL_SOURCE_IP_HEADER, generate_provider_secrets, load_sample, sign
from backout_dev.template import ROOT

#: Every provider with a route, and the sample each one is benchmarked with.
SAMPLES = {
    "stripe": "stripe/refund.updated", "paypal": "paypal/PAYMENT.CAPTURE.REFUNDED",
    "shopify": "shopify/refunds-create", "woocommerce": "woocommerce/order.cancel-request",
    "ozon": "ozon/TYPE_POSTING_CANCELLED", "tiktok": "tiktok/cancellation_status_change.pending",
    "aftership": "aftership/tracking_update.Delivered", "easypost": "easypost/tracker.updated.return_to_sender",
    "standard": "standard/order.cancel_requested",
}
PROVIDERS = tuple(SAMPLES)
#: Which receiver function (folder under functions/) serves a provider.
FUNCTION_OF = {"stripe": "gateway_webhooks", "paypal": "gateway_webhooks", "aftership": "carrier_webhooks",
               "easypost": "carrier_webhooks"}
#: Where each provider's dedupe id lives (``body``/``headers``, field), made unique per delivery.
_UNIQUE: dict[str, tuple[str, str, Callable[[int], Any]]] = {
    "stripe": ("body", "id", lambda n: f"evt_bench_{n}"),
    "paypal": ("body", "id", lambda n: f"WH-BENCH-{n}"),
    "shopify": ("headers", "x-shopify-event-id", lambda n: f"bench-{n}"),
    "woocommerce": ("body", "id", lambda n: 8_000_000_000 + n),
    "ozon": ("body", "posting_number", lambda n: f"{n}-0020-1"),
    "tiktok": ("body", "tts_notification_id", lambda n: f"9{n:011d}"),
    "aftership": ("body", "event_id", lambda n: f"bench-{n}"),
    "easypost": ("body", "id", lambda n: f"evt_bench_{n}"),
    "standard": ("headers", "webhook-id", lambda n: f"msg_bench_{n}"),
}
_serial = itertools.count(int(time.time() * 1000) % 10**9 * 1000)


def function_of(provider: str) -> str:
    """The receiver function folder serving ``provider``."""
    return FUNCTION_OF.get(provider, "platform_webhooks")


def bench_secrets() -> dict[str, Any]:
    """Local secrets for every provider: the stack's generator plus TikTok, PayPal (fake CA) and Ozon (a copy)."""
    return copy.deepcopy(_bench_secrets())


@functools.lru_cache(maxsize=1)
def _bench_secrets() -> dict[str, Any]:
    """Made once per process: the fake PayPal CA costs two RSA key generations."""
    from backout_dev.stack import generate_local_secrets

    out = generate_local_secrets()
    extra = generate_provider_secrets()
    out["webhooks"].update(extra["webhooks"])
    out["paypal_local"] = extra["paypal_local"]
    return out


def signed_events(provider: str, count: int, secrets: dict[str, Any]) -> list[dict[str, Any]]:
    """``count`` API Gateway v2 events of ``provider``'s sample, each with a fresh dedupe id, signed now."""
    sample = load_sample(ROOT / "events" / f"{SAMPLES[provider]}.json")
    body0 = json.loads(sample["body"])
    headers0 = {k: v for k, v in sample["headers"].items() if k not in ("content-length", "host")}
    where, name, value = _UNIQUE[provider]
    out = []
    for _ in range(count):
        body, headers = copy.deepcopy(body0), dict(headers0)
        (body if where == "body" else headers)[name] = value(next(_serial))
        raw = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
        signed = sign(provider, raw, headers, secrets, source_ip=sample["requestContext"]["http"]["sourceIp"])
        event = copy.deepcopy(sample)
        event["requestContext"]["http"]["sourceIp"] = signed.pop(LOCAL_SOURCE_IP_HEADER, "203.0.113.10")
        event["requestContext"]["requestId"] = uuid.uuid4().hex
        event.update(headers=signed, body=raw.decode(), isBase64Encoded=False)
        out.append(event)
    return out


# --------------------------------------------------------------------------
# the baseline: the physical minimum of an acknowledgement


def _signature_check(provider: str, secrets: dict[str, Any]) -> Callable[[bytes, dict[str, str], str], bool]:
    """The cheapest correct authenticity check of one provider, for the baseline receiver."""
    hooks = secrets["webhooks"]
    if provider == "paypal":
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        key: Any = x509.load_pem_x509_certificate(secrets["paypal_local"]["cert_pem"].encode()).public_key()
        webhook_id = hooks["paypal"]["webhook_ids"][0]

        def paypal(raw: bytes, h: dict[str, str], ip: str) -> bool:
            message = f"{h['paypal-transmission-id']}|{h['paypal-transmission-time']}|{webhook_id}|{zlib.crc32(raw)}"
            key.verify(base64.b64decode(h["paypal-transmission-sig"]), message.encode(), padding.PKCS1v15(),
                       hashes.SHA256())
            return True

        return paypal
    if provider == "ozon":
        network = ipaddress.ip_network("195.34.21.0/24")
        return lambda raw, h, ip: ipaddress.ip_address(ip) in network
    if provider == "stripe":
        def stripe(raw: bytes, h: dict[str, str], ip: str) -> bool:
            t = h["stripe-signature"].split(",", 1)[0][2:]
            return hmac.compare_digest(signing.sign_stripe(raw, hooks["stripe"][0], int(t))["stripe-signature"],
                                       h["stripe-signature"])
        return stripe
    if provider == "standard":
        def standard(raw: bytes, h: dict[str, str], ip: str) -> bool:
            expected = signing.sign_standard_webhooks(raw, hooks["standard"][0], h["webhook-id"],
                                                      int(h["webhook-timestamp"]))
            return hmac.compare_digest(expected["webhook-signature"], h["webhook-signature"])
        return standard
    if provider == "tiktok":
        app_key, app_secret = hooks["tiktok"][0]
        return lambda raw, h, ip: hmac.compare_digest(signing.sign_tiktok(raw, app_key, app_secret)["authorization"],
                                                      h["authorization"])
    signer = getattr(signing, f"sign_{provider}")
    return lambda raw, h, ip: all(hmac.compare_digest(v, h[k]) for k, v in signer(raw, hooks[provider][0]).items())


def baseline_receiver(provider: str, secrets: dict[str, Any], client: Any,
                      table: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """A minimal receiver: the signature check, then one conditional PutItem of the delivery (body and headers).

    Its key is a hash of the raw body (a retry of the same bytes is the same
    key) and of the delivery-id header where the provider has one, so it parses
    nothing; it is the floor an acknowledgement can reach.
    """
    check = _signature_check(provider, secrets)
    id_header = {"shopify": "x-shopify-event-id", "standard": "webhook-id"}.get(provider, "")

    def receive(event: dict[str, Any]) -> dict[str, Any]:
        text: str = event["body"]
        raw = text.encode()
        if not check(raw, event["headers"], event["requestContext"]["http"]["sourceIp"]):
            return {"statusCode": 401, "body": '{"error":"signature"}'}
        key = f"baseline:{provider}:{event['headers'].get(id_header, '')}:{hashlib.sha256(raw).hexdigest()}"
        item = {"pk": {"S": key}, "body": {"S": text}, "headers": {"S": json.dumps(event["headers"])}}
        client.put_item(TableName=table, Item=item, ConditionExpression="attribute_not_exists(pk)")
        return {"statusCode": 200, "body": '{"received":true}'}

    return receive
