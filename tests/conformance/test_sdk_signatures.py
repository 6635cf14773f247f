"""Signatures checked against the providers' own libraries, in both directions (issue 14, item 3).

* What the provider's library signs, Backout's verifier accepts.
* What ``backout send`` signs (``backout_dev.sender.sign``, the local stack's sender), the provider's
  library verifies.

Libraries (dev dependencies, pinned in pyproject.toml): stripe (``stripe.WebhookSignature``,
``stripe.Webhook.construct_event``), standardwebhooks and svix (``Webhook.sign`` / ``verify``),
easypost (``easypost.util.validate_webhook``), paypalrestsdk (``WebhookEvent._get_expected_sig``, the
transmission string, and the certificate chain it ships). Shopify, WooCommerce, AfterShip and TikTok
publish no Python verifier: their documented computation is written out here with the document cited.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import zlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from backout.ingress import verify
from backout_dev import sender

NOW = time.time()
BODY = json.dumps({"id": "evt_1", "type": "payment_intent.canceled", "note": "café ☕"}, ensure_ascii=False).encode()


def local(provider: str, value: Any) -> dict[str, Any]:
    """Local secrets in the shape ``backout send`` reads."""
    return {"webhooks": {provider: value}}


def send(provider: str, value: Any, raw: bytes = BODY, headers: dict[str, str] | None = None) -> dict[str, str]:
    return sender.sign(provider, raw, headers or {"content-type": "application/json"}, local(provider, value), now=NOW)


# ----------------------------------------------------------------- Stripe (stripe-python)


def test_stripe_sdk_signature_is_accepted() -> None:
    import stripe

    secret = "whsec_conformance_secret"
    header = stripe.WebhookSignature.generate_signature_header(BODY.decode(), secret, timestamp=int(NOW))
    assert verify.verify_stripe(BODY, {"stripe-signature": header}, [secret], now=NOW) == int(NOW)


def test_backout_send_stripe_signature_is_verified_by_the_sdk() -> None:
    import stripe

    secret = "whsec_conformance_secret"
    headers = send("stripe", [secret])
    event = stripe.Webhook.construct_event(BODY.decode(), headers["stripe-signature"], secret, tolerance=300)
    assert event["id"] == "evt_1"
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(BODY.decode() + " ", headers["stripe-signature"], secret, tolerance=300)


# ----------------------------------------------------------------- Standard Webhooks (standardwebhooks, svix)

#: The test vector of the Standard Webhooks specification (and Svix's docs): secret, id, timestamp, body, signature.
VECTOR = ("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
          b'{"test": 2432232314}', "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")


def test_the_published_standard_webhooks_vector_is_accepted() -> None:
    secret, msg_id, ts, body, signature = VECTOR
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(ts), "webhook-signature": signature}
    assert verify.verify_standard_webhooks(body, headers, [secret], now=ts) == msg_id


def test_backout_send_reproduces_the_published_standard_webhooks_vector() -> None:
    secret, msg_id, ts, body, signature = VECTOR
    headers = sender.sign("standard", body, {"webhook-id": msg_id}, local("standard", [secret]), now=ts)
    assert headers["webhook-signature"] == signature


@pytest.mark.parametrize("library", ["standardwebhooks", "svix"])
@pytest.mark.parametrize("secret", ["whsec_" + base64.b64encode(b"k" * 24).decode(),
                                    "whsec_" + base64.b64encode(b"k" * 25).decode().rstrip("=")])  # unpadded
def test_standard_webhooks_both_directions(library: str, secret: str) -> None:
    if library == "svix":
        from svix.webhooks import Webhook
    else:
        from standardwebhooks.webhooks import Webhook
    hook = Webhook(secret)
    signed = hook.sign("msg_1", datetime.fromtimestamp(int(NOW), tz=UTC), BODY.decode())
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(int(NOW)), "webhook-signature": signed}
    assert verify.verify_standard_webhooks(BODY, headers, [secret], now=NOW) == "msg_1"

    ours = send("standard", [secret], headers={"webhook-id": "msg_2"})
    verified = hook.verify(BODY, ours)  # raises on a mismatch; checks the timestamp against its own clock
    assert verified is None or verified["id"] == "evt_1"  # svix returns nothing, standardwebhooks the parsed body
    with pytest.raises(Exception, match="(?i)signature"):
        hook.verify(BODY + b" ", ours)


# ----------------------------------------------------------------- EasyPost (easypost-python)


@pytest.mark.parametrize("secret", ["ep_secret", "sécret ﬁ"])  # the SDK NFKD-normalises the secret
def test_easypost_both_directions(secret: str) -> None:
    from easypost.util import validate_webhook

    expected = hmac.new(__import__("unicodedata").normalize("NFKD", secret).encode(), BODY, hashlib.sha256)
    sdk_headers = {"X-Hmac-Signature": "hmac-sha256-hex=" + expected.hexdigest()}
    assert validate_webhook(BODY, sdk_headers, secret)["id"] == "evt_1"  # the SDK accepts the computation we test
    verify.verify_easypost(BODY, {"x-hmac-signature": sdk_headers["X-Hmac-Signature"]}, [secret])

    ours = send("easypost", [secret])
    assert validate_webhook(BODY, {"X-Hmac-Signature": ours["x-hmac-signature"]}, secret)["id"] == "evt_1"


# ----------------------------------------------------------------- PayPal (paypalrestsdk)


def test_paypal_transmission_string_is_the_sdks() -> None:
    """paypalrestsdk ``WebhookEvent._get_expected_sig``: ``id|time|webhook_id|crc32(body)`` (unsigned decimal);
    PayPal's docs: https://developer.paypal.com/api/rest/webhooks/rest/ (verify the signature yourself)."""
    from paypalrestsdk.notifications import WebhookEvent

    expected = WebhookEvent._get_expected_sig("tid-1", "2026-12-07T10:00:00Z", "WH-1", BODY.decode())
    assert expected == f"tid-1|2026-12-07T10:00:00Z|WH-1|{zlib.crc32(BODY) & 0xFFFFFFFF}"


