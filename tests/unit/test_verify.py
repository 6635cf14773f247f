"""Tests for backout.ingress.verify, driven by the sender side in signing.py."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import subprocess
import sys
import unicodedata
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from backout.ingress import verify as verify_module
from backout_dev.signing import (
    make_fake_paypal_ca,
    paypal_transmission_time,
    sign_aftership,
    sign_easypost,
    sign_paypal,
    sign_shopify,
    sign_standard_webhooks,
    sign_stripe,
    sign_tiktok,
    sign_woocommerce,
)
from backout.ingress.verify import (
    OZON_NETWORKS,
    SignatureError,
    verify_aftership,
    verify_easypost,
    verify_ozon,
    verify_paypal,
    verify_shopify,
    verify_standard_webhooks,
    verify_stripe,
    verify_tiktok,
    verify_woocommerce,
)
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

NOW = 1_700_000_000.0
BODY = b'{"id":"evt_1","type":"payment_intent.canceled","amount":1230}'
OLD = "secret_old_0123456789"
NEW = "secret_new_9876543210"


def reason(call: Callable[[], object]) -> str:
    """Run ``call`` expecting a SignatureError and return its reason."""
    with pytest.raises(SignatureError) as info:
        call()
    return info.value.reason


def without(headers: Mapping[str, str], name: str) -> dict[str, str]:
    """Copy of ``headers`` without ``name``."""
    return {key: value for key, value in headers.items() if key != name}


def test_verify_module_imports_only_stdlib() -> None:
    shared = Path(verify_module.__file__).resolve().parents[3]
    probe = (
        "import sys; import backout.ingress.verify; "
        "banned = {'boto3', 'botocore', 'stripe', 'cryptography', 'requests', 'pydantic'}; "
        "print(sorted(banned & {name.split('.')[0] for name in sys.modules}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        env={**os.environ, "PYTHONPATH": str(shared)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == "[]"


def test_signature_error_carries_reason() -> None:
    error = SignatureError("bad_signature", "detail")
    assert error.reason == "bad_signature"
    assert "bad_signature" in str(error)


# --------------------------------------------------------------------------
# Stripe


class TestStripe:
    def verify(
        self,
        raw: bytes,
        headers: Mapping[str, str],
        secrets: Sequence[str],
        now: float = NOW,
    ) -> int:
        return verify_stripe(raw, headers, secrets, now=now)

    def test_valid_accepted(self) -> None:
        assert self.verify(BODY, sign_stripe(BODY, NEW, int(NOW)), [NEW]) == int(NOW)

    def test_agrees_with_stripe_python(self) -> None:
        stripe = pytest.importorskip("stripe")
        headers = sign_stripe(BODY, "whsec_test", int(NOW))
        assert stripe.WebhookSignature.verify_header(
            BODY.decode(), headers["stripe-signature"], "whsec_test", tolerance=None
        )

    def test_accepts_header_built_like_stripe(self) -> None:
        t = int(NOW)
        v1 = hmac.new(NEW.encode(), f"{t}.".encode() + BODY, hashlib.sha256).hexdigest()
        header = {"stripe-signature": f"t={t},v1={v1},v0=deadbeef"}
        assert self.verify(BODY, header, [NEW]) == t

    def test_tampered_body_rejected(self) -> None:
        headers = sign_stripe(BODY, NEW, int(NOW))
        assert reason(lambda: self.verify(BODY + b" ", headers, [NEW])) == "bad_signature"

    def test_tampered_timestamp_rejected(self) -> None:
        sig = sign_stripe(BODY, NEW, int(NOW))["stripe-signature"].split(",")[1]
        headers = {"stripe-signature": f"t={int(NOW) + 1},{sig}"}
        assert reason(lambda: self.verify(BODY, headers, [NEW])) == "bad_signature"

    def test_wrong_secret_rejected(self) -> None:
        headers = sign_stripe(BODY, "whsec_other", int(NOW))
        assert reason(lambda: self.verify(BODY, headers, [NEW])) == "bad_signature"

    def test_missing_header_rejected(self) -> None:
        assert reason(lambda: self.verify(BODY, {}, [NEW])) == "missing_header"
        assert reason(lambda: self.verify(BODY, {"stripe-signature": " "}, [NEW])) == "missing_header"

    def test_stale_timestamp_rejected(self) -> None:
        headers = sign_stripe(BODY, NEW, int(NOW) - 301)
        assert reason(lambda: self.verify(BODY, headers, [NEW])) == "stale_timestamp"

    def test_future_timestamp_rejected(self) -> None:
        headers = sign_stripe(BODY, NEW, int(NOW) + 301)
        assert reason(lambda: self.verify(BODY, headers, [NEW])) == "future_timestamp"

    @pytest.mark.parametrize("offset", [-300, 300])
    def test_window_edges_accepted(self, offset: int) -> None:
        headers = sign_stripe(BODY, NEW, int(NOW) + offset)
        assert self.verify(BODY, headers, [NEW]) == int(NOW) + offset

    def test_custom_tolerance(self) -> None:
        headers = sign_stripe(BODY, NEW, int(NOW) - 20)
        assert verify_stripe(BODY, headers, [NEW], now=NOW, tolerance=30) == int(NOW) - 20
        assert reason(lambda: verify_stripe(BODY, headers, [NEW], now=NOW, tolerance=10)) == "stale_timestamp"

    def test_rotation(self) -> None:
        old_signed = sign_stripe(BODY, OLD, int(NOW))
        new_signed = sign_stripe(BODY, NEW, int(NOW))
        assert self.verify(BODY, old_signed, [OLD, NEW]) == int(NOW)
        assert self.verify(BODY, new_signed, [OLD, NEW]) == int(NOW)
        assert reason(lambda: self.verify(BODY, old_signed, [NEW])) == "bad_signature"

    def test_several_v1_values_in_one_header(self) -> None:
        old_v1 = sign_stripe(BODY, OLD, int(NOW))["stripe-signature"].split(",")[1]
        new_v1 = sign_stripe(BODY, NEW, int(NOW))["stripe-signature"].split(",")[1]
        headers = {"stripe-signature": f"t={int(NOW)},{old_v1},{new_v1}"}
        assert self.verify(BODY, headers, [NEW]) == int(NOW)
        assert self.verify(BODY, headers, [OLD]) == int(NOW)
        assert reason(lambda: self.verify(BODY, headers, ["third"])) == "bad_signature"

    @pytest.mark.parametrize(
        ("header", "expected"),
        [
            ("v1=abc", "malformed_header"),
            ("t=1,t=2,v1=abc", "malformed_header"),
            ("t=abc,v1=abc", "malformed_header"),
            ("t=-5,v1=abc", "malformed_header"),
            ("t=1_700_000_000,v1=abc", "malformed_header"),
            ("garbage", "malformed_header"),
            (f"t={int(NOW)}", "missing_signature"),
            (f"t={int(NOW)},v0=abc", "missing_signature"),
            (f"t={int(NOW)},v1=é", "bad_signature"),
            (f"t={int(NOW)},v1=", "bad_signature"),
        ],
    )
    def test_malformed_headers(self, header: str, expected: str) -> None:
        assert reason(lambda: self.verify(BODY, {"stripe-signature": header}, [NEW])) == expected

    def test_configuration_errors_are_loud(self) -> None:
        headers = sign_stripe(BODY, NEW, int(NOW))
        with pytest.raises(TypeError):
            verify_stripe(BODY, headers, NEW, now=NOW)  # a lone str is not a list of secrets
        with pytest.raises(ValueError):
            verify_stripe(BODY, headers, [], now=NOW)
        with pytest.raises(ValueError):
            verify_stripe(BODY, headers, [""], now=NOW)
        with pytest.raises(TypeError):
            verify_stripe(BODY.decode(), headers, [NEW], now=NOW)  # type: ignore[arg-type]

    def test_now_defaults_to_wall_clock(self) -> None:
        headers = sign_stripe(BODY, NEW, int(NOW))
        assert reason(lambda: verify_stripe(BODY, headers, [NEW])) == "stale_timestamp"


# --------------------------------------------------------------------------
# Body-only HMAC providers (Shopify, WooCommerce, AfterShip, EasyPost, TikTok)


@dataclass(frozen=True)
class BodyProvider:
    name: str
    header: str
    sign: Callable[[bytes, str], dict[str, str]]
    verify: Callable[[bytes, Mapping[str, str], Sequence[str]], object]
    extra: Mapping[str, str] = field(default_factory=dict)


def _tiktok_verify(raw: bytes, headers: Mapping[str, str], secrets: Sequence[str]) -> object:
    if isinstance(secrets, str):  # pass misconfiguration through unchanged
        return verify_tiktok(raw, headers, secrets)  # type: ignore[arg-type]
    return verify_tiktok(raw, headers, [("app_key_1", secret) for secret in secrets])


BODY_PROVIDERS = [
    BodyProvider("shopify", "x-shopify-hmac-sha256", sign_shopify, verify_shopify),
    BodyProvider("woocommerce", "x-wc-webhook-signature", sign_woocommerce, verify_woocommerce),
    BodyProvider("aftership", "aftership-hmac-sha256", sign_aftership, verify_aftership),
    BodyProvider("easypost", "x-hmac-signature", sign_easypost, verify_easypost),
    BodyProvider(
        "tiktok",
        "authorization",
        lambda raw, secret: sign_tiktok(raw, "app_key_1", secret),
        _tiktok_verify,
    ),
]


@pytest.fixture(params=BODY_PROVIDERS, ids=lambda provider: provider.name)
def provider(request: pytest.FixtureRequest) -> BodyProvider:
    param: BodyProvider = request.param
    return param


class TestBodyHmacProviders:
    def test_valid_accepted(self, provider: BodyProvider) -> None:
        headers = provider.sign(BODY, NEW)
        assert set(headers) == {provider.header}
        provider.verify(BODY, headers, [NEW])

    def test_empty_body_signed_and_verified(self, provider: BodyProvider) -> None:
        provider.verify(b"", provider.sign(b"", NEW), [NEW])

    def test_tampered_body_rejected(self, provider: BodyProvider) -> None:
        headers = provider.sign(BODY, NEW)
        tampered = BODY.replace(b"1230", b"9999")
        assert reason(lambda: provider.verify(tampered, headers, [NEW])) == "bad_signature"

    def test_wrong_secret_rejected(self, provider: BodyProvider) -> None:
        headers = provider.sign(BODY, "not_the_secret")
        assert reason(lambda: provider.verify(BODY, headers, [NEW])) == "bad_signature"

    def test_missing_header_rejected(self, provider: BodyProvider) -> None:
        assert reason(lambda: provider.verify(BODY, {}, [NEW])) == "missing_header"
        assert reason(lambda: provider.verify(BODY, {provider.header: ""}, [NEW])) == "missing_header"

    def test_header_of_other_provider_not_accepted(self, provider: BodyProvider) -> None:
        other = next(p for p in BODY_PROVIDERS if p.header != provider.header)
        headers = other.sign(BODY, NEW)
        assert reason(lambda: provider.verify(BODY, headers, [NEW])) == "missing_header"

    def test_rotation(self, provider: BodyProvider) -> None:
        old_signed = provider.sign(BODY, OLD)
        new_signed = provider.sign(BODY, NEW)
        provider.verify(BODY, old_signed, [OLD, NEW])
        provider.verify(BODY, new_signed, [OLD, NEW])
        provider.verify(BODY, new_signed, [NEW])
        assert reason(lambda: provider.verify(BODY, old_signed, [NEW])) == "bad_signature"

    @pytest.mark.parametrize("garbage", ["é", "\udcff", "x" * 5000, "=="])
    def test_garbage_signature_rejected_without_crash(self, provider: BodyProvider, garbage: str) -> None:
        value = garbage if provider.name != "easypost" else "hmac-sha256-hex=" + garbage
        assert reason(lambda: provider.verify(BODY, {provider.header: value}, [NEW])) == "bad_signature"

    def test_single_str_secret_is_a_type_error(self, provider: BodyProvider) -> None:
        headers = provider.sign(BODY, NEW)
        with pytest.raises(TypeError):
            provider.verify(BODY, headers, NEW)


def test_shopify_matches_independent_computation() -> None:
    digest = hmac.new(b"shpss_secret", BODY, hashlib.sha256).digest()
    verify_shopify(
        BODY,
        {"x-shopify-hmac-sha256": base64.b64encode(digest).decode()},
        ["shpss_secret"],
    )


def test_base64_compare_is_canonical() -> None:
    value = sign_shopify(BODY, NEW)["x-shopify-hmac-sha256"]
    assert reason(lambda: verify_shopify(BODY, {"x-shopify-hmac-sha256": value.rstrip("=")}, [NEW])) == (
        "bad_signature"
    )


class TestEasyPost:
    def test_key_is_nfkd_normalised(self) -> None:
        composed = unicodedata.normalize("NFC", "sécret")
        decomposed = unicodedata.normalize("NFD", "sécret")
        assert composed != decomposed
        verify_easypost(BODY, sign_easypost(BODY, composed), [decomposed])
        verify_easypost(BODY, sign_easypost(BODY, decomposed), [composed])
        digest = hmac.new("se\u0301cret".encode(), BODY, hashlib.sha256).hexdigest()
        verify_easypost(BODY, {"x-hmac-signature": f"hmac-sha256-hex={digest}"}, [composed])

    def test_prefix_required(self) -> None:
        bare = sign_easypost(BODY, NEW)["x-hmac-signature"].removeprefix("hmac-sha256-hex=")
        assert reason(lambda: verify_easypost(BODY, {"x-hmac-signature": bare}, [NEW])) == "malformed_header"

    def test_uppercase_hex_accepted(self) -> None:
        value = sign_easypost(BODY, NEW)["x-hmac-signature"]
        prefix, digest = value.split("=", 1)
        verify_easypost(BODY, {"x-hmac-signature": f"{prefix}={digest.upper()}"}, [NEW])


class TestTikTok:
    def test_returns_matching_app_key(self) -> None:
        headers = sign_tiktok(BODY, "app_b", "secret_b")
        credentials = [("app_a", "secret_a"), ("app_b", "secret_b")]
        assert verify_tiktok(BODY, headers, credentials) == "app_b"

    def test_app_key_is_part_of_signed_content(self) -> None:
        headers = sign_tiktok(BODY, "app_a", NEW)
        assert reason(lambda: verify_tiktok(BODY, headers, [("app_b", NEW)])) == "bad_signature"

    def test_independent_computation(self) -> None:
        digest = hmac.new(b"s3cret", b"key1" + BODY, hashlib.sha256).hexdigest()
        assert verify_tiktok(BODY, {"authorization": digest}, [("key1", "s3cret")]) == "key1"

    def test_configuration_errors(self) -> None:
        headers = sign_tiktok(BODY, "k", NEW)
        with pytest.raises(TypeError):
            verify_tiktok(BODY, headers, ("ab", "cd"))  # type: ignore[arg-type]
        with pytest.raises(ValueError):
            verify_tiktok(BODY, headers, [])
        with pytest.raises(ValueError):
            verify_tiktok(BODY, headers, [("k", "")])


# --------------------------------------------------------------------------
# Standard Webhooks

SW_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SW_OTHER = "whsec_" + base64.b64encode(b"another-32-byte-key-for-rotation").decode()


class TestStandardWebhooks:
    def verify(
        self,
        raw: bytes,
        headers: Mapping[str, str],
        secrets: Sequence[str],
        now: float = NOW,
    ) -> str:
        return verify_standard_webhooks(raw, headers, secrets, now=now)

    def test_specification_test_vector(self) -> None:
        headers = {
            "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
            "webhook-timestamp": "1614265330",
            "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        }
        raw = b'{"test": 2432232314}'
        assert self.verify(raw, headers, [SW_SECRET], now=1614265330) == "msg_p5jXN8AQM9LWM0D4loKWxJek"
        signed = sign_standard_webhooks(raw, SW_SECRET, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330)
        assert signed == headers

    def test_valid_accepted(self) -> None:
        headers = sign_standard_webhooks(BODY, SW_SECRET, "msg_1", int(NOW))
        assert self.verify(BODY, headers, [SW_SECRET]) == "msg_1"

    def test_secret_without_prefix_and_raw_bytes(self) -> None:
        headers = sign_standard_webhooks(BODY, SW_SECRET, "msg_1", int(NOW))
        key_b64 = SW_SECRET.removeprefix("whsec_")
        assert self.verify(BODY, headers, [key_b64]) == "msg_1"
        assert verify_standard_webhooks(BODY, headers, [base64.b64decode(key_b64)], now=NOW) == "msg_1"

    def test_tampered_body_rejected(self) -> None:
        headers = sign_standard_webhooks(BODY, SW_SECRET, "msg_1", int(NOW))
        assert reason(lambda: self.verify(BODY + b"\n", headers, [SW_SECRET])) == "bad_signature"

    def test_id_and_timestamp_are_signed(self) -> None:
        headers = sign_standard_webhooks(BODY, SW_SECRET, "msg_1", int(NOW))
        other_id = {**headers, "webhook-id": "msg_2"}
        other_ts = {**headers, "webhook-timestamp": str(int(NOW) + 1)}
        assert reason(lambda: self.verify(BODY, other_id, [SW_SECRET])) == "bad_signature"
        assert reason(lambda: self.verify(BODY, other_ts, [SW_SECRET])) == "bad_signature"

    def test_wrong_secret_rejected(self) -> None:
        headers = sign_standard_webhooks(BODY, SW_OTHER, "msg_1", int(NOW))
        assert reason(lambda: self.verify(BODY, headers, [SW_SECRET])) == "bad_signature"

    @pytest.mark.parametrize("name", ["webhook-id", "webhook-timestamp", "webhook-signature"])
    def test_missing_header_rejected(self, name: str) -> None:
        headers = sign_standard_webhooks(BODY, SW_SECRET, "msg_1", int(NOW))
        assert reason(lambda: self.verify(BODY, without(headers, name), [SW_SECRET])) == "missing_header"

    def test_stale_timestamp_rejected(self) -> None:
        headers = sign_standard_webhooks(BODY, SW_SECRET, "msg_1", int(NOW) - 301)
        assert reason(lambda: self.verify(BODY, headers, [SW_SECRET])) == "stale_timestamp"

    def test_future_timestamp_rejected(self) -> None:
        headers = sign_standard_webhooks(BODY, SW_SECRET, "msg_1", int(NOW) + 301)
        assert reason(lambda: self.verify(BODY, headers, [SW_SECRET])) == "future_timestamp"

    def test_rotation(self) -> None:
        old_signed = sign_standard_webhooks(BODY, SW_OTHER, "msg_1", int(NOW))
        new_signed = sign_standard_webhooks(BODY, SW_SECRET, "msg_1", int(NOW))
        assert self.verify(BODY, old_signed, [SW_OTHER, SW_SECRET]) == "msg_1"
        assert self.verify(BODY, new_signed, [SW_OTHER, SW_SECRET]) == "msg_1"
        assert reason(lambda: self.verify(BODY, old_signed, [SW_SECRET])) == "bad_signature"

    def test_several_signatures_and_unknown_versions(self) -> None:
        old_sig = sign_standard_webhooks(BODY, SW_OTHER, "msg_1", int(NOW))["webhook-signature"]
        new_signed = sign_standard_webhooks(BODY, SW_SECRET, "msg_1", int(NOW))
        combined = f"v1a,AAAA {old_sig} {new_signed['webhook-signature']}"
        headers = {**new_signed, "webhook-signature": combined}
        assert self.verify(BODY, headers, [SW_SECRET]) == "msg_1"
        assert self.verify(BODY, headers, [SW_OTHER]) == "msg_1"

    @pytest.mark.parametrize(
        ("name", "value", "expected"),
        [
            ("webhook-signature", "v1a,AAAA", "missing_signature"),
            ("webhook-signature", "nocomma", "malformed_header"),
            ("webhook-timestamp", "17e8", "malformed_header"),
            ("webhook-timestamp", "-1", "malformed_header"),
            ("webhook-id", "msg 1", "malformed_header"),
        ],
    )
    def test_malformed_headers(self, name: str, value: str, expected: str) -> None:
        headers = {
            **sign_standard_webhooks(BODY, SW_SECRET, "msg_1", int(NOW)),
            name: value,
        }
        assert reason(lambda: self.verify(BODY, headers, [SW_SECRET])) == expected

    def test_malformed_secret_is_a_config_error(self) -> None:
        headers = sign_standard_webhooks(BODY, SW_SECRET, "msg_1", int(NOW))
        with pytest.raises(ValueError):
            self.verify(BODY, headers, ["whsec_not base64!"])


# --------------------------------------------------------------------------
# PayPal

CERT_URL = "https://api.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-1d93a270"
WEBHOOK_ID = "WH-1AB23456CD789012E-3FG45678HI901234J"
TRANSMISSION_ID = "103e3700-8b0c-11e6-8695-6b62a8a99ac4"


@dataclass(frozen=True)
class FakeCA:
    root: bytes
    leaf: bytes
    key: bytes


@pytest.fixture(scope="module")
def ca() -> FakeCA:
    return FakeCA(*make_fake_paypal_ca(NOW))


@pytest.fixture(scope="module")
def other_ca() -> FakeCA:
    return FakeCA(*make_fake_paypal_ca(NOW))


class CertServer:
    """Injected fetch_cert: serves PEMs by URL and records every fetch."""

    def __init__(self, certs: Mapping[str, bytes]) -> None:
        self.certs = dict(certs)
        self.calls: list[str] = []

    def __call__(self, url: str) -> bytes:
        self.calls.append(url)
        return self.certs[url]


def paypal_headers(
    ca: FakeCA,
    *,
    raw: bytes = BODY,
    webhook_id: str = WEBHOOK_ID,
    at: float = NOW,
    cert_url: str = CERT_URL,
) -> dict[str, str]:
    return sign_paypal(raw, webhook_id, ca.key, cert_url, TRANSMISSION_ID, paypal_transmission_time(at))


def run_paypal(
    ca: FakeCA,
    headers: Mapping[str, str],
    *,
    raw: bytes = BODY,
    webhook_ids: Sequence[str] = (WEBHOOK_ID,),
    now: float = NOW,
    server: CertServer | None = None,
    cache: dict[str, bytes] | None = None,
    roots: bytes | None = None,
) -> str:
    fetch = server if server is not None else CertServer({headers.get("paypal-cert-url", CERT_URL): ca.leaf})
    return verify_paypal(
        raw,
        headers,
        webhook_ids,
        now=now,
        fetch_cert=fetch,
        cert_cache=cache,
        trusted_roots_pem=roots if roots is not None else ca.root,
    )


class TestPayPal:
    def test_valid_accepted(self, ca: FakeCA) -> None:
        assert run_paypal(ca, paypal_headers(ca)) == WEBHOOK_ID

    def test_without_trusted_roots_the_chain_is_still_checked(self, ca: FakeCA) -> None:
        """Issue 14 item 2: PayPal's SDK always verifies the chain (paypalrestsdk notifications.py,
        ``_verify_certificate_chain``); with no override the anchors are PayPal's published DigiCert root
        and certifi's DigiCert roots, which did not issue this test chain."""
        server = CertServer({CERT_URL: ca.leaf})
        headers = paypal_headers(ca)
        assert reason(lambda: verify_paypal(BODY, headers, [WEBHOOK_ID], now=NOW, fetch_cert=server)) == "untrusted_cert"

    def test_root_only_override_takes_the_intermediate_from_the_served_document(self, ca: FakeCA) -> None:
        """Issue 14 item 2: PayPal's leaf is issued by an intermediate; trusting the root alone must do."""
        assert len(x509.load_pem_x509_certificates(ca.leaf)) == 2
        assert len(x509.load_pem_x509_certificates(ca.root)) == 1
        assert run_paypal(ca, paypal_headers(ca), roots=ca.root) == WEBHOOK_ID

    def test_leaf_without_its_intermediate_is_untrusted_under_the_root(self, ca: FakeCA) -> None:
        leaf_only = x509.load_pem_x509_certificates(ca.leaf)[0].public_bytes(serialization.Encoding.PEM)
        server = CertServer({CERT_URL: leaf_only})
        assert reason(lambda: run_paypal(ca, paypal_headers(ca), server=server)) == "untrusted_cert"

    def test_intermediate_in_the_override_is_an_anchor(self, ca: FakeCA) -> None:
        leaf, middle = x509.load_pem_x509_certificates(ca.leaf)
        server = CertServer({CERT_URL: leaf.public_bytes(serialization.Encoding.PEM)})
        roots = middle.public_bytes(serialization.Encoding.PEM)
        assert run_paypal(ca, paypal_headers(ca), server=server, roots=roots) == WEBHOOK_ID

    def test_the_leaf_cannot_act_as_an_intermediate(self, ca: FakeCA) -> None:
        """A certificate without basicConstraints ca=True issues nothing, even when its key signed the next one."""
        from datetime import UTC, datetime, timedelta

        from cryptography.x509.oid import NameOID

        paypal_leaf = x509.load_pem_x509_certificates(ca.leaf)[0]
        signer = serialization.load_pem_private_key(ca.key, password=None)
        assert isinstance(signer, rsa.RSAPrivateKey)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        start = datetime.fromtimestamp(NOW, tz=UTC) - timedelta(days=1)
        forged = (x509.CertificateBuilder()
                  .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "api.paypal.com")]))
                  .issuer_name(paypal_leaf.subject).public_key(key.public_key())
                  .serial_number(x509.random_serial_number()).not_valid_before(start)
                  .not_valid_after(start + timedelta(days=10)).sign(signer, hashes.SHA256()))
        key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        headers = sign_paypal(BODY, WEBHOOK_ID, key_pem, CERT_URL, TRANSMISSION_ID, paypal_transmission_time(NOW))
        server = CertServer({CERT_URL: forged.public_bytes(serialization.Encoding.PEM) + ca.leaf})
        assert reason(lambda: run_paypal(ca, headers, server=server)) == "untrusted_cert"

    def test_signed_string_format(self, ca: FakeCA) -> None:
        headers = paypal_headers(ca)
        sent = headers["paypal-transmission-time"]
        crc = zlib.crc32(BODY) & 0xFFFFFFFF
        message = f"{TRANSMISSION_ID}|{sent}|{WEBHOOK_ID}|{crc}".encode()
        public_key = x509.load_pem_x509_certificate(ca.leaf).public_key()
        assert isinstance(public_key, rsa.RSAPublicKey)
        signature = base64.b64decode(headers["paypal-transmission-sig"])
        public_key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
        assert headers["paypal-transmission-time"] == "2023-11-14T22:13:20Z"

    def test_cert_is_cached_by_url(self, ca: FakeCA) -> None:
        server = CertServer({CERT_URL: ca.leaf})
        cache: dict[str, bytes] = {}
        headers = paypal_headers(ca)
        run_paypal(ca, headers, server=server, cache=cache)
        run_paypal(ca, headers, server=server, cache=cache)
        assert server.calls == [CERT_URL]
        assert cache == {CERT_URL: ca.leaf}

    def test_expired_cached_cert_is_evicted(self, ca: FakeCA) -> None:
        cache = {CERT_URL: ca.leaf}
        later = NOW + 40 * 86400
        headers = paypal_headers(ca, at=later)
        assert reason(lambda: run_paypal(ca, headers, now=later, cache=cache)) == "cert_expired"
        assert cache == {}

    def test_tampered_body_rejected(self, ca: FakeCA) -> None:
        headers = paypal_headers(ca)
        assert reason(lambda: run_paypal(ca, headers, raw=BODY + b" ")) == "bad_signature"

    def test_tampered_transmission_id_rejected(self, ca: FakeCA) -> None:
        headers = {
            **paypal_headers(ca),
            "paypal-transmission-id": "00000000-0000-0000-0000-000000000000",
        }
        assert reason(lambda: run_paypal(ca, headers)) == "bad_signature"

    def test_wrong_webhook_id_rejected(self, ca: FakeCA) -> None:
        headers = paypal_headers(ca, webhook_id="WH-SOMEONE-ELSE")
        assert reason(lambda: run_paypal(ca, headers)) == "bad_signature"

    def test_wrong_key_rejected(self, ca: FakeCA, other_ca: FakeCA) -> None:
        headers = paypal_headers(other_ca)
        assert reason(lambda: run_paypal(ca, headers)) == "bad_signature"

    def test_rotated_webhook_ids(self, ca: FakeCA) -> None:
        old_signed = paypal_headers(ca, webhook_id="WH-OLD")
        new_signed = paypal_headers(ca, webhook_id="WH-NEW")
        assert run_paypal(ca, old_signed, webhook_ids=["WH-OLD", "WH-NEW"]) == "WH-OLD"
        assert run_paypal(ca, new_signed, webhook_ids=["WH-OLD", "WH-NEW"]) == "WH-NEW"
        assert reason(lambda: run_paypal(ca, old_signed, webhook_ids=["WH-NEW"])) == "bad_signature"

    @pytest.mark.parametrize(
        "name",
        [
            "paypal-transmission-id",
            "paypal-transmission-time",
            "paypal-transmission-sig",
            "paypal-cert-url",
            "paypal-auth-algo",
        ],
    )
    def test_missing_header_rejected(self, ca: FakeCA, name: str) -> None:
        headers = without(paypal_headers(ca), name)
        server = CertServer({CERT_URL: ca.leaf})
        assert reason(lambda: run_paypal(ca, headers, server=server)) == "missing_header"
        assert server.calls == []

    def test_auth_algo_must_be_sha256_with_rsa(self, ca: FakeCA) -> None:
        headers = {**paypal_headers(ca), "paypal-auth-algo": "SHA1withRSA"}
        assert reason(lambda: run_paypal(ca, headers)) == "unsupported_algorithm"

    def test_stale_transmission_rejected(self, ca: FakeCA) -> None:
        headers = paypal_headers(ca, at=NOW - 301)
        assert reason(lambda: run_paypal(ca, headers)) == "stale_timestamp"

    def test_future_transmission_rejected(self, ca: FakeCA) -> None:
        headers = paypal_headers(ca, at=NOW + 301)
        assert reason(lambda: run_paypal(ca, headers)) == "future_timestamp"

    @pytest.mark.parametrize(
        "value",
        ["yesterday", "2023-11-14T22:13:20", "1700000000", "2023-11-14T22:13:20Z|x"],
    )
    def test_malformed_transmission_time(self, ca: FakeCA, value: str) -> None:
        headers = {**paypal_headers(ca), "paypal-transmission-time": value}
        assert reason(lambda: run_paypal(ca, headers)) == "malformed_header"

    def test_offset_transmission_time_accepted(self, ca: FakeCA) -> None:
        headers = sign_paypal(
            BODY,
            WEBHOOK_ID,
            ca.key,
            CERT_URL,
            TRANSMISSION_ID,
            "2023-11-15T00:13:20+02:00",
        )
        assert run_paypal(ca, headers) == WEBHOOK_ID

    def test_malformed_signature(self, ca: FakeCA) -> None:
        headers = {**paypal_headers(ca), "paypal-transmission-sig": "not base64!"}
        assert reason(lambda: run_paypal(ca, headers)) == "malformed_header"

    @pytest.mark.parametrize(
        "url",
        [
            "http://api.paypal.com/v1/notifications/certs/CERT-1",
            "https://paypal.com.evil.net/cert",
            "https://evilpaypal.com/cert",
            "https://api.paypal.com@evil.net/cert",
            "https://api.paypal.com:443@evil.net/cert",
            "https://user:pass@api.paypal.com/cert",
            "https://evil.net\\@api.paypal.com/cert",
            "https://evil.net#@api.paypal.com/cert",
            "https://evil.net/?.paypal.com",
            "https://api.paypal.com.:443/cert",
            "https://api.paypal.com:8443/cert",
            "https://api.paypal.com:abc/cert",
            "https://api.paypal.com%2eevil.net/cert",
            "https://api.paypal.com/cert?redirect=https://evil.net",
            "https://api.paypal.com/cert#frag",
            "https://api .paypal.com/cert",
            "https://api.paypal.com/cert\r\nX: y",
            "https://\u0430pi.paypal.com/cert",  # Cyrillic "a" homoglyph
            "https://.paypal.com/cert",
            "https://[::1]/cert",
            "ftp://api.paypal.com/cert",
            "//api.paypal.com/cert",
            "api.paypal.com/cert",
        ],
    )
    def test_cert_host_allowlist(self, ca: FakeCA, url: str) -> None:
        headers = paypal_headers(ca, cert_url=url)
        server = CertServer({url: ca.leaf})
        assert reason(lambda: run_paypal(ca, headers, server=server)) == "cert_host_not_allowed"
        assert server.calls == []

    @pytest.mark.parametrize(
        "url",
        [
            "https://api.sandbox.paypal.com/v1/notifications/certs/CERT-1",
            "https://paypal.com/cert",
            "https://API.PayPal.com/cert",
            "https://api.paypal.com:443/cert",
        ],
    )
    def test_cert_host_allowed(self, ca: FakeCA, url: str) -> None:
        assert run_paypal(ca, paypal_headers(ca, cert_url=url)) == WEBHOOK_ID

    def test_expired_cert_rejected(self, ca: FakeCA) -> None:
        later = NOW + 31 * 86400
        headers = paypal_headers(ca, at=later)
        assert reason(lambda: run_paypal(ca, headers, now=later)) == "cert_expired"

    def test_not_yet_valid_cert_rejected(self, ca: FakeCA) -> None:
        earlier = NOW - 2 * 86400
        headers = paypal_headers(ca, at=earlier)
        assert reason(lambda: run_paypal(ca, headers, now=earlier)) == "cert_not_yet_valid"

    def test_wrong_root_rejected(self, ca: FakeCA, other_ca: FakeCA) -> None:
        headers = paypal_headers(ca)
        assert reason(lambda: run_paypal(ca, headers, roots=other_ca.root)) == "untrusted_cert"

    def test_any_of_several_roots(self, ca: FakeCA, other_ca: FakeCA) -> None:
        assert run_paypal(ca, paypal_headers(ca), roots=other_ca.root + ca.root) == WEBHOOK_ID

    def test_self_signed_leaf_not_trusted_as_its_own_root(self, ca: FakeCA, other_ca: FakeCA) -> None:
        headers = paypal_headers(other_ca)
        server = CertServer({CERT_URL: other_ca.leaf})
        assert reason(lambda: run_paypal(ca, headers, server=server, roots=ca.root)) == "untrusted_cert"

    def test_leaf_must_name_a_paypal_host(self) -> None:
        evil = FakeCA(*make_fake_paypal_ca(NOW, leaf_cn="webhooks.evil.example"))
        headers = paypal_headers(evil)
        assert reason(lambda: run_paypal(evil, headers)) == "cert_subject_not_allowed"

    def test_fetch_failure(self, ca: FakeCA) -> None:
        headers = paypal_headers(ca)
        assert reason(lambda: run_paypal(ca, headers, server=CertServer({}))) == "cert_fetch_failed"

    def test_garbage_cert_not_cached(self, ca: FakeCA) -> None:
        cache: dict[str, bytes] = {}
        garbage = b"-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n"
        server = CertServer({CERT_URL: garbage})
        assert reason(lambda: run_paypal(ca, paypal_headers(ca), server=server, cache=cache)) == "malformed_cert"
        assert cache == {}

    def test_configuration_errors(self, ca: FakeCA) -> None:
        headers = paypal_headers(ca)
        with pytest.raises(ValueError):
            run_paypal(ca, headers, webhook_ids=[])
        with pytest.raises(TypeError):
            run_paypal(ca, headers, webhook_ids=WEBHOOK_ID)


