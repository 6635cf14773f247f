"""The acknowledgement path: verify, deduplicate, record, answer.

Exactly one durable write per delivery: a conditional put into the inbox
table keyed by the provider's dedupe key. It both records the delivery and
refuses a second copy of it. All work happens after the answer, from the
inbox table's stream. Only the standard library, boto3 (through
``backout.aws``) and the light ingress modules are imported here, so a
receiver's cold start stays close to ``import boto3`` (``cryptography`` is
imported for PayPal only, by :mod:`backout.ingress.verify.paypal`).

The pieces: :mod:`.config` (settings, the webhook configuration and its
start-up check), :mod:`.rules` (which verifier each provider's route calls,
with what), :mod:`.verify` (one verifier module per provider),
:mod:`.paypal_certs` (PayPal's certificate host, handed in as
``fetch_cert``), :mod:`.inbox` (the one item written) and :mod:`.keys`
(dedupe keys). This module is the order of the checks and the answers.

Order of the checks, cheapest first; every refusal writes nothing:

====  ===========================================================
404   the route names no provider this function serves
400   the body is not valid base64 (``isBase64Encoded``)
413   the body is over ``MAX_BODY_BYTES``
200   WooCommerce's creation ping (form body ``webhook_id=<n>``)
415   a ``content-type`` that is present and not JSON
401   authenticity: signature, replay window, PayPal certificate,
      Ozon source address (before the body is parsed) and seller id
400   not a UTF-8 JSON object, or no dedupe key / topic in it
200   Ozon ``TYPE_PING`` (answered, not recorded)
200   recorded, or a duplicate (``"duplicate": true``; Ozon: ``{"result": true}``)
====  ===========================================================

Our own faults (no configuration, DynamoDB failing, PayPal's certificate
host unreachable) raise from :func:`receive`; :func:`answer_api_event`
turns them into 500/503 so that the provider retries.

Webhook configuration is one JSON object in Secrets Manager
(``WEBHOOK_SECRETS_NAME``, cached through Powertools parameters)::

    {"woocommerce": ["<current>", "<previous>"], "shopify": [...], "stripe": ["whsec_..."],
     "aftership": [...], "easypost": [...], "standard": ["whsec_<base64>"],
     "tiktok": [["<app_key>", "<app_secret>"], ...],
     "paypal": {"webhook_ids": ["<id>", ...], "trusted_roots_pem": "-----BEGIN CERTIFICATE-----..."},
     "ozon": {"seller_ids": [2114591], "allowed_networks": ["195.34.21.0/24", ...]}}

Every list may hold several entries at once (secret rotation).
``allowed_networks`` is optional (default: the networks Ozon documents).
"""
from __future__ import annotations

import base64
import binascii
import json
import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from backout.ingress import verify
from backout.ingress.config import ConfigError, Settings, check_config, load_webhook_config
from backout.ingress.delivery import Answer, Delivery, Rejected, Unavailable
from backout.ingress.inbox import (
    MAX_TOPIC_CHARS,
    InboxRecord,
    inbox_item,
    inbox_received_at_ms,
    put_inbox_item,
    read_inbox_item,
)
from backout.ingress.keys import MalformedPayload, identify
from backout.ingress.paypal_certs import CertCache, CertUnavailable, fetch_paypal_cert
from backout.ingress.rules import PROVIDERS, Context

__all__ = ["PROVIDERS", "Answer", "CertUnavailable", "ConfigError", "Delivery", "InboxRecord", "Rejected", "Settings",
           "Unavailable", "answer_api_event", "api_handler", "clear_paypal_cert_cache", "delivery_from_api_event",
           "fetch_paypal_cert", "inbox_item", "inbox_received_at_ms", "provider_of", "put_inbox_item",
           "read_inbox_item", "receive", "rejected_answer"]

#: Longest dedupe key accepted (DynamoDB allows 2048 bytes in a partition key).
MAX_KEY_BYTES = 1024

_WOOCOMMERCE_PING = re.compile(rb"webhook_id=[0-9]{1,20}")
_OZON_ERRORS = {400: "ERROR_PARAMETER_VALUE_MISSED"}

Fetch = Callable[[str], bytes]

#: PayPal certificates this process has verified, shared by its deliveries.
_paypal_certs = CertCache()


