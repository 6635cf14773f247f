"""Webhook authenticity checks, one function per provider.

Conventions shared by every function here:

* ``raw`` is the request body exactly as received (``bytes``); never a
  re-serialised or decoded body.
* ``headers`` is a mapping whose keys are already lower-cased.
* Secrets are sequences: while a secret is being rotated, configure the old
  and the new one and a message signed with either is accepted. A single
  ``str``/``bytes`` passed where a sequence is expected is a TypeError (it
  would otherwise be iterated character by character). An empty sequence or
  an empty secret is a ValueError: configuration bugs fail loudly.
* Every digest comparison goes through ``hmac.compare_digest``.
* A rejected request raises :class:`SignatureError` whose ``reason`` is a
  short machine-readable string suitable for logs and metrics.
* Signed timestamps are checked in both directions (too old and too far in
  the future); ``now`` defaults to ``time.time()``.

Only the standard library is imported at module level; ``cryptography`` is
imported lazily by :func:`verify_paypal`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import re
import time
import unicodedata
import zlib
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from cryptography import x509

__all__ = [
    "DEFAULT_TOLERANCE",
    "OZON_NETWORKS",
    "PAYPAL_AUTH_ALGO",
    "SignatureError",
    "verify_aftership",
    "verify_easypost",
    "verify_ozon",
    "verify_ozon_source",
    "verify_paypal",
    "verify_shopify",
    "verify_standard_webhooks",
    "verify_stripe",
    "verify_tiktok",
    "verify_woocommerce",
]

_T = TypeVar("_T")

Secret = str | bytes
Headers = Mapping[str, str]

DEFAULT_TOLERANCE = 300
"""Replay window in seconds, applied both to the past and to the future."""

PAYPAL_AUTH_ALGO = "SHA256withRSA"

OZON_NETWORKS: tuple[str, ...] = ("195.34.21.0/24", "185.73.192.0/22", "91.223.93.0/24")
"""Networks Ozon documents as the source of its push notifications."""

_UNIX_TS_RE = re.compile(r"[0-9]{1,15}")
_TOKEN_RE = re.compile(r"[\x21-\x7e]{1,256}")  # printable ASCII, no spaces
_HOST_LABEL_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_EASYPOST_PREFIX = "hmac-sha256-hex="
_WHSEC_PREFIX = "whsec_"
_MAX_URL_CHARS = 2048
#: Parsed PayPal certificates kept in-process (PayPal rotates them by URL; a few are live at once).
PAYPAL_PARSED_CERTS = 16


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


# --------------------------------------------------------------------------
# HMAC providers


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


def verify_shopify(raw: bytes, headers: Headers, secrets: Sequence[Secret]) -> None:
    """Verify ``x-shopify-hmac-sha256`` (base64 HMAC-SHA256 of the raw body).

    Shopify signs no timestamp; replay protection is deduplication on
    ``x-shopify-event-id`` / ``x-shopify-webhook-id``.
    """
    _verify_body_hmac(raw, headers, secrets, "x-shopify-hmac-sha256", _b64_matches)


#: What WordPress's ``wp_specialchars_decode($secret, ENT_QUOTES)`` turns back into characters.
_WP_ENTITIES = (("&lt;", "<"), ("&#060;", "<"), ("&gt;", ">"), ("&#062;", ">"), ("&quot;", '"'), ("&#034;", '"'),
                ("&#039;", "'"), ("&#x27;", "'"), ("&amp;", "&"), ("&#038;", "&"))


def wp_specialchars_decode(secret: str) -> str:
    """WooCommerce keys the HMAC with ``wp_specialchars_decode($this->get_secret(), ENT_QUOTES)``
    (class-wc-webhook.php, ``generate_signature``): the secret as stored, HTML entities decoded
    (``&amp;`` last, so ``&amp;lt;`` stays ``&lt;``, as WordPress does)."""
    for entity, char in _WP_ENTITIES:
        secret = secret.replace(entity, char)
    return secret


def verify_woocommerce(raw: bytes, headers: Headers, secrets: Sequence[Secret]) -> None:
    """Verify ``x-wc-webhook-signature`` (base64 HMAC-SHA256 of the raw body, keyed as WooCommerce does)."""
    decoded = [wp_specialchars_decode(s) if isinstance(s, str) else s for s in _sequence(secrets, "secrets")]
    _verify_body_hmac(raw, headers, decoded, "x-wc-webhook-signature", _b64_matches)


def verify_aftership(raw: bytes, headers: Headers, secrets: Sequence[Secret]) -> None:
    """Verify ``aftership-hmac-sha256`` (base64 HMAC-SHA256 of the raw body)."""
    _verify_body_hmac(raw, headers, secrets, "aftership-hmac-sha256", _b64_matches)


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


# --------------------------------------------------------------------------
# PayPal (RSA certificate)


def _is_paypal_host(host: str) -> bool:
    """Tell whether ``host`` is ``paypal.com`` or a well-formed subdomain."""
    labels = host.split(".")
    return (host == "paypal.com" or host.endswith(".paypal.com")) and all(
        _HOST_LABEL_RE.fullmatch(label) for label in labels
    )


def _check_paypal_cert_url(url: str) -> None:
    """Allow only ``https://<paypal.com host>[:443]/path`` (before any fetch)."""
    refuse = SignatureError("cert_host_not_allowed", url[:200])
    if len(url) > _MAX_URL_CHARS or not url.isascii() or not url.isprintable():
        raise refuse
    if any(char in url for char in " \\"):
        raise refuse
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise refuse from None
    if parts.scheme != "https" or "@" in parts.netloc or port not in (None, 443):
        raise refuse
    if parts.query or parts.fragment or not _is_paypal_host(parts.hostname or ""):
        raise refuse


