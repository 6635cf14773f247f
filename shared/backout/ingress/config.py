"""The receivers' settings (environment) and webhook configuration (one secret), checked at start-up.

A receiver reads its settings and loads the webhook configuration once, when
its handler is made (the Lambda init phase), and refuses to start when the
configuration could not verify a real delivery: a ``standard`` secret that is
not base64 after ``whsec_``, a ``paypal.trusted_roots_pem`` that is not PEM
certificates or holds no CA valid now, Ozon networks that do not parse, and
so on. The error names the setting, so the init failure in the function's log
says what to fix; before, such a configuration answered 500 on every delivery
and the providers retried for days. A configuration reloaded later (a
rotation; Powertools caches the secret) is checked again before it is used.

Only the standard library is imported here; ``cryptography`` is imported when
a PayPal entry is checked.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import os
import time
from collections.abc import Collection, Mapping
from typing import Any, NamedTuple

__all__ = ["ConfigError", "Settings", "check_config", "load_webhook_config"]

DEFAULT_MAX_BODY_BYTES = 262144
DEFAULT_REPLAY_WINDOW_SECONDS = 300
DEFAULT_RETENTION_DAYS = 35

SECRET_LISTS = ("woocommerce", "shopify", "stripe", "aftership", "easypost", "standard")
_WHSEC_PREFIX = "whsec_"


class ConfigError(RuntimeError):
    """The webhook configuration or a setting is missing or malformed (our fault: refused at start-up, else 500)."""


class Settings(NamedTuple):
    """The receiver's settings from the function's environment, read once per process."""

    secrets_name: str | None
    max_body_bytes: int
    replay_window_seconds: int
    retention_days: int

    @classmethod
    def from_env(cls) -> Settings:
        return cls(os.environ.get("WEBHOOK_SECRETS_NAME"), int_env("MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES),
                   int_env("REPLAY_WINDOW_SECONDS", DEFAULT_REPLAY_WINDOW_SECONDS),
                   int_env("INBOX_RETENTION_DAYS", DEFAULT_RETENTION_DAYS))


def int_env(name: str, default: int) -> int:
    """A positive whole-number environment variable (``default`` when unset)."""
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(f"environment variable {name} must be a whole number, not {value[:40]!r}") from None
    if number <= 0:
        raise ConfigError(f"environment variable {name} must be positive, not {number}")
    return number


def load_webhook_config(settings: Settings | None = None) -> Mapping[str, Any]:
    """The webhook configuration (one JSON secret, cached by Powertools parameters)."""
    from aws_lambda_powertools.utilities import parameters

    from backout.credentials import SECRET_MAX_AGE_SECONDS

    name = (settings or Settings.from_env()).secrets_name
    if name is None:
        raise ConfigError("missing environment variable WEBHOOK_SECRETS_NAME")
    value = parameters.get_secret(name, transform="json", max_age=SECRET_MAX_AGE_SECONDS)
    if not isinstance(value, dict):
        raise ConfigError("the webhook secret must hold a JSON object")
    return value


# --------------------------------------------------------------------------
# start-up checks, one per provider entry


def _secret_list(provider: str, value: Any) -> list[str]:
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not values or not all(isinstance(v, str) and v for v in values):
        raise ConfigError(f"webhook setting {provider!r}: expected a non-empty list of secrets")
    return values


def whsec_key(secret: str) -> bytes:
    """The key of a Standard Webhooks secret: base64 after an optional ``whsec_`` (padding optional, as the
    reference library accepts); a ValueError when it is not base64 or empty."""
    body = secret.removeprefix(_WHSEC_PREFIX)
    try:
        key = base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not base64 after the whsec_ prefix") from exc
    if not key:
        raise ValueError("empty key after the whsec_ prefix")
    return key


def _check_standard(value: Any) -> None:
    for index, secret in enumerate(_secret_list("standard", value)):
        try:
            whsec_key(secret)
        except ValueError as exc:
            raise ConfigError(f"webhook setting 'standard' entry {index}: {exc}") from None


def _check_tiktok(value: Any) -> None:
    if not isinstance(value, list) or not value or not all(
        isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) and x for x in p) for p in value
    ):
        raise ConfigError("webhook setting 'tiktok': expected a list of [app_key, app_secret] pairs")


def _strings(value: Any, what: str) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(v, (str, int)) and str(v) for v in value):
        raise ConfigError(f"webhook setting {what!r}: expected a non-empty list")
    return [str(v) for v in value]


def check_trusted_roots(pem: Any, now: float) -> None:
    """``paypal.trusted_roots_pem``: PEM certificates, at least one a CA valid at ``now``."""
    from cryptography import x509

    from backout.ingress.verify.paypal_trust import load_certificates

    if not isinstance(pem, str) or "BEGIN CERTIFICATE" not in pem:
        raise ConfigError("webhook setting 'paypal.trusted_roots_pem': expected PEM certificates")
    try:
        certs = load_certificates(pem.encode())
    except ValueError:
        raise ConfigError("webhook setting 'paypal.trusted_roots_pem': a certificate does not parse") from None

    def usable(cert: x509.Certificate) -> bool:
        try:
            is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        except x509.ExtensionNotFound:
            return False
        return bool(is_ca) and cert.not_valid_before_utc.timestamp() <= now <= cert.not_valid_after_utc.timestamp()

    if not any(usable(cert) for cert in certs):
        raise ConfigError("webhook setting 'paypal.trusted_roots_pem': no CA certificate valid now")


def _check_paypal(value: Any, now: float) -> None:
    if not isinstance(value, dict):
        raise ConfigError("webhook setting 'paypal': expected a JSON object")
    _strings(value.get("webhook_ids"), "paypal.webhook_ids")
    roots = value.get("trusted_roots_pem")
    if roots is not None:
        check_trusted_roots(roots, now)
        return
    from backout.ingress.verify.paypal_trust import default_anchors_pem, load_certificates

    try:
        load_certificates(default_anchors_pem())
    except (ImportError, OSError, ValueError) as exc:  # certifi or the published chain missing from the layer
        raise ConfigError(f"paypal: PayPal's trust anchors cannot be loaded ({type(exc).__name__})") from exc


def _check_ozon(value: Any) -> None:
    if not isinstance(value, dict):
        raise ConfigError("webhook setting 'ozon': expected a JSON object")
    for seller in _strings(value.get("seller_ids"), "ozon.seller_ids"):
        if not seller.isdigit():
            raise ConfigError("webhook setting 'ozon.seller_ids': expected non-negative whole numbers")
    networks = value.get("allowed_networks")
    if networks is not None:
        for network in _strings(networks, "ozon.allowed_networks"):
            try:
                ipaddress.ip_network(network)
            except ValueError:
                raise ConfigError(f"webhook setting 'ozon.allowed_networks': {network[:60]!r} is not a network") \
                    from None


def check_config(config: Mapping[str, Any], providers: Collection[str], now: float | None = None) -> None:
    """Refuse a configuration whose entry for one of ``providers`` could not verify a real delivery.

    A provider with no entry is left alone (a function serves providers a
    seller may not use; their deliveries answer 500 until it is added).
    """
    if not isinstance(config, Mapping):
        raise ConfigError("the webhook secret must hold a JSON object")
    current = time.time() if now is None else now
    for provider in providers:
        value = config.get(provider)
        if value in (None, "", [], {}):
            continue
        if provider == "standard":
            _check_standard(value)
        elif provider in SECRET_LISTS:
            _secret_list(provider, value)
        elif provider == "tiktok":
            _check_tiktok(value)
        elif provider == "paypal":
            _check_paypal(value, current)
        elif provider == "ozon":
            _check_ozon(value)
