"""WooCommerce: ``x-wc-webhook-signature``, base64 HMAC-SHA256 keyed with the decoded secret (class-wc-webhook.php)."""

from __future__ import annotations

from collections.abc import Sequence

from backout.ingress.verify._common import (
    Headers,
    Secret,
    _b64_matches,
    _sequence,
    _verify_body_hmac,
)

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
