"""PayPal: RSA-SHA256 over ``id|time|webhook_id|crc32(body)`` with the certificate at ``paypal-cert-url``, its chain always verified."""

from __future__ import annotations

import base64
import binascii
import re
import time
import zlib
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urlsplit

from backout.ingress.verify._common import (
    _TOKEN_RE,
    DEFAULT_TOLERANCE,
    Headers,
    SignatureError,
    _check_raw,
    _check_window,
    _header,
    _sequence,
)

if TYPE_CHECKING:
    from cryptography import x509

PAYPAL_AUTH_ALGO = "SHA256withRSA"
_HOST_LABEL_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_MAX_URL_CHARS = 2048
#: Parsed PayPal certificates kept in-process (PayPal rotates them by URL; a few are live at once).
PAYPAL_PARSED_CERTS = 16


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

    from backout.ingress.verify import paypal_trust

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
    (:mod:`backout.ingress.verify.paypal_trust`); the chain is always checked. The
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
        from backout.ingress.verify.paypal_trust import default_anchors_pem

        trusted_roots_pem = default_anchors_pem()
    cert = _paypal_cert(cert_url, current, fetch_cert, cert_cache, trusted_roots_pem)
    crc = zlib.crc32(raw) & 0xFFFFFFFF
    messages = [(wid, f"{transmission_id}|{transmission_time}|{wid}|{crc}".encode()) for wid in ids]
    matched = _rsa_match(cert, signature, messages)
    if matched is None:
        raise SignatureError("bad_signature")
    return matched