def clear_paypal_cert_cache() -> None:
    """Forget cached PayPal certificates (tests that change the fake CA call this)."""
    with _paypal_certs.lock:
        _paypal_certs.clear()


def _default_fetch(url: str) -> bytes:
    return fetch_paypal_cert(url)  # this module's name, looked up per call


def provider_of(event: Mapping[str, Any]) -> str:
    """The provider named by the route's last path segment (``/webhooks/<provider>``)."""
    return str(event.get("rawPath") or "").rstrip("/").rsplit("/", 1)[-1]


def delivery_from_api_event(provider: str, event: Mapping[str, Any]) -> Delivery:
    """Build a Delivery from an API Gateway HTTP API (v2) event; raw bytes kept exact."""
    body = event.get("body") or ""
    if not isinstance(body, str):
        raise Rejected(400, "body is not text")
    if event.get("isBase64Encoded"):
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise Rejected(400, "body is not valid base64") from exc
    else:
        try:
            raw = body.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise Rejected(400, "body is not UTF-8") from exc
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    ctx = event.get("requestContext") or {}
    http = ctx.get("http") if isinstance(ctx, dict) else None
    source_ip = str((http or {}).get("sourceIp", "")) if isinstance(http, dict) else ""
    return Delivery(provider, raw, headers, source_ip, str(ctx.get("requestId", "")) if isinstance(ctx, dict) else "")


def _is_woocommerce_ping(d: Delivery) -> bool:
    """WooCommerce's creation ping: unsigned form body ``webhook_id=<id>``, no topic header."""
    return (d.provider == "woocommerce" and "x-wc-webhook-topic" not in d.headers
            and _WOOCOMMERCE_PING.fullmatch(d.raw.strip()) is not None)


def _is_json(headers: Mapping[str, str]) -> bool:
    """A missing content-type is tolerated; a present one must be JSON."""
    value = headers.get("content-type")
    if value is None:
        return True
    media = value.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def _parse(raw: bytes) -> tuple[str, Any]:
    try:
        text = raw.decode("utf-8")
        return text, json.loads(text)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise Rejected(400, "body is not UTF-8 JSON") from exc


def _iso(now: float) -> str:
    return datetime.fromtimestamp(now, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _ozon_ping(now: float) -> dict[str, Any]:
    """Ozon's expected ping answer: the receiving application's version, name and time."""
    return {"version": os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "local"), "name": "backout", "time": _iso(now)}


def rejected_answer(provider: str, status: int, reason: str) -> Answer:
    """A 4xx/5xx answer in the provider's convention (Ozon's error envelope, else ``{"error": ...}``)."""
    if provider == "ozon":
        code = _OZON_ERRORS.get(status, "ERROR_UNKNOWN")
        body: dict[str, Any] = {"error": {"code": code, "message": reason, "details": None}}
    else:
        body = {"error": reason}
    return Answer(status, body, {"provider": provider, "status": status, "reason": reason})


Put = Callable[[dict[str, Any]], bool]

#: The configuration object last checked for each provider (a reloaded one, after a rotation, is checked again).
_checked: dict[str, Mapping[str, Any]] = {}


def _check_once(config: Mapping[str, Any], provider: str) -> None:
    if _checked.get(provider) is not config:
        check_config(config, (provider,))
        _checked[provider] = config


