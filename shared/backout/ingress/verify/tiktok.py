"""TikTok Shop: ``authorization`` = hex HMAC-SHA256(app secret, app key + body) (third-party sources, see docs/signatures.md)."""

from __future__ import annotations

from collections.abc import Sequence

from backout.ingress.verify._common import (
    Headers,
    SignatureError,
    _any_match,
    _check_raw,
    _header,
    _hex_matches,
    _keys,
    _plain_key,
    _sequence,
)


def verify_tiktok(raw: bytes, headers: Headers, credentials: Sequence[tuple[str, str]]) -> str:
    """Verify a TikTok Shop push; return the app_key whose secret matched.

    ``authorization`` = hex HMAC-SHA256(app_secret, app_key + raw body).
    ``credentials`` are ``(app_key, app_secret)`` pairs (several for rotation
    or several apps).
    """
    _check_raw(raw)
    pairs = _sequence(credentials, "credentials")
    provided = _header(headers, "authorization")
    matched: str | None = None
    for pair in pairs:
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise TypeError("credentials must be (app_key, app_secret) pairs")
        app_key, app_secret = pair
        key = _keys([app_secret], _plain_key)[0]
        message = _plain_key(app_key) + bytes(raw)
        if _any_match([key], message, [provided], _hex_matches) and matched is None:
            matched = app_key
    if matched is None:
        raise SignatureError("bad_signature")
    return matched