def _paypal_headers(headers: Headers) -> tuple[str, str, str, str]:
    """Read and sanity-check the PayPal transmission headers.

    Returns ``(transmission_id, transmission_time, signature_b64, cert_url)``.
    """
    transmission_id = _header(headers, "paypal-transmission-id")
    transmission_time = _header(headers, "paypal-transmission-time")
    signature = _header(headers, "paypal-transmission-sig")
    cert_url = _header(headers, "paypal-cert-url")
    algo = _header(headers, "paypal-auth-algo")
    if algo != PAYPAL_AUTH_ALGO:
        raise SignatureError("unsupported_algorithm", algo[:50])
    if not _TOKEN_RE.fullmatch(transmission_id) or "|" in transmission_id:
        raise SignatureError("malformed_header", "paypal-transmission-id")
    return transmission_id, transmission_time, signature, cert_url


def _parse_iso_time(value: str, header: str) -> float:
    """Parse a timezone-aware ISO 8601 timestamp into unix seconds."""
    try:
        moment = datetime.fromisoformat(value) if len(value) <= 64 else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise SignatureError("malformed_header", header)
    return moment.timestamp()


def _decode_b64_signature(value: str, header: str) -> bytes:
    """Decode a base64 signature header strictly."""
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError("malformed_header", header) from None


def _fetch_pem(url: str, fetch_cert: Callable[[str], bytes]) -> bytes:
    """Call the injected fetcher; any failure becomes ``cert_fetch_failed``."""
    try:
        pem = fetch_cert(url)
    except Exception as exc:  # the injected fetcher may raise anything
        raise SignatureError("cert_fetch_failed", type(exc).__name__) from exc
    if not isinstance(pem, bytes):
        raise SignatureError("cert_fetch_failed", "fetcher must return bytes")
    return pem


class _PayPalCert(NamedTuple):
    """What a certificate document and the anchors say, apart from the time (worked out once per pair).

    ``chains`` holds, for every path from the leaf to a trusted anchor, the
    validity windows (unix seconds) of the certificates above the leaf
    (empty: the leaf chains to no anchor); ``key`` is the leaf's RSA public
    key, ``None`` for another kind.
    """

    not_before: float
    not_after: float
    names_paypal: bool
    chains: tuple[tuple[tuple[float, float], ...], ...]
    key: Any


