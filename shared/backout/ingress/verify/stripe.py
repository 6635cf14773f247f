"""Stripe: ``stripe-signature: t=<unix>,v1=<hex>``, HMAC-SHA256 of ``t.`` + body (https://docs.stripe.com/webhooks#verify-manually)."""

from __future__ import annotations

from collections.abc import Sequence

from backout.ingress.verify._common import (
    DEFAULT_TOLERANCE,
    Headers,
    Secret,
    SignatureError,
    _check_raw,
    _check_window,
    _header,
    _hex_matches,
    _keys,
    _parse_unix,
    _plain_key,
    _require_match,
)


def _parse_stripe_header(value: str) -> tuple[str, list[str]]:
    """Split ``t=..,v1=..[,v1=..]`` into the timestamp and the v1 signatures."""
    timestamps: list[str] = []
    signatures: list[str] = []
    for item in value.split(","):
        name, sep, item_value = item.strip().partition("=")
        if not sep:
            raise SignatureError("malformed_header", "stripe-signature")
        if name == "t":
            timestamps.append(item_value)
        elif name == "v1":
            signatures.append(item_value)
    if len(timestamps) != 1:
        raise SignatureError("malformed_header", "stripe-signature needs one t=")
    if not signatures:
        raise SignatureError("missing_signature", "no v1 signature")
    return timestamps[0], signatures


def verify_stripe(
    raw: bytes,
    headers: Headers,
    secrets: Sequence[Secret],
    *,
    now: float | None = None,
    tolerance: int = DEFAULT_TOLERANCE,
) -> int:
    """Verify a Stripe webhook; return its signed unix timestamp.

    Header ``stripe-signature: t=<unix>,v1=<hex>[,v1=<hex>...]``; the signed
    bytes are ``f"{t}."`` followed by the raw body, HMAC-SHA256 keyed with the
    endpoint secret (``whsec_...`` used verbatim). Unlike stripe-python, a
    timestamp more than ``tolerance`` seconds in the future is also refused.
    """
    _check_raw(raw)
    keys = _keys(secrets, _plain_key)
    t_text, signatures = _parse_stripe_header(_header(headers, "stripe-signature"))
    signed_at = _parse_unix(t_text, "stripe-signature")
    _check_window(signed_at, now, tolerance)
    _require_match(keys, f"{t_text}.".encode() + bytes(raw), signatures, _hex_matches)
    return signed_at