# --------------------------------------------------------------------------
# Ozon

OZON_IP = "195.34.21.10"
SELLERS: list[str | int] = [123456, "654321"]


def cancelled(seller_id: object = 123456) -> dict[str, object]:
    return {
        "message_type": "TYPE_POSTING_CANCELLED",
        "posting_number": "24219509-0020-2",
        "seller_id": seller_id,
    }


class TestOzon:
    @pytest.mark.parametrize(
        "ip",
        [
            "195.34.21.0",
            "195.34.21.255",
            "185.73.192.1",
            "185.73.195.255",
            "91.223.93.7",
            "::ffff:195.34.21.10",
        ],
    )
    def test_allowed_networks(self, ip: str) -> None:
        assert verify_ozon(ip, cancelled(), seller_ids=SELLERS) == "123456"

    @pytest.mark.parametrize(
        "ip",
        [
            "195.34.22.1",
            "185.73.196.0",
            "185.73.191.255",
            "10.0.0.1",
            "127.0.0.1",
            "::1",
            "2001:db8::1",
        ],
    )
    def test_other_sources_rejected(self, ip: str) -> None:
        assert reason(lambda: verify_ozon(ip, cancelled(), seller_ids=SELLERS)) == "source_not_allowed"

    @pytest.mark.parametrize(
        "ip",
        [
            "",
            "not-an-ip",
            "195.34.21.999",
            "195.34.21",
            "195.34.21.10, 1.2.3.4",
            None,
            3257013514,
        ],
    )
    def test_malformed_source_rejected(self, ip: Any) -> None:
        assert reason(lambda: verify_ozon(ip, cancelled(), seller_ids=SELLERS)) == "malformed_source_ip"

    @pytest.mark.parametrize("seller_id", [123456, "123456", 654321, "654321"])
    def test_known_seller_as_int_or_str(self, seller_id: object) -> None:
        assert verify_ozon(OZON_IP, cancelled(seller_id), seller_ids=SELLERS) == str(seller_id)

    def test_unknown_seller_rejected(self) -> None:
        assert reason(lambda: verify_ozon(OZON_IP, cancelled(999), seller_ids=SELLERS)) == "unknown_seller"

    def test_missing_seller_rejected(self) -> None:
        body = {"message_type": "TYPE_POSTING_CANCELLED", "posting_number": "1-1-1"}
        assert reason(lambda: verify_ozon(OZON_IP, body, seller_ids=SELLERS)) == "missing_seller_id"

    @pytest.mark.parametrize("seller_id", [True, None, 123456.0, "abc", "", [123456], -123456])
    def test_malformed_seller_rejected(self, seller_id: object) -> None:
        assert reason(lambda: verify_ozon(OZON_IP, cancelled(seller_id), seller_ids=SELLERS)) == "malformed_seller_id"

    def test_ping_needs_no_seller(self) -> None:
        ping = {"message_type": "TYPE_PING", "time": "2024-01-01T00:00:00Z"}
        assert verify_ozon(OZON_IP, ping, seller_ids=SELLERS) is None

    def test_ping_still_needs_allowed_source(self) -> None:
        ping = {"message_type": "TYPE_PING", "time": "2024-01-01T00:00:00Z"}
        assert reason(lambda: verify_ozon("8.8.8.8", ping, seller_ids=SELLERS)) == "source_not_allowed"

    def test_custom_networks(self) -> None:
        assert (
            verify_ozon(
                "10.1.2.3",
                cancelled(),
                allowed_networks=["10.0.0.0/8"],
                seller_ids=SELLERS,
            )
            == "123456"
        )
        assert reason(
            lambda: verify_ozon(
                OZON_IP,
                cancelled(),
                allowed_networks=["10.0.0.0/8"],
                seller_ids=SELLERS,
            )
        ) == ("source_not_allowed")

    def test_default_networks(self) -> None:
        assert OZON_NETWORKS == ("195.34.21.0/24", "185.73.192.0/22", "91.223.93.0/24")

    def test_non_mapping_body_rejected(self) -> None:
        body: Any = ["TYPE_PING"]
        assert reason(lambda: verify_ozon(OZON_IP, body, seller_ids=SELLERS)) == "malformed_body"

    def test_configuration_errors(self) -> None:
        with pytest.raises(ValueError):
            verify_ozon(OZON_IP, cancelled(), seller_ids=[])
        with pytest.raises(TypeError):
            verify_ozon(OZON_IP, cancelled(), seller_ids="123456")