def test_paypal_both_directions_through_the_sdks_string() -> None:
    """What the SDK expects PayPal to have signed, Backout accepts; what ``backout send`` signs is that string."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa
    from paypalrestsdk.notifications import WebhookEvent

    secrets = sender.generate_provider_secrets(NOW)
    webhook_id = secrets["webhooks"]["paypal"]["webhook_ids"][0]
    local_ca = secrets["paypal_local"]
    key = serialization.load_pem_private_key(local_ca["key_pem"].encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    when = datetime.fromtimestamp(int(NOW), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    string = WebhookEvent._get_expected_sig("tid-1", when, webhook_id, BODY.decode())
    headers = {"paypal-transmission-id": "tid-1", "paypal-transmission-time": when,
               "paypal-transmission-sig": base64.b64encode(key.sign(string.encode(), padding.PKCS1v15(),
                                                                    hashes.SHA256())).decode(),
               "paypal-cert-url": local_ca["cert_url"], "paypal-auth-algo": "SHA256withRSA"}
    fetch = sender.paypal_cert_fetcher(secrets)
    roots = secrets["webhooks"]["paypal"]["trusted_roots_pem"].encode()
    assert verify.verify_paypal(BODY, headers, [webhook_id], now=NOW, fetch_cert=fetch,
                                trusted_roots_pem=roots) == webhook_id

    ours = sender.sign("paypal", BODY, {"paypal-transmission-id": "tid-2"}, secrets, now=NOW)
    leaf = x509.load_pem_x509_certificates(local_ca["cert_pem"].encode())[0].public_key()
    assert isinstance(leaf, rsa.RSAPublicKey)
    sdk_string = WebhookEvent._get_expected_sig("tid-2", ours["paypal-transmission-time"], webhook_id, BODY.decode())
    leaf.verify(base64.b64decode(ours["paypal-transmission-sig"]), sdk_string.encode(), padding.PKCS1v15(),
                hashes.SHA256())


def test_paypals_published_chain_is_the_sdks_byte_for_byte() -> None:
    import paypalrestsdk

    from backout.ingress.verify import paypal_trust

    data = Path(paypalrestsdk.__file__).with_name("data")
    root, intermediate = paypal_trust.published_chain_pem()
    assert root == (data / "DigiCertHighAssuranceEVRootCA.crt.pem").read_bytes()
    assert intermediate == (data / "DigiCertSHA2ExtendedValidationServerCA.crt.pem").read_bytes()


def test_the_sdks_intermediate_chains_to_backouts_default_anchors() -> None:
    """The path PayPal's SDK trusts (intermediate → DigiCert High Assurance EV Root CA) is one Backout trusts."""
    from backout.ingress.verify import paypal_trust

    root, intermediate = paypal_trust.published_chain_pem()
    middle = paypal_trust.load_certificates(intermediate)[0]
    anchors = paypal_trust.load_certificates(paypal_trust.default_anchors_pem())
    paths = paypal_trust.chain_windows(middle, [], anchors)
    assert paths and all(low <= NOW <= high for low, high in paths[0])


