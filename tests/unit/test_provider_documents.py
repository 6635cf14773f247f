"""Issue 14: where our reading of a provider differed from its own documents or SDK.

Each test quotes its source and fails on the old reading."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import stripe

from backout.domain.events import ShipmentStatus
from backout.domain.rules import INTERCEPT_FINAL
from backout.ingress.normalize import aftership
from backout.ingress.normalize.stripe import EXPIRY_REASONS


def test_aftership_returning_to_sender_is_not_returned() -> None:
    """https://www.aftership.com/docs/tracking/2026-07/enum/delivery-sub-statuses lists
    ``Exception_010`` "Returning to sender: the package is on its way back to the sender" and
    ``Exception_011`` "Returned to sender: the returned package has been successfully received by the
    sender". Only the second ends an intercept (rule 2); the first was read as the second, so the
    saga refunded and restocked while the parcel still travelled."""
    returning = aftership.status_for("Exception", "Exception_010")
    returned = aftership.status_for("Exception", "Exception_011")
    assert returned == ShipmentStatus.RETURN_TO_SENDER and returned.value in INTERCEPT_FINAL
    assert returning == ShipmentStatus.EXCEPTION and returning.value not in INTERCEPT_FINAL


def test_stripe_expiry_reasons_are_the_ones_stripe_sets() -> None:
    """stripe-python's ``PaymentIntent.cancellation_reason`` is ``Literal["abandoned", "automatic",
    "duplicate", "expired", "failed_invoice", "fraudulent", "requested_by_customer", "void_invoice"]``
    (stripe/_payment_intent.py); ``expired`` was read as a seller's void, not as a lapsed authorization."""
    source = Path(inspect.getfile(stripe.PaymentIntent)).read_text()
    block = re.search(r"\n    cancellation_reason: Optional\[(.*?)\n    \]", source, re.S)
    assert block is not None, "stripe-python no longer declares PaymentIntent.cancellation_reason this way"
    declared = set(re.findall(r'"([a-z_]+)"', block.group(1)))
    assert {"automatic", "expired", "requested_by_customer"} <= declared
    assert EXPIRY_REASONS == {"automatic", "expired"}  # Stripe's own two; the rest are the seller's reasons


def _b64_hmac(key: bytes, message: bytes) -> str:
    import base64
    import hashlib
    import hmac

    return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()


def test_woocommerce_keys_its_signature_with_the_decoded_secret() -> None:
    """woocommerce/includes/class-wc-webhook.php, ``generate_signature``:
    ``base64_encode( hash_hmac( $hash_algo, $payload, wp_specialchars_decode( $this->get_secret(), ENT_QUOTES ), true ) )``.
    A secret stored as ``a&amp;b&lt;c`` signs with ``a&b<c``; it was refused with 401."""
    from backout_dev.signing import sign_woocommerce
    from backout.ingress.verify import verify_woocommerce, wp_specialchars_decode

    stored, raw = "ck&amp;sec&lt;ret&#039;&quot;x", b'{"id": 1}'
    assert wp_specialchars_decode(stored) == "ck&sec<ret'\"x"
    assert wp_specialchars_decode("&amp;lt;") == "&lt;"  # one pass, as strtr does
    woo_header = {"x-wc-webhook-signature": _b64_hmac(b"ck&sec<ret'\"x", raw)}  # what WooCommerce sends
    verify_woocommerce(raw, woo_header, [stored])
    assert sign_woocommerce(raw, stored) == woo_header  # and `backout send` signs as WooCommerce does


def test_standard_webhooks_secret_without_padding_is_accepted() -> None:
    """standard-webhooks' reference libraries decode the part after ``whsec_`` as base64 whatever its
    padding (the Python library pads before decoding); a secret without '=' raised inside the
    receiver (500 on every delivery, retried for ever)."""
    import base64

    from backout.ingress.verify import verify_standard_webhooks

    key = b"0123456789abcdefghijklmnopq"  # 27 bytes: its base64 ends with '='
    unpadded = "whsec_" + base64.b64encode(key).decode().rstrip("=")
    assert not unpadded.endswith("=")
    raw, msg_id, ts = b'{"type": "order.cancel_requested"}', "msg_2a", "1765000000"
    headers = {"webhook-id": msg_id, "webhook-timestamp": ts,
               "webhook-signature": "v1," + _b64_hmac(key, f"{msg_id}.{ts}.".encode() + raw)}
    assert verify_standard_webhooks(raw, headers, [unpadded], now=1765000000) == msg_id
