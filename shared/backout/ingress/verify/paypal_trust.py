"""Which certificates PayPal's webhook signing certificate must chain to, and the chain check itself.

PayPal's own SDK (paypalrestsdk ``notifications.py``, ``WebhookEvent._verify_certificate_chain``)
always verifies the leaf served at ``paypal-cert-url`` against a store holding the
DigiCert High Assurance EV Root CA and DigiCert SHA2 Extended Validation Server CA
shipped in its ``data/`` folder: the leaf is issued by the intermediate, the
intermediate by the root. Backout does the same, always:

* the **anchors** are the trusted roots. By default: the root PayPal's SDK
  publishes (``certs/DigiCertHighAssuranceEVRootCA.crt.pem``, copied byte for byte
  from paypalrestsdk 1.13.3; a test compares them) plus the DigiCert roots of
  the pinned ``certifi`` bundle (Mozilla's store), so a PayPal move to a newer
  DigiCert root keeps working. ``trusted_roots_pem`` overrides them.
* the **intermediates** are the certificates after the leaf in the document PayPal
  serves, plus the intermediate PayPal's SDK publishes. So ``trusted_roots_pem``
  may hold the root only.

Every certificate on the path must be valid at the delivery's time, and every
issuer must be a CA. There is no switch that turns the check off.
``cryptography`` and ``certifi`` are imported on first use only.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography import x509

__all__ = ["MAX_CHAIN_DEPTH", "chain_windows", "default_anchors_pem", "load_certificates", "published_chain_pem"]

_CERTS = Path(__file__).with_name("certs")
#: PayPal's published chain (paypalrestsdk ``data/``): the root, then the intermediate that issues its leaf.
PUBLISHED_ROOT = _CERTS / "DigiCertHighAssuranceEVRootCA.crt.pem"
PUBLISHED_INTERMEDIATE = _CERTS / "DigiCertSHA2ExtendedValidationServerCA.crt.pem"
#: Organisation of the roots taken from certifi (PayPal's signing certificates are issued by DigiCert).
CERTIFI_ROOT_ORGANIZATION = "DigiCert Inc"
#: Longest path from the leaf to an anchor (leaf, intermediates, root).
MAX_CHAIN_DEPTH = 4

Window = tuple[float, float]


def published_chain_pem() -> tuple[bytes, bytes]:
    """``(root, intermediate)`` as PayPal's SDK publishes them."""
    return PUBLISHED_ROOT.read_bytes(), PUBLISHED_INTERMEDIATE.read_bytes()


@lru_cache(maxsize=1)
def default_anchors_pem() -> bytes:
    """PayPal's published root plus certifi's DigiCert roots, as one PEM document (read once).

    certifi's bundle is read entry by entry (each carries an ``# Issuer:``
    comment), and only the DigiCert entries are parsed: one malformed root
    elsewhere in the bundle cannot take the PayPal check down.
    """
    import certifi
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    roots = [PUBLISHED_ROOT.read_bytes()]
    end = b"-----END CERTIFICATE-----"
    for entry in Path(certifi.where()).read_bytes().split(end):
        comment, begin, body = entry.partition(b"-----BEGIN CERTIFICATE-----")
        if not begin or CERTIFI_ROOT_ORGANIZATION.encode() not in comment:
            continue
        pem = begin + body + end + b"\n"
        cert = x509.load_pem_x509_certificate(pem)
        if any(attr.value == CERTIFI_ROOT_ORGANIZATION
               for attr in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)):
            roots.append(pem)
    return b"".join(roots)


def load_certificates(pem: bytes) -> list[x509.Certificate]:
    """Every certificate of a PEM document; a ValueError when it holds none or one is malformed."""
    from cryptography import x509

    return x509.load_pem_x509_certificates(pem)


def _validity(cert: x509.Certificate) -> Window:
    return cert.not_valid_before_utc.timestamp(), cert.not_valid_after_utc.timestamp()


def _is_ca(cert: x509.Certificate) -> bool:
    from cryptography import x509

    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    from cryptography.exceptions import InvalidSignature

    if cert.issuer != issuer.subject or not _is_ca(issuer):
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def chain_windows(leaf: x509.Certificate, intermediates: list[x509.Certificate],
                  anchors: list[x509.Certificate]) -> tuple[tuple[Window, ...], ...]:
    """Every path from ``leaf`` to an anchor, as the validity windows of the certificates above the leaf.

    Nothing here depends on the time, so the result can be cached with the
    certificate; a path is usable at ``now`` when every window holds ``now``.
    An empty result means the leaf chains to no anchor.
    """
    anchor_tbs = {a.tbs_certificate_bytes for a in anchors}
    paths: list[tuple[Window, ...]] = []

    def walk(cert: x509.Certificate, above: tuple[Window, ...], seen: frozenset[bytes]) -> None:
        if len(above) >= MAX_CHAIN_DEPTH:
            return
        for anchor in anchors:
            if _issued_by(cert, anchor):
                paths.append((*above, _validity(anchor)))
        for middle in intermediates:
            key = middle.tbs_certificate_bytes
            if key in seen or key in anchor_tbs or not _issued_by(cert, middle):
                continue
            walk(middle, (*above, _validity(middle)), seen | {key})

    walk(leaf, (), frozenset({leaf.tbs_certificate_bytes}))
    return tuple(paths)
