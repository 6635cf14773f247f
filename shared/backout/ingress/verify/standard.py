"""Standard Webhooks (Svix): ``v1,<base64>`` HMAC-SHA256 of ``id.timestamp.body`` (https://www.standardwebhooks.com/)."""

from __future__ import annotations

from collections.abc import Sequence

from backout.ingress.verify._common import (
    _TOKEN_RE,
    DEFAULT_TOLERANCE,
    Headers,
    Secret,
    SignatureError,
    _b64_matches,
    _check_raw,
    _check_window,
    _header,
    _keys,
    _parse_unix,
    _require_match,
    _whsec_key,
)


def _parse_standard_signatures(value: str) -> list[str]:
    """Extract the base64 parts of the ``v1,<base64>`` entries."""
    signatures: list[str] = []
    for entry in value.split():
        version, sep, signature = entry.partition(",")
        if not sep:
            raise SignatureError("malformed_header", "webhook-signature")
        if version == "v1":
            signatures.append(signature)
    if not signatures:
        raise SignatureError("missing_signature", "no v1 signature")
    return signatures


def verify_standard_webhooks(
    raw: bytes,
    headers: Headers,
    secrets: Sequence[Secret],
    *,
    now: float | None = None,
    tolerance: int = DEFAULT_TOLERANCE,
) -> str:
    """Verify a Standard Webhooks (Svix-style) delivery; return ``webhook-id``.

    Signed content ``f"{id}.{timestamp}."`` + raw body, HMAC-SHA256 keyed
    with the base64 key of a ``whsec_<base64>`` secret (``bytes`` secrets are
    used as raw keys). ``webhook-signature`` holds space-separated
    ``v1,<base64>`` entries; other versions are ignored.
    """
    _check_raw(raw)
    keys = _keys(secrets, _whsec_key)
    msg_id = _header(headers, "webhook-id")
    if not _TOKEN_RE.fullmatch(msg_id):
        raise SignatureError("malformed_header", "webhook-id")
    ts_text = _header(headers, "webhook-timestamp")
    signatures = _parse_standard_signatures(_header(headers, "webhook-signature"))
    _check_window(_parse_unix(ts_text, "webhook-timestamp"), now, tolerance)
    content = f"{msg_id}.{ts_text}.".encode() + bytes(raw)
    _require_match(keys, content, signatures, _b64_matches)
    return msg_id
