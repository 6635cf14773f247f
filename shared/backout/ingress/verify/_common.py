"""What every verifier shares: the error, key derivation, constant-time comparison, the replay window.

See :mod:`backout.ingress.verify` for the conventions.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import time
import unicodedata
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import TypeVar

_T = TypeVar("_T")


Secret = str | bytes
Headers = Mapping[str, str]

DEFAULT_TOLERANCE = 300
"""Replay window in seconds, applied both to the past and to the future."""



_UNIX_TS_RE = re.compile(r"[0-9]{1,15}")
_TOKEN_RE = re.compile(r"[\x21-\x7e]{1,256}")  # printable ASCII, no spaces
_WHSEC_PREFIX = "whsec_"


class SignatureError(Exception):
    """A webhook request failed an authenticity check.

    ``reason`` is a short machine-readable code (``missing_header``,
    ``bad_signature``, ``stale_timestamp``...); ``detail`` is free text.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        """Store the machine-readable ``reason`` and optional ``detail``."""
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


# --------------------------------------------------------------------------
# shared helpers


def _check_raw(raw: bytes) -> None:
    """Refuse anything but the exact body bytes (a str body is a bug)."""
    if not isinstance(raw, (bytes, bytearray)):
        raise TypeError(f"raw body must be bytes, not {type(raw).__name__}")


def _header(headers: Headers, name: str) -> str:
    """Return a non-empty header value (stripped) or raise SignatureError."""
    value = headers.get(name)
    if value is None:
        raise SignatureError("missing_header", name)
    if not isinstance(value, str):
        raise SignatureError("malformed_header", name)
    value = value.strip()
    if not value:
        raise SignatureError("missing_header", name)
    return value


def _plain_key(secret: Secret) -> bytes:
    """Use a secret as HMAC key bytes as-is (str is UTF-8 encoded)."""
    if isinstance(secret, bytes):
        return secret
    if isinstance(secret, str):
        return secret.encode("utf-8")
    raise TypeError(f"secret must be str or bytes, not {type(secret).__name__}")


def _nfkd_key(secret: Secret) -> bytes:
    """EasyPost's key derivation: NFKD-normalise a str secret, then UTF-8."""
    if isinstance(secret, str):
        return unicodedata.normalize("NFKD", secret).encode("utf-8")
    return _plain_key(secret)


def _whsec_key(secret: Secret) -> bytes:
    """Decode a Standard Webhooks key: base64 after an optional ``whsec_``."""
    if isinstance(secret, bytes):
        return secret
    if not isinstance(secret, str):
        raise TypeError(f"secret must be str or bytes, not {type(secret).__name__}")
    try:
        body = secret.removeprefix(_WHSEC_PREFIX)
        return base64.b64decode(body + "=" * (-len(body) % 4), validate=True)  # the reference library pads
    except (binascii.Error, ValueError) as exc:
        raise ValueError("malformed whsec_ secret (expected base64)") from exc


def _sequence(values: Collection[_T], what: str) -> list[_T]:
    """Materialise a configured sequence, refusing a lone str/bytes or nothing."""
    if isinstance(values, (str, bytes, bytearray)):
        raise TypeError(f"{what} must be a sequence, not a single {type(values).__name__}")
    items = list(values)
    if not items:
        raise ValueError(f"no {what} configured")
    return items


def _keys(secrets: Sequence[Secret], derive: Callable[[Secret], bytes]) -> list[bytes]:
    """Derive HMAC keys from the configured secrets; empty keys are refused."""
    keys = [derive(secret) for secret in _sequence(secrets, "secrets")]
    if not all(keys):
        raise ValueError("empty secret configured")
    return keys


def _hmac_sha256(key: bytes, message: bytes) -> bytes:
    """HMAC-SHA256 digest of ``message``."""
    return hmac.new(key, message, hashlib.sha256).digest()


def _as_bytes(text: str) -> bytes:
    """Encode a header value for compare_digest (non-ASCII never matches)."""
    return text.encode("utf-8", "replace")


def _b64_matches(digest: bytes, provided: str) -> bool:
    """Constant-time compare of ``digest`` with a canonical base64 string."""
    return hmac.compare_digest(base64.b64encode(digest), _as_bytes(provided))


def _hex_matches(digest: bytes, provided: str) -> bool:
    """Constant-time compare of ``digest`` with a hex string (any case)."""
    return hmac.compare_digest(digest.hex().encode("ascii"), _as_bytes(provided.lower()))


def _any_match(
    keys: Iterable[bytes],
    message: bytes,
    candidates: Sequence[str],
    matches: Callable[[bytes, str], bool],
) -> bool:
    """Tell whether any key's digest matches any candidate (no early exit)."""
    found = False
    for key in keys:
        digest = _hmac_sha256(key, message)
        for candidate in candidates:
            found |= matches(digest, candidate)
    return found


def _require_match(
    keys: Iterable[bytes],
    message: bytes,
    candidates: Sequence[str],
    matches: Callable[[bytes, str], bool],
) -> None:
    """Raise ``bad_signature`` unless some key signs ``message`` as claimed."""
    if not _any_match(keys, message, candidates, matches):
        raise SignatureError("bad_signature")


def _parse_unix(value: str, header: str) -> int:
    """Parse a unix-seconds header made only of ASCII digits."""
    if not _UNIX_TS_RE.fullmatch(value):
        raise SignatureError("malformed_header", header)
    return int(value)


def _check_window(signed_at: float, now: float | None, tolerance: int) -> None:
    """Reject timestamps outside ``now ± tolerance`` seconds."""
    if tolerance < 0:
        raise ValueError("tolerance must be >= 0")
    current = time.time() if now is None else now
    if current - signed_at > tolerance:
        raise SignatureError("stale_timestamp")
    if signed_at - current > tolerance:
        raise SignatureError("future_timestamp")


def _verify_body_hmac(
    raw: bytes,
    headers: Headers,
    secrets: Sequence[Secret],
    header: str,
    matches: Callable[[bytes, str], bool],
) -> None:
    """Verify providers that sign only the raw body (shared path)."""
    _check_raw(raw)
    keys = _keys(secrets, _plain_key)
    provided = _header(headers, header)
    _require_match(keys, bytes(raw), [provided], matches)