def _cert_names(cert: x509.Certificate) -> list[str]:
    """Subject common names and DNS subject-alternative names of ``cert``."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    names = [str(attr.value) for attr in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return names
    return names + san.value.get_values_for_type(x509.DNSName)


@lru_cache(maxsize=PAYPAL_PARSED_CERTS)
def _inspect_paypal_cert(pem: bytes, anchors_pem: bytes) -> _PayPalCert:
    """Parse the served document (the leaf first, then PayPal's intermediates) and check what does not
    depend on the time: names, the chain to an anchor, key type.

    Cached by the exact bytes of the document and of the anchors, so each
    delivery pays one RSA verify (its own signature) instead of a parse and
    a chain verify; a new certificate or new anchors are inspected afresh.
    Failures are not cached.
    """
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.asymmetric import rsa

    from backout.ingress import paypal_trust

    try:
        served = paypal_trust.load_certificates(pem)
    except ValueError:
        raise SignatureError("malformed_cert") from None
    leaf, intermediates = served[0], served[1:]
    published = paypal_trust.load_certificates(paypal_trust.published_chain_pem()[1])
    try:
        key: Any = leaf.public_key()
    except (ValueError, UnsupportedAlgorithm):
        key = None
    low, high = leaf.not_valid_before_utc.timestamp(), leaf.not_valid_after_utc.timestamp()
    chains = paypal_trust.chain_windows(leaf, intermediates + published, paypal_trust.load_certificates(anchors_pem))
    return _PayPalCert(low, high, names_paypal=any(_is_paypal_host(n.lower()) for n in _cert_names(leaf)),
                       chains=chains, key=key if isinstance(key, rsa.RSAPublicKey) else None)


def _check_paypal_cert(cert: _PayPalCert, now: float) -> None:
    """Dates, subject, then chain: the leaf must be valid now, and so must every certificate of one path
    from it to a trusted anchor."""
    if now < cert.not_before:
        raise SignatureError("cert_not_yet_valid")
    if now > cert.not_after:
        raise SignatureError("cert_expired")
    if not cert.names_paypal:
        raise SignatureError("cert_subject_not_allowed")
    if not any(all(low <= now <= high for low, high in path) for path in cert.chains):
        raise SignatureError("untrusted_cert")


def _paypal_cert(
    url: str,
    now: float,
    fetch_cert: Callable[[str], bytes],
    cert_cache: dict[str, bytes] | None,
    anchors_pem: bytes,
) -> _PayPalCert:
    """Fetch (or reuse) and validate the certificate at ``url``.

    Only certificates that pass validation are cached; a cached one that no
    longer passes (e.g. expired) is evicted.
    """
    cached = cert_cache.get(url) if cert_cache is not None else None
    pem = cached if cached is not None else _fetch_pem(url, fetch_cert)
    try:
        cert = _inspect_paypal_cert(pem, anchors_pem)
        _check_paypal_cert(cert, now)
    except SignatureError:
        if cert_cache is not None:
            cert_cache.pop(url, None)
        raise
    if cert_cache is not None:
        cert_cache[url] = pem
    return cert


def _rsa_match(cert: _PayPalCert, signature: bytes, messages: Sequence[tuple[str, bytes]]) -> str | None:
    """Return the label of the first message the certificate's key signed."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    if cert.key is None:
        raise SignatureError("unsupported_key")
    for label, message in messages:
        try:
            cert.key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            continue
        return label
    return None


def verify_paypal(
    raw: bytes,
    headers: Headers,
    webhook_ids: Sequence[str],
    *,
    now: float | None = None,
    tolerance: int = DEFAULT_TOLERANCE,
    fetch_cert: Callable[[str], bytes],
    cert_cache: dict[str, bytes] | None = None,
    trusted_roots_pem: bytes | None = None,
) -> str:
    """Verify a PayPal webhook offline; return the webhook id that matched.

    Signed string ``transmission_id|transmission_time|webhook_id|crc32(raw)``
    (unsigned decimal CRC32), RSA PKCS#1 v1.5 / SHA-256 with the certificate
    at ``paypal-cert-url``. The URL must be ``https`` on ``paypal.com`` or a
    subdomain (checked before fetching); ``fetch_cert(url)`` returns PEM bytes
    and results are cached by URL in ``cert_cache`` (what does not depend on
    the time is worked out once per certificate and roots, so a delivery
    costs one RSA verify). The certificate must be
    valid at ``now``, name a paypal.com host and chain, through the
    intermediates served after it (or the one PayPal's SDK publishes), to a
    trusted anchor, every certificate on the path valid at ``now``. The
    anchors are ``trusted_roots_pem`` when given (the root alone is enough),
    else PayPal's published root and certifi's DigiCert roots
    (:mod:`backout.ingress.paypal_trust`); the chain is always checked. The
    transmission time must lie within ``now ± tolerance``.
    """
    _check_raw(raw)
    ids = [str(webhook_id) for webhook_id in _sequence(webhook_ids, "webhook_ids")]
    current = time.time() if now is None else now
    transmission_id, transmission_time, sig_b64, cert_url = _paypal_headers(headers)
    sent_at = _parse_iso_time(transmission_time, "paypal-transmission-time")
    _check_window(sent_at, current, tolerance)
    signature = _decode_b64_signature(sig_b64, "paypal-transmission-sig")
    _check_paypal_cert_url(cert_url)
    if trusted_roots_pem is None:
        from backout.ingress.paypal_trust import default_anchors_pem

        trusted_roots_pem = default_anchors_pem()
    cert = _paypal_cert(cert_url, current, fetch_cert, cert_cache, trusted_roots_pem)
    crc = zlib.crc32(raw) & 0xFFFFFFFF
    messages = [(wid, f"{transmission_id}|{transmission_time}|{wid}|{crc}".encode()) for wid in ids]
    matched = _rsa_match(cert, signature, messages)
    if matched is None:
        raise SignatureError("bad_signature")
    return matched


# --------------------------------------------------------------------------
# Ozon (no signature: source network + seller id)


def _source_address(source_ip: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """Parse the connection's source address; IPv4-mapped IPv6 is unwrapped."""
    if not isinstance(source_ip, str):
        raise SignatureError("malformed_source_ip")
    try:
        address = ipaddress.ip_address(source_ip.strip())
    except ValueError:
        raise SignatureError("malformed_source_ip", source_ip[:64]) from None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _seller_key(value: object) -> str | None:
    """Canonical text of a seller id given as int or digit string, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value) if value >= 0 else None
    if isinstance(value, str) and _UNIX_TS_RE.fullmatch(value.strip()):
        return str(int(value))
    return None


@lru_cache(maxsize=8)
def _networks(
    allowed: tuple[str, ...],
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """Parse a configured allowlist once (a bad entry is a ValueError, and is not cached)."""
    return tuple(ipaddress.ip_network(net) for net in allowed)


def verify_ozon_source(source_ip: str, allowed_networks: Sequence[str] = OZON_NETWORKS) -> None:
    """Check only the source address of an Ozon push (before its body is parsed).

    Pass the address API Gateway saw (``requestContext`` source IP), never an
    ``X-Forwarded-For`` value; it must lie in ``allowed_networks``.
    """
    address = _source_address(source_ip)
    if not any(address in network for network in _networks(tuple(_sequence(allowed_networks, "networks")))):
        raise SignatureError("source_not_allowed", str(address))


def verify_ozon(
    source_ip: str,
    body: Mapping[str, object],
    *,
    allowed_networks: Sequence[str] = OZON_NETWORKS,
    seller_ids: Collection[str | int],
) -> str | None:
    """Check an Ozon push; return its seller id (``None`` for TYPE_PING).

    Ozon does not sign pushes, so authenticity rests on the TCP source
    address: pass the address API Gateway saw (``requestContext`` source IP),
    never an ``X-Forwarded-For`` value. It must lie in ``allowed_networks``
    and, except for ``TYPE_PING``, ``body["seller_id"]`` (int or digit
    string) must be one of ``seller_ids``.
    """
    verify_ozon_source(source_ip, allowed_networks)
    known = {_seller_key(seller) for seller in _sequence(seller_ids, "seller_ids")}
    if None in known:
        raise ValueError("seller_ids must be non-negative ints or digit strings")
    if not isinstance(body, Mapping):
        raise SignatureError("malformed_body")
    if body.get("message_type") == "TYPE_PING":
        return None
    if "seller_id" not in body:
        raise SignatureError("missing_seller_id")
    seller = _seller_key(body["seller_id"])
    if seller is None:
        raise SignatureError("malformed_seller_id")
    if seller not in known:
        raise SignatureError("unknown_seller", seller)
    return seller
