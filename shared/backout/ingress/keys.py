"""Dedupe keys and topics of webhook deliveries (the acknowledgement path).

Deliberately light: standard library only (``json``, ``hashlib``), so the
receiver that must answer a provider within a few seconds can compute the
key of a delivery without importing pydantic or the provider modules.

Every provider retries, so each delivery gets a stable key naming the
*event* (not the HTTP attempt): Stripe/PayPal/AfterShip/EasyPost event ids,
TikTok's ``tts_notification_id``, Shopify's event id (webhook id as
fallback), the Standard Webhooks ``webhook-id`` header, WooCommerce's
resource id + topic + modification time (it has no event id), and for Ozon
(no id at all) a SHA-256 of the canonical JSON body.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["PROVIDERS", "MalformedPayload", "canonical_json", "dedupe_key", "topic_of"]

Body = dict[str, Any] | list[Any] | str

PROVIDERS: tuple[str, ...] = (
    "stripe",
    "paypal",
    "shopify",
    "woocommerce",
    "ozon",
    "tiktok",
    "aftership",
    "easypost",
    "standard",
)
"""Provider names, as used in routes (``/webhooks/<provider>``) and keys."""


class MalformedPayload(ValueError):
    """A delivery lacks what Backout needs (an id, a field) or has the wrong shape."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    """Return the headers with lower-cased names (callers should already do this)."""
    return {str(k).lower(): v for k, v in headers.items()}


def _ident(value: object, what: str) -> str:
    """Return ``value`` as a non-empty string id, or raise MalformedPayload."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise MalformedPayload(f"{what} missing or not a string/integer")
    text = str(value).strip()
    if not text:
        raise MalformedPayload(f"{what} is empty")
    return text


def _object(body: object, provider: str) -> dict[str, Any]:
    """Require a JSON object body."""
    if not isinstance(body, dict):
        raise MalformedPayload(f"{provider}: body must be a JSON object")
    return body


def canonical_json(body: object) -> str:
    """Serialise ``body`` canonically: sorted keys, no spaces, UTF-8 kept as is."""
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _shopify(body: Body, h: Mapping[str, str]) -> str:
    """Shopify's dedupe guide names X-Shopify-Event-Id; the webhook id is the fallback."""
    event_id = h.get("x-shopify-event-id")
    if event_id not in (None, ""):
        return _ident(event_id, "x-shopify-event-id header")
    return _ident(h.get("x-shopify-webhook-id"), "x-shopify-event-id/x-shopify-webhook-id header")


def _woocommerce(body: Body, h: Mapping[str, str]) -> str:
    """WooCommerce sends no event id: resource id + topic + modification time."""
    obj = _object(body, "woocommerce")
    resource = _ident(obj.get("id"), "woocommerce resource id")
    topic = _ident(h.get("x-wc-webhook-topic"), "x-wc-webhook-topic header")
    modified = _ident(obj.get("date_modified_gmt"), "woocommerce date_modified_gmt")
    return f"{resource}:{topic}:{modified}"


def _ozon(body: Body, h: Mapping[str, str]) -> str:
    """Ozon sends no id: hash the canonical JSON of the body."""
    if not _object(body, "ozon"):
        raise MalformedPayload("ozon: body is an empty JSON object")
    return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


def _field(provider: str, name: str) -> Callable[[Body, Mapping[str, str]], str]:
    """Build a key function reading the top-level body field ``name``."""

    def key(body: Body, h: Mapping[str, str]) -> str:
        return _ident(_object(body, provider).get(name), f"{provider} {name}")

    return key


def _standard(body: Body, h: Mapping[str, str]) -> str:
    """Standard Webhooks: the ``webhook-id`` header is the idempotency key."""
    return _ident(h.get("webhook-id"), "webhook-id header")


_KEYS: dict[str, Callable[[Body, Mapping[str, str]], str]] = {
    "stripe": _field("stripe", "id"),
    "paypal": _field("paypal", "id"),
    "shopify": _shopify,
    "woocommerce": _woocommerce,
    "ozon": _ozon,
    "tiktok": _field("tiktok", "tts_notification_id"),
    "aftership": _field("aftership", "event_id"),
    "easypost": _field("easypost", "id"),
    "standard": _standard,
}



#: Backout's own Ozon message type for polled conditional-cancellation requests (Ozon pushes none):
#: written to the inbox by the poller, refused on the public route, normalised like a push.
OZON_POLLED_TYPE = "TYPE_CANCELLATION_REQUESTED"


def dedupe_key(provider: str, body: Body, headers: Mapping[str, str]) -> str:
    """Return the stable dedupe key ``"<provider>:<id>"`` of one delivery.

    ``body`` is the parsed JSON body; ``headers`` has lower-cased names.
    Raises MalformedPayload when the provider is unknown, the body has the
    wrong type, or the id the key is made of is missing, empty or not a
    string/integer.
    """
    return _dedupe_key(provider, body, _lower(headers))


def _dedupe_key(provider: str, body: Body, lowered: Mapping[str, str]) -> str:
    try:
        key = _KEYS[provider]
    except KeyError:
        raise MalformedPayload(f"unknown provider {provider!r}") from None
    return f"{provider}:{key(body, lowered)}"


def identify(provider: str, body: Body, headers: Mapping[str, str]) -> tuple[str, str]:
    """``(dedupe_key(...), topic_of(...))`` of one delivery, reading the headers once."""
    lowered = _lower(headers)
    return _dedupe_key(provider, body, lowered), _topic_of(provider, body, lowered)


_TOPIC_FIELDS: dict[str, str] = {
    "stripe": "type",
    "paypal": "event_type",
    "tiktok": "type",
    "aftership": "event",
    "easypost": "description",
    "ozon": "message_type",
}
_TOPIC_HEADERS: dict[str, str] = {
    "shopify": "x-shopify-topic",
    "woocommerce": "x-wc-webhook-topic",
}


def topic_of(provider: str, body: Body, headers: Mapping[str, str]) -> str:
    """Return the provider's topic / event type of a delivery, as a string.

    Stripe ``type``, PayPal ``event_type``, Shopify ``X-Shopify-Topic``,
    WooCommerce ``X-WC-Webhook-Topic``, TikTok ``type`` (e.g. ``"11"``),
    AfterShip ``event``, EasyPost ``description``, Ozon ``message_type``,
    Standard Webhooks body ``type`` (``""`` when absent). Raises
    MalformedPayload when a required topic is missing or the body is not
    an object.
    """
    return _topic_of(provider, body, _lower(headers))


def _topic_of(provider: str, body: Body, lowered: Mapping[str, str]) -> str:
    if provider in _TOPIC_HEADERS:
        name = _TOPIC_HEADERS[provider]
        return _ident(lowered.get(name), f"{name} header")
    if provider in _TOPIC_FIELDS:
        name = _TOPIC_FIELDS[provider]
        return _ident(_object(body, provider).get(name), f"{provider} {name}")
    if provider == "standard":
        value = body.get("type") if isinstance(body, dict) else None
        return value if isinstance(value, str) else ""
    raise MalformedPayload(f"unknown provider {provider!r}")
