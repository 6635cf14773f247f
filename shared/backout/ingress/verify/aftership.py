"""AfterShip: ``aftership-hmac-sha256``, base64 HMAC-SHA256 of the body (https://www.aftership.com/docs/tracking/webhook/webhook-signature)."""

from __future__ import annotations

from collections.abc import Sequence

from backout.ingress.verify._common import (
    Headers,
    Secret,
    _b64_matches,
    _verify_body_hmac,
)


def verify_aftership(raw: bytes, headers: Headers, secrets: Sequence[Secret]) -> None:
    """Verify ``aftership-hmac-sha256`` (base64 HMAC-SHA256 of the raw body)."""
    _verify_body_hmac(raw, headers, secrets, "aftership-hmac-sha256", _b64_matches)