def receive(delivery: Delivery, *, now: float | None = None, config: Mapping[str, Any] | None = None,
            put: Put | None = None, settings: Settings | None = None, fetch_cert: Fetch | None = None) -> Answer:
    """Authenticate and record one delivery; answer at once.

    ``config`` is the webhook configuration (loaded from Secrets Manager
    when not given, and only once the cheap checks passed); ``put`` writes
    one inbox item and tells whether it was new (default: the conditional
    DynamoDB put); ``settings`` default to the environment's; ``fetch_cert``
    reads PayPal's certificate host (default :func:`fetch_paypal_cert`). 4xx answers
    write nothing; a duplicate is answered 200 and writes nothing. Our own
    faults raise.
    """
    now = time.time() if now is None else now
    settings = settings or Settings.from_env()
    provider = delivery.provider
    rules = PROVIDERS.get(provider)
    try:
        if rules is None:
            raise Rejected(404, "unknown provider")
        max_bytes = settings.max_body_bytes
        if len(delivery.raw) > max_bytes:
            raise Rejected(413, f"body over {max_bytes} bytes")
        if _is_woocommerce_ping(delivery):
            return Answer(200, {"received": True, "ping": True}, {"provider": provider, "status": 200, "ping": True})
        if not _is_json(delivery.headers):
            raise Rejected(415, "content-type must be application/json")
        cfg = load_webhook_config(settings) if config is None else config
        _check_once(cfg, provider)
        try:
            rules.before(delivery, cfg, Context(now, settings, fetch_cert or _default_fetch, _paypal_certs))
            text, body = _parse(delivery.raw)
            if rules.after is not None:
                rules.after(delivery, body, cfg)
        except verify.SignatureError as exc:
            raise Rejected(401, f"signature: {exc.reason}") from exc
        if not isinstance(body, dict):
            raise Rejected(400, "body must be a JSON object")
        if provider == "ozon" and body.get("message_type") == "TYPE_PING":
            return Answer(200, _ozon_ping(now), {"provider": provider, "status": 200, "ping": True})
        try:
            key, topic = identify(provider, body, delivery.headers)
        except MalformedPayload as exc:
            raise Rejected(400, exc.reason[:200]) from exc
        if len(key.encode("utf-8")) > MAX_KEY_BYTES:
            raise Rejected(400, "dedupe key too long")
    except Rejected as rej:
        return rejected_answer(provider, rej.status, rej.reason)
    created = (put or put_inbox_item)(inbox_item(delivery, key, topic, text, now, settings.retention_days))
    log = {"provider": provider, "status": 200, "key": key, "topic": topic[:MAX_TOPIC_CHARS], "duplicate": not created}
    if provider == "ozon":
        return Answer(200, {"result": True}, log)
    return Answer(200, {"received": True, "duplicate": not created, "key": key}, log)


def answer_api_event(event: Mapping[str, Any], served: Sequence[str] | frozenset[str],
                     settings: Settings | None = None, fetch_cert: Fetch | None = None) -> Answer:
    """Answer one API Gateway v2 event for a function serving the providers ``served``.

    Never raises: our own faults become 500 (503 when a dependency is
    unreachable) with the fault attached for logging, so the sender retries.
    """
    provider = provider_of(event)
    try:
        if provider not in served:
            return rejected_answer(provider, 404, "unknown provider")
        return receive(delivery_from_api_event(provider, event), settings=settings, fetch_cert=fetch_cert)
    except Rejected as rej:
        return rejected_answer(provider, rej.status, rej.reason)
    except Exception as exc:  # our fault: answer 5xx so the provider retries
        status = 503 if isinstance(exc, Unavailable) else 500
        answer = rejected_answer(provider, status, "temporarily unavailable" if status == 503 else "internal error")
        return Answer(answer.status, answer.body, answer.log | {"fault": type(exc).__name__}, exc)


def api_handler(served: Sequence[str] | frozenset[str], logger: Any, *,
                load_config: Callable[[Settings], Mapping[str, Any]] | None = None,
                fetch_cert: Fetch | None = None) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """The Lambda handler of a receiver function serving the providers ``served``.

    Made once per process (the Lambda init phase): the settings are read and
    the webhook configuration is loaded and checked here, so a configuration
    that could not verify a real delivery stops the function from starting,
    with a :class:`ConfigError` naming the setting, instead of answering 500 to
    every delivery (``load_config`` replaces the Secrets Manager read,
    ``fetch_cert`` PayPal's certificate host). ``logger`` is the function's Powertools Logger (passed in
    so this module stays light).
    """

    settings = Settings.from_env()
    config = (load_config or load_webhook_config)(settings)  # start-up: a configuration that cannot verify is refused here
    check_config(config, served)
    for provider in served:
        _checked[provider] = config

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        answer = answer_api_event(event, served, settings, fetch_cert)
        if answer.fault is not None:
            logger.error("webhook receiver fault", extra=answer.log, exc_info=answer.fault)
        elif answer.status >= 400:
            logger.warning("webhook refused", extra=answer.log)
        else:  # each accepted delivery is recorded in the inbox already; the log line is for debugging
            logger.debug("webhook answered", extra=answer.log)
        from backout.ops.emit import webhook_answered  # received / duplicate / rejected, by provider

        webhook_answered(answer.log, served)
        return answer.to_api()

    return handler