# ----------------------------------------------------------------- documented computations (no Python verifier)


def test_shopify_documented_computation() -> None:
    """https://shopify.dev/docs/apps/build/webhooks/subscribe/https (verify the webhook):
    ``base64(HMAC-SHA256(client secret, raw body))`` compared with ``X-Shopify-Hmac-Sha256``."""
    secret = "shpss_conformance"
    documented = base64.b64encode(hmac.new(secret.encode(), BODY, hashlib.sha256).digest()).decode()
    verify.verify_shopify(BODY, {"x-shopify-hmac-sha256": documented}, [secret])
    assert send("shopify", [secret])["x-shopify-hmac-sha256"] == documented


def test_woocommerce_documented_computation() -> None:
    """woocommerce/includes/class-wc-webhook.php ``generate_signature``:
    ``base64_encode(hash_hmac('sha256', $payload, wp_specialchars_decode($this->get_secret(), ENT_QUOTES), true))``."""
    stored = "a&amp;b&lt;c&#039;d"  # as WooCommerce stores and returns a secret typed as  a&b<c'd
    documented = base64.b64encode(hmac.new(b"a&b<c'd", BODY, hashlib.sha256).digest()).decode()
    verify.verify_woocommerce(BODY, {"x-wc-webhook-signature": documented}, [stored])
    assert send("woocommerce", [stored])["x-wc-webhook-signature"] == documented


def test_aftership_documented_computation() -> None:
    """https://www.aftership.com/docs/tracking/webhook/webhook-signature: ``aftership-hmac-sha256`` =
    base64(HMAC-SHA256(webhook secret, raw body))."""
    secret = "as_conformance"
    documented = base64.b64encode(hmac.new(secret.encode(), BODY, hashlib.sha256).digest()).decode()
    verify.verify_aftership(BODY, {"aftership-hmac-sha256": documented}, [secret])
    assert send("aftership", [secret])["aftership-hmac-sha256"] == documented


def test_tiktok_documented_computation() -> None:
    """TikTok Shop partner docs (webhook signature; third-party sources, see docs/signatures.md):
    ``Authorization`` = hex(HMAC-SHA256(app secret, app key + raw body))."""
    app_key, app_secret = "tt_app", "tt_secret"
    documented = hmac.new(app_secret.encode(), app_key.encode() + BODY, hashlib.sha256).hexdigest()
    assert verify.verify_tiktok(BODY, {"authorization": documented}, [(app_key, app_secret)]) == app_key
    assert send("tiktok", [[app_key, app_secret]])["authorization"] == documented
