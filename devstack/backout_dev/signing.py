"""Sender-side signing, the inverse of :mod:`backout.ingress.verify` (dev tool only: not in the deployed layer).

Used by the local dev tool and by tests to produce requests exactly as each
provider would. Every function returns a dict of headers with lower-cased
keys. Implemented independently of ``verify`` (no shared helpers) so that a
bug in one side is not silently mirrored by the other.

``cryptography`` is only needed by the PayPal helpers and is imported
lazily.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import unicodedata
import zlib
from datetime import UTC, datetime, timedelta

__all__ = [
    "make_fake_paypal_ca",
    "paypal_transmission_time",
    "sign_aftership",
    "sign_easypost",
    "sign_paypal",
    "sign_shopify",
    "sign_standard_webhooks",
    "sign_stripe",
    "sign_tiktok",
    "sign_woocommerce",
]


def _key(secret: str | bytes) -> bytes:
    """HMAC key bytes for a str (UTF-8) or bytes secret."""
    return secret.encode("utf-8") if isinstance(secret, str) else secret


def _digest(key: bytes, message: bytes) -> bytes:
    """HMAC-SHA256 of ``message``."""
    return hmac.new(key, message, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    """Encode ``data`` as standard padded base64 text."""
    return base64.b64encode(data).decode("ascii")


def sign_stripe(raw: bytes, secret: str | bytes, t: int) -> dict[str, str]:
    """Headers Stripe would send: ``stripe-signature: t=<t>,v1=<hex>``."""
    signature = _digest(_key(secret), f"{t}.".encode() + raw).hex()
    return {"stripe-signature": f"t={t},v1={signature}"}


def sign_shopify(raw: bytes, secret: str | bytes) -> dict[str, str]:
    """Headers Shopify would send: ``x-shopify-hmac-sha256`` (base64)."""
    return {"x-shopify-hmac-sha256": _b64(_digest(_key(secret), raw))}


def sign_woocommerce(raw: bytes, secret: str | bytes) -> dict[str, str]:
    """Headers WooCommerce would send: ``x-wc-webhook-signature`` (base64), keyed by the decoded secret."""
    from backout.ingress.verify import wp_specialchars_decode

    key = wp_specialchars_decode(secret) if isinstance(secret, str) else secret
    return {"x-wc-webhook-signature": _b64(_digest(_key(key), raw))}


def sign_tiktok(raw: bytes, app_key: str, app_secret: str | bytes) -> dict[str, str]:
    """Headers TikTok Shop would send: ``authorization`` = hex HMAC(app_key + body)."""
    return {"authorization": _digest(_key(app_secret), app_key.encode("utf-8") + raw).hex()}


def sign_aftership(raw: bytes, secret: str | bytes) -> dict[str, str]:
    """Headers AfterShip would send: ``aftership-hmac-sha256`` (base64)."""
    return {"aftership-hmac-sha256": _b64(_digest(_key(secret), raw))}


def sign_easypost(raw: bytes, secret: str) -> dict[str, str]:
    """Headers EasyPost would send: ``x-hmac-signature: hmac-sha256-hex=<hex>``.

    The key is the NFKD-normalised secret, UTF-8 encoded.
    """
    key = unicodedata.normalize("NFKD", secret).encode("utf-8")
    return {"x-hmac-signature": "hmac-sha256-hex=" + _digest(key, raw).hex()}


def sign_standard_webhooks(raw: bytes, secret: str | bytes, msg_id: str, t: int) -> dict[str, str]:
    """Headers of a Standard Webhooks delivery signed with one secret.

    ``secret`` is ``whsec_<base64 key>`` (or raw key bytes).
    """
    if isinstance(secret, str):
        body = secret.removeprefix("whsec_")
        key = base64.b64decode(body + "=" * (-len(body) % 4), validate=True)  # unpadded, as the reference library
    else:
        key = secret
    signature = _b64(_digest(key, f"{msg_id}.{t}.".encode() + raw))
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(t),
        "webhook-signature": f"v1,{signature}",
    }


def paypal_transmission_time(t: float) -> str:
    """Format unix seconds the way PayPal does (``2024-01-31T12:00:00Z``)."""
    moment = datetime.fromtimestamp(int(t), tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def sign_paypal(
    raw: bytes,
    webhook_id: str,
    private_key_pem: bytes,
    cert_url: str,
    transmission_id: str,
    transmission_time: str,
) -> dict[str, str]:
    """Headers PayPal would send, signed with ``private_key_pem`` (RSA).

    Signed string: ``transmission_id|transmission_time|webhook_id|crc32``.
    """
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    key = serialization.load_pem_private_key(private_key_pem, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise TypeError("PayPal signing needs an RSA private key")
    crc = zlib.crc32(raw) & 0xFFFFFFFF
    message = f"{transmission_id}|{transmission_time}|{webhook_id}|{crc}".encode()
    signature = key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    return {
        "paypal-transmission-id": transmission_id,
        "paypal-transmission-time": transmission_time,
        "paypal-transmission-sig": _b64(signature),
        "paypal-cert-url": cert_url,
        "paypal-auth-algo": "SHA256withRSA",
    }


def make_fake_paypal_ca(now: float, *, leaf_cn: str = "api.paypal.com") -> tuple[bytes, bytes, bytes]:
    """Create a throw-away chain shaped like PayPal's: a root, an intermediate CA, and a signing leaf.

    Returns ``(root_cert_pem, served_pem, leaf_key_pem)``: ``served_pem`` is
    what PayPal serves at its certificate URL, the leaf followed by the
    intermediate that issued it, so a verifier trusting the root alone must
    take the intermediate from the served document. Every certificate is
    valid from ``now - 1 day`` to ``now + 30 days``.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    start = datetime.fromtimestamp(now, tz=UTC) - timedelta(days=1)
    end = start + timedelta(days=31)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Backout test (not PayPal)"),
                          x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def issue(subject: x509.Name, key: rsa.RSAPrivateKey, issuer: x509.Name, signer: rsa.RSAPrivateKey,
              ca: bool, path_length: int | None) -> x509.Certificate:
        builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(end)
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length), critical=True))
        if not ca:
            builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(leaf_cn)]), critical=False)
        return builder.sign(signer, hashes.SHA256())

    root_key, middle_key, leaf_key = (rsa.generate_private_key(public_exponent=65537, key_size=2048)
                                      for _ in range(3))
    root_name, middle_name = name("Backout Test Root CA"), name("Backout Test Intermediate CA")
    root = issue(root_name, root_key, root_name, root_key, True, 1)
    middle = issue(middle_name, middle_key, root_name, root_key, True, 0)
    leaf = issue(name(leaf_cn), leaf_key, middle_name, middle_key, False, None)
    leaf_key_pem = leaf_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    pem = serialization.Encoding.PEM
    return root.public_bytes(pem), leaf.public_bytes(pem) + middle.public_bytes(pem), leaf_key_pem
