"""Webhook authenticity checks, one module per provider (mirroring ``ingress/normalize/``).

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
imported lazily by :func:`verify_paypal` (:mod:`.paypal`, with the chain in :mod:`.paypal_trust`).
"""

from __future__ import annotations

from backout.ingress.verify._common import DEFAULT_TOLERANCE, SignatureError
from backout.ingress.verify.aftership import verify_aftership
from backout.ingress.verify.easypost import verify_easypost
from backout.ingress.verify.ozon import OZON_NETWORKS, verify_ozon, verify_ozon_source
from backout.ingress.verify.paypal import PAYPAL_AUTH_ALGO, verify_paypal
from backout.ingress.verify.shopify import verify_shopify
from backout.ingress.verify.standard import verify_standard_webhooks
from backout.ingress.verify.stripe import verify_stripe
from backout.ingress.verify.tiktok import verify_tiktok
from backout.ingress.verify.woocommerce import verify_woocommerce, wp_specialchars_decode

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
    "wp_specialchars_decode",
]
