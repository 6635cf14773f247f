"""Issue 14, item 2: a configuration that cannot verify real webhooks is refused when the receiver starts.

Before, the receiver took any configuration at start-up and failed at the
first delivery: a ``standard`` secret that is not base64 after ``whsec_``
raised inside the verifier (500 on every delivery, retried by the sender for
days), a malformed ``paypal.trusted_roots_pem`` answered 500 to every PayPal
delivery. Now ``api_handler`` (the Lambda init phase) raises a ConfigError
naming the setting.
"""

from __future__ import annotations

import copy
import logging
import time
from typing import Any

import pytest

from backout.ingress import receiver
from backout_dev import signing
from backout.ingress.config import ConfigError, check_config
from tests.ingress import kit

ALL = frozenset(kit.PROVIDERS)
LOGGER = logging.getLogger("test_startup_checks")


@pytest.fixture(scope="module")
def secrets() -> dict[str, Any]:
    return kit.fresh_secrets()


def start(config: dict[str, Any], monkeypatch: pytest.MonkeyPatch, served: frozenset[str] = ALL) -> Any:
    monkeypatch.setattr(receiver, "load_webhook_config", lambda settings=None: config)
    return receiver.api_handler(served, LOGGER)


def broken(secrets: dict[str, Any], provider: str, value: Any) -> dict[str, Any]:
    config = copy.deepcopy(secrets["webhooks"])
    config[provider] = value
    return config


def test_a_valid_configuration_starts(secrets: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    assert callable(start(copy.deepcopy(secrets["webhooks"]), monkeypatch))


def test_a_standard_secret_that_is_not_base64_is_refused_at_start_up(secrets: dict[str, Any],
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    config = broken(secrets, "standard", ["whsec_not*base64!"])
    with pytest.raises(ConfigError, match=r"'standard' entry 0: not base64 after the whsec_ prefix"):
        start(config, monkeypatch)


def test_an_unpadded_standard_secret_starts(secrets: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """The Standard Webhooks reference library accepts a key without its base64 padding."""
    assert callable(start(broken(secrets, "standard", ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]), monkeypatch))


@pytest.mark.parametrize("pem", ["not a certificate", "-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n"])
def test_malformed_trusted_roots_are_refused_at_start_up(secrets: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
                                                         pem: str) -> None:
    paypal = dict(secrets["webhooks"]["paypal"], trusted_roots_pem=pem)
    with pytest.raises(ConfigError, match=r"'paypal.trusted_roots_pem'"):
        start(broken(secrets, "paypal", paypal), monkeypatch, frozenset({"stripe", "paypal"}))


def test_trusted_roots_holding_no_ca_are_refused(secrets: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """A leaf certificate pasted as the root issues nothing: no PayPal delivery could ever verify."""
    _, served, _ = signing.make_fake_paypal_ca(time.time())
    leaf_only = served.decode().split("-----END CERTIFICATE-----")[0] + "-----END CERTIFICATE-----\n"
    paypal = dict(secrets["webhooks"]["paypal"], trusted_roots_pem=leaf_only)
    with pytest.raises(ConfigError, match="no CA certificate valid now"):
        start(broken(secrets, "paypal", paypal), monkeypatch)


def test_expired_trusted_roots_are_refused(secrets: dict[str, Any]) -> None:
    root, _, _ = signing.make_fake_paypal_ca(time.time() - 90 * 86400)
    paypal = dict(secrets["webhooks"]["paypal"], trusted_roots_pem=root.decode())
    with pytest.raises(ConfigError, match="no CA certificate valid now"):
        check_config(broken(secrets, "paypal", paypal), ["paypal"])


def test_without_an_override_paypals_anchors_must_load(secrets: dict[str, Any]) -> None:
    paypal = {"webhook_ids": ["WH-1"]}
    check_config(broken(secrets, "paypal", paypal), ["paypal"])  # PayPal's published root and certifi's DigiCert roots


@pytest.mark.parametrize(("provider", "value", "message"), [
    ("ozon", {"seller_ids": [1], "allowed_networks": ["195.34.21.0/33"]}, "'ozon.allowed_networks'"),
    ("ozon", {"seller_ids": ["abc"]}, "'ozon.seller_ids'"),
    ("tiktok", [["only-a-key"]], "'tiktok'"),
    ("shopify", [""], "'shopify'"),
    ("paypal", {"webhook_ids": []}, "'paypal.webhook_ids'"),
])
def test_other_malformed_entries_are_refused_at_start_up(secrets: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
                                                         provider: str, value: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        start(broken(secrets, provider, value), monkeypatch)


def test_only_the_served_providers_are_checked(secrets: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    config = broken(secrets, "standard", ["whsec_not*base64!"])
    assert callable(start(config, monkeypatch, frozenset({"stripe", "paypal"})))


def test_a_reloaded_configuration_is_checked_before_use(secrets: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """After a rotation the secret is reloaded: a malformed one is our fault (answered 500), named like at start-up."""
    monkeypatch.setattr(receiver, "put_inbox_item", lambda item: True)
    d = kit.make("standard", secrets)
    config = broken(secrets, "standard", ["whsec_not*base64!"])
    with pytest.raises(ConfigError, match="'standard' entry 0"):
        receiver.receive(receiver.delivery_from_api_event("standard", d.api_event()), config=config)
