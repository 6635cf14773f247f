"""Shopify: ``x-shopify-hmac-sha256``, base64 HMAC-SHA256 of the body (https://shopify.dev/docs/apps/build/webhooks/subscribe/https)."""

from __future__ import annotations

from collections.abc import Sequence

from backout.ingress.verify._common import (
    Headers,
    Secret,
    _b64_matches,
    _verify_body_hmac,
)


def verify_shopify(raw: bytes, headers: Headers, secrets: Sequence[Secret]) -> None:
    """Verify ``x-shopify-hmac-sha256`` (base64 HMAC-SHA256 of the raw body).

    Shopify signs no timestamp; replay protection is deduplication on
    ``x-shopify-event-id`` / ``x-shopify-webhook-id``.
    """
    _verify_body_hmac(raw, headers, secrets, "x-shopify-hmac-sha256", _b64_matches)
