"""The acknowledgement path: verify, deduplicate, record, answer.

Exactly one durable write per delivery: a conditional put into the inbox
table keyed by the provider's dedupe key. It both records the delivery and
refuses a second copy of it. All work happens after the answer, from the
inbox table's stream. Only the standard library, boto3 (through
``backout.aws``) and the light verification/key modules are imported here,
so a receiver's cold start stays close to ``import boto3`` (``cryptography``
is imported on PayPal deliveries only, by :mod:`backout.ingress.verify`).

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
import functools
import json
import os
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

from backout import aws
from backout.ingress import verify
from backout.ingress.config import (
    DEFAULT_RETENTION_DAYS,
    ConfigError,
    Settings,
    check_config,
    load_webhook_config,
)
from backout.ingress.config import int_env as _int_env
from backout.ingress.keys import OZON_POLLED_TYPE, MalformedPayload, identify

#: Headers never stored with a delivery (credentials and signatures): any name containing one of these.
_SECRET_HEADER_HINTS = ("signature", "hmac", "authorization", "cookie", "api-key", "transmission-sig")
_SECRET_HEADER = re.compile("|".join(map(re.escape, _SECRET_HEADER_HINTS)))

#: Longest dedupe key accepted (DynamoDB allows 2048 bytes in a partition key).
MAX_KEY_BYTES = 1024
#: Longest topic stored with a delivery (it is only a label).
MAX_TOPIC_CHARS = 256

#: How long the receiver waits for PayPal's certificate host (the sender gives up at a few seconds).
PAYPAL_CERT_TIMEOUT_SECONDS = 2.0
#: Largest certificate document read from PayPal.
PAYPAL_CERT_MAX_BYTES = 65536
#: Certificates kept in-process (valid ones only; PayPal rotates them by URL).
PAYPAL_CERT_CACHE_SIZE = 16

#: Compact JSON (``json.dumps`` with ``separators`` builds a new encoder on every call).
_compact = json.JSONEncoder(separators=(",", ":")).encode

_WOOCOMMERCE_PING = re.compile(rb"webhook_id=[0-9]{1,20}")
_OZON_ERRORS = {400: "ERROR_PARAMETER_VALUE_MISSED"}


# --------------------------------------------------------------------------
# requests and answers


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
                "body": _compact(self.body)}


class Rejected(Exception):
    """The delivery is refused with a 4xx; nothing is written."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class Unavailable(RuntimeError):
    """A dependency we need is unreachable right now (our fault: 503, retried)."""


class CertUnavailable(Exception):
    """PayPal's certificate host could not be reached (transient)."""


# --------------------------------------------------------------------------
# configuration


def _entry(config: Mapping[str, Any], provider: str) -> Any:
    value = config.get(provider)
    if value in (None, "", [], {}):
        raise ConfigError(f"no webhook configuration for {provider}")
    return value


def _secret_list(config: Mapping[str, Any], provider: str) -> list[str]:
    """A provider's active secrets (a single string is one secret)."""
    value = _entry(config, provider)
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not all(isinstance(v, str) and v for v in values):
        raise ConfigError(f"{provider}: expected a list of secrets")
    return values


def _settings(config: Mapping[str, Any], provider: str) -> Mapping[str, Any]:
    value = _entry(config, provider)
    if not isinstance(value, dict):
        raise ConfigError(f"{provider}: expected a JSON object")
    return value


def _strings(value: Any, what: str) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(v, (str, int)) and str(v) for v in value):
        raise ConfigError(f"{what}: expected a non-empty list")
    return [str(v) for v in value]


# --------------------------------------------------------------------------
# authenticity, per provider
#
# ``before`` runs on the raw bytes (signatures; Ozon's source address),
# ``after`` on the parsed body (Ozon's seller id).

Check = Callable[[Delivery, Mapping[str, Any], float, Settings], None]
BodyCheck = Callable[[Delivery, Any, Mapping[str, Any]], None]


