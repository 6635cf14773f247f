"""EasyPost: ``x-hmac-signature: hmac-sha256-hex=<hex>``, key NFKD-normalised (easypost-python ``util.validate_webhook``)."""

from __future__ import annotations

from collections.abc import Sequence

from backout.ingress.verify._common import (
    Headers,
    Secret,
    SignatureError,
    _check_raw,
    _header,
    _hex_matches,
    _keys,
    _nfkd_key,
    _require_match,
)

_EASYPOST_PREFIX = "hmac-sha256-hex="


def verify_easypost(raw: bytes, headers: Headers, secrets: Sequence[Secret]) -> None:
    """Verify ``x-hmac-signature: hmac-sha256-hex=<hex>`` over the raw body.

    The key is the NFKD-normalised secret, UTF-8 encoded (as EasyPost's SDKs do).
    """
    _check_raw(raw)
    keys = _keys(secrets, _nfkd_key)
    value = _header(headers, "x-hmac-signature")
    if not value.startswith(_EASYPOST_PREFIX):
        raise SignatureError("malformed_header", "x-hmac-signature")
    _require_match(keys, bytes(raw), [value.removeprefix(_EASYPOST_PREFIX)], _hex_matches)