def _hmac(fn: Callable[[bytes, Mapping[str, str], list[str]], Any]) -> Check:
    def check(d: Delivery, config: Mapping[str, Any], now: float, settings: Settings) -> None:
        fn(d.raw, d.headers, _secret_list(config, d.provider))

    return check


def _stripe(d: Delivery, config: Mapping[str, Any], now: float, settings: Settings) -> None:
    verify.verify_stripe(d.raw, d.headers, _secret_list(config, "stripe"), now=now,
                         tolerance=settings.replay_window_seconds)


def _standard(d: Delivery, config: Mapping[str, Any], now: float, settings: Settings) -> None:
    verify.verify_standard_webhooks(d.raw, d.headers, _secret_list(config, "standard"), now=now,
                                    tolerance=settings.replay_window_seconds)


def _tiktok(d: Delivery, config: Mapping[str, Any], now: float, settings: Settings) -> None:
    pairs = _entry(config, "tiktok")
    if not isinstance(pairs, list) or not all(
        isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) and x for x in p) for p in pairs
    ):
        raise ConfigError("tiktok: expected a list of [app_key, app_secret] pairs")
    verify.verify_tiktok(d.raw, d.headers, [(key, secret) for key, secret in pairs])


def fetch_paypal_cert(url: str) -> bytes:
    """GET the PEM document at a PayPal certificate URL.

    Called only after :func:`backout.ingress.verify.verify_paypal` checked
    that ``url`` is ``https`` on a paypal.com host. Redirects are refused.
    A 4xx answer is the sender's fault (the delivery is refused with 401);
    an unreachable host, a timeout or a 5xx raise :class:`CertUnavailable`
    (answered 503, so PayPal retries). The local stack and tests replace
    this module attribute with a fake host.
    """
    import ssl
    import urllib.error
    import urllib.request

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect, urllib.request.HTTPSHandler(context=ssl.create_default_context()))
    request = urllib.request.Request(url, headers={"Accept": "application/x-pem-file, */*"})
    try:
        with opener.open(request, timeout=PAYPAL_CERT_TIMEOUT_SECONDS) as resp:
            data = bytes(resp.read(PAYPAL_CERT_MAX_BYTES + 1))
    except urllib.error.HTTPError as exc:
        if exc.code >= 500 or exc.code == 429:
            raise CertUnavailable(f"HTTP {exc.code}") from exc
        raise
    except (urllib.error.URLError, OSError) as exc:  # DNS, connect, TLS, timeout
        raise CertUnavailable(type(exc).__name__) from exc
    if len(data) > PAYPAL_CERT_MAX_BYTES:
        raise ValueError("certificate document too large")
    return data


_paypal_certs: dict[str, bytes] = {}
_paypal_certs_lock = threading.Lock()


def clear_paypal_cert_cache() -> None:
    """Forget cached PayPal certificates (tests that change the fake CA call this)."""
    with _paypal_certs_lock:
        _paypal_certs.clear()


def _fetch_via_module(url: str) -> bytes:
    return fetch_paypal_cert(url)  # looked up at call time, so a replaced fetcher is used


def _paypal(d: Delivery, config: Mapping[str, Any], now: float, settings: Settings) -> None:
    paypal = _settings(config, "paypal")
    ids = _strings(paypal.get("webhook_ids"), "paypal.webhook_ids")
    roots = paypal.get("trusted_roots_pem")  # checked by check_config before any delivery reads it
    try:
        verify.verify_paypal(d.raw, d.headers, ids, now=now, tolerance=settings.replay_window_seconds,
                             fetch_cert=_fetch_via_module,
                             cert_cache=_paypal_certs, trusted_roots_pem=roots.encode() if roots else None)
    except verify.SignatureError as exc:
        if isinstance(exc.__cause__, CertUnavailable):
            raise Unavailable(f"PayPal certificate host: {exc.__cause__}") from exc
        raise
    finally:
        with _paypal_certs_lock:
            while len(_paypal_certs) > PAYPAL_CERT_CACHE_SIZE:
                _paypal_certs.pop(next(iter(_paypal_certs)))


def _ozon_settings(config: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    settings = _settings(config, "ozon")
    sellers = _strings(settings.get("seller_ids"), "ozon.seller_ids")
    networks = settings.get("allowed_networks")
    return sellers, (_strings(networks, "ozon.allowed_networks") if networks is not None
                     else list(verify.OZON_NETWORKS))


def _ozon_source(d: Delivery, config: Mapping[str, Any], now: float, settings: Settings) -> None:
    verify.verify_ozon_source(d.source_ip, _ozon_settings(config)[1])


def _ozon_seller(d: Delivery, body: Any, config: Mapping[str, Any]) -> None:
    if not isinstance(body, dict):
        raise Rejected(400, "ozon: body must be a JSON object")
    if not isinstance(body.get("message_type"), str) or not body["message_type"]:
        raise Rejected(400, "ozon: message_type missing")
    if body["message_type"] == OZON_POLLED_TYPE:
        # Ozon never pushes cancellation requests; Backout polls them and writes them to the inbox itself
        raise Rejected(400, f"ozon: {OZON_POLLED_TYPE} is not an Ozon push type")
    sellers, networks = _ozon_settings(config)
    verify.verify_ozon(d.source_ip, body, allowed_networks=networks, seller_ids=sellers)



class ProviderRules(NamedTuple):
    """How one provider's deliveries are authenticated."""

    before: Check
    after: BodyCheck | None = None


PROVIDERS: dict[str, ProviderRules] = {
    "woocommerce": ProviderRules(_hmac(verify.verify_woocommerce)),
    "shopify": ProviderRules(_hmac(verify.verify_shopify)),
    "ozon": ProviderRules(_ozon_source, _ozon_seller),
    "tiktok": ProviderRules(_tiktok),
    "standard": ProviderRules(_standard),
    "stripe": ProviderRules(_stripe),
    "paypal": ProviderRules(_paypal),
    "aftership": ProviderRules(_hmac(verify.verify_aftership)),
    "easypost": ProviderRules(_hmac(verify.verify_easypost)),
}
"""Every provider with a route ``POST /webhooks/<provider>``."""


# --------------------------------------------------------------------------
# the acknowledgement path


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


@functools.lru_cache(maxsize=512)
def _kept(name: str) -> bool:
    """Whether a header is stored with a delivery (senders send the same few names on every delivery)."""
    return _SECRET_HEADER.search(name) is None


def _stored_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if _kept(k)}


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
            put: Put | None = None, settings: Settings | None = None) -> Answer:
    """Authenticate and record one delivery; answer at once.

    ``config`` is the webhook configuration (loaded from Secrets Manager
    when not given, and only once the cheap checks passed); ``put`` writes
    one inbox item and tells whether it was new (default: the conditional
    DynamoDB put); ``settings`` default to the environment's. 4xx answers
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
            rules.before(delivery, cfg, now, settings)
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
                     settings: Settings | None = None) -> Answer:
    """Answer one API Gateway v2 event for a function serving the providers ``served``.

    Never raises: our own faults become 500 (503 when a dependency is
    unreachable) with the fault attached for logging, so the sender retries.
    """
    provider = provider_of(event)
    try:
        if provider not in served:
            return rejected_answer(provider, 404, "unknown provider")
        return receive(delivery_from_api_event(provider, event), settings=settings)
    except Rejected as rej:
        return rejected_answer(provider, rej.status, rej.reason)
    except Exception as exc:  # our fault: answer 5xx so the provider retries
        status = 503 if isinstance(exc, Unavailable) else 500
        answer = rejected_answer(provider, status, "temporarily unavailable" if status == 503 else "internal error")
        return Answer(answer.status, answer.body, answer.log | {"fault": type(exc).__name__}, exc)


def inbox_item(delivery: Delivery, key: str, topic: str, text: str, now: float,
               retention_days: int | None = None) -> dict[str, Any]:
    """The inbox item (DynamoDB attribute values) recording one delivery: four attributes.

    ``pk`` is the dedupe key ``"<provider>:<id>"`` (so it names the
    provider), ``body`` the body as received and ``expires_at`` the TTL
    (``retention_days`` after arrival; default ``INBOX_RETENTION_DAYS``).
    Everything else is one JSON string, ``meta``: the arrival time in ms and
    the stored headers (signatures and credentials left out), which the
    dispatcher reads, and what only a person reads (the topic, the source
    address, API Gateway's request id). Every attribute costs CPU on each
    write, in botocore and behind it, while DynamoDB bills by size. Nothing
    queries the inbox by those fields: ``backout replay``'s fallback reads
    ``meta`` and filters itself (a Scan's capacity is counted by the items
    read, not returned). Read an item back with :func:`read_inbox_item`.
    """
    days = _int_env("INBOX_RETENTION_DAYS", DEFAULT_RETENTION_DAYS) if retention_days is None else retention_days
    meta = {"received_at": int(now * 1000), "headers": _stored_headers(delivery.headers),
            "topic": topic[:MAX_TOPIC_CHARS], "source_ip": delivery.source_ip, "request_id": delivery.request_id}
    return {
        "pk": {"S": key},
        "body": {"S": text},
        "meta": {"S": _compact(meta)},
        "expires_at": {"N": str(int(now) + days * 86400)},
    }


class InboxRecord(NamedTuple):
    """One inbox item as the dispatcher needs it."""

    key: str
    provider: str
    body: str
    headers: dict[str, str]
    received_at_ms: int
    topic: str


def read_inbox_item(item: Mapping[str, Any]) -> InboxRecord:
    """Read an inbox item (plain values, as ``from_item`` gives them) written by :func:`inbox_item`."""
    key = str(item["pk"])
    meta = _meta(item)
    provider = str(item.get("provider") or key.split(":", 1)[0])
    return InboxRecord(key, provider, str(item["body"]), meta.get("headers") or {}, int(meta["received_at"]),
                       str(meta.get("topic", "")))


def inbox_received_at_ms(item: Mapping[str, Any]) -> int:
    """When an inbox item's delivery arrived (ms); the item needs only ``meta`` or ``received_at``."""
    return int(_meta(item)["received_at"])


def _meta(item: Mapping[str, Any]) -> dict[str, Any]:
    """An inbox item's ``meta``, or its equivalent in an item written before ``meta`` held everything.

    Those had ``provider``, ``headers``, ``audit`` and ``received_at`` as
    attributes of their own; they stay in the table and the stream for a
    while after a deploy, and replay reads them for ``InboxRetentionDays``.
    """
    if "meta" in item:
        return dict(json.loads(item["meta"]))
    return {"headers": json.loads(item.get("headers") or "{}"), "received_at": item["received_at"],
            "topic": json.loads(item.get("audit") or "{}").get("topic", "")}


def put_inbox_item(item: dict[str, Any]) -> bool:
    """The one durable write: put the item unless its key is already there; True if it was new."""
    try:
        aws.client("dynamodb").put_item(
            TableName=aws.env("INBOX_TABLE"), Item=item, ConditionExpression="attribute_not_exists(pk)"
        )
    except Exception as exc:
        code = (getattr(exc, "response", None) or {}).get("Error", {}).get("Code")  # timeouts have no response
        if code == "ConditionalCheckFailedException":
            return False
        raise
    return True



def api_handler(served: Sequence[str] | frozenset[str], logger: Any, *,
                load_config: Callable[[Settings], Mapping[str, Any]] | None = None,
                ) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """The Lambda handler of a receiver function serving the providers ``served``.

    Made once per process (the Lambda init phase): the settings are read and
    the webhook configuration is loaded and checked here, so a configuration
    that could not verify a real delivery stops the function from starting,
    with a :class:`ConfigError` naming the setting, instead of answering 500 to
    every delivery (``load_config`` replaces the Secrets Manager read). ``logger`` is the function's Powertools Logger (passed in
    so this module stays light).
    """

    settings = Settings.from_env()
    config = (load_config or load_webhook_config)(settings)  # start-up: a configuration that cannot verify is refused here
    check_config(config, served)
    for provider in served:
        _checked[provider] = config

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        answer = answer_api_event(event, served, settings)
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
