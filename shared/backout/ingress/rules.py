"""How each provider's deliveries are authenticated: the configuration each reads, the verifier each calls.

``before`` runs on the raw bytes (signatures; Ozon's source address),
``after`` on the parsed body (Ozon's seller id). Everything a check needs
besides the delivery and the configuration comes in a :class:`Context`
(the time, the settings, PayPal's certificate fetcher and cache), so a
receiver is given its collaborators rather than having them patched.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from backout.ingress import verify
from backout.ingress.config import ConfigError, Settings
from backout.ingress.delivery import Delivery, Rejected, Unavailable
from backout.ingress.keys import OZON_POLLED_TYPE
from backout.ingress.paypal_certs import CertCache, CertUnavailable

__all__ = ["PROVIDERS", "Context", "ProviderRules"]


class Context(NamedTuple):
    """What the checks of one delivery are given."""

    now: float
    settings: Settings
    fetch_cert: Callable[[str], bytes]
    cert_cache: CertCache


def _entry(config: Mapping[str, Any], provider: str) -> Any:
    value = config.get(provider)
    if value in (None, "", [], {}):
        raise ConfigError(f"no webhook configuration for {provider}")
    return value


def _secret_list(config: Mapping[str, Any], provider: str) -> list[str]:
    """A provider's active secrets (a single string is one secret)."""
    value = _entry(config, provider)
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not all(isinstance(v, str) and v for v in values):
        raise ConfigError(f"{provider}: expected a list of secrets")
    return values


def _settings(config: Mapping[str, Any], provider: str) -> Mapping[str, Any]:
    value = _entry(config, provider)
    if not isinstance(value, dict):
        raise ConfigError(f"{provider}: expected a JSON object")
    return value


def _strings(value: Any, what: str) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(v, (str, int)) and str(v) for v in value):
        raise ConfigError(f"{what}: expected a non-empty list")
    return [str(v) for v in value]


Check = Callable[[Delivery, Mapping[str, Any], Context], None]
BodyCheck = Callable[[Delivery, Any, Mapping[str, Any]], None]


def _hmac(fn: Callable[[bytes, Mapping[str, str], list[str]], Any]) -> Check:
    def check(d: Delivery, config: Mapping[str, Any], ctx: Context) -> None:
        fn(d.raw, d.headers, _secret_list(config, d.provider))

    return check


def _stripe(d: Delivery, config: Mapping[str, Any], ctx: Context) -> None:
    verify.verify_stripe(d.raw, d.headers, _secret_list(config, "stripe"), now=ctx.now,
                         tolerance=ctx.settings.replay_window_seconds)


def _standard(d: Delivery, config: Mapping[str, Any], ctx: Context) -> None:
    verify.verify_standard_webhooks(d.raw, d.headers, _secret_list(config, "standard"), now=ctx.now,
                                    tolerance=ctx.settings.replay_window_seconds)


def _tiktok(d: Delivery, config: Mapping[str, Any], ctx: Context) -> None:
    pairs = _entry(config, "tiktok")
    if not isinstance(pairs, list) or not all(
        isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) and x for x in p) for p in pairs
    ):
        raise ConfigError("tiktok: expected a list of [app_key, app_secret] pairs")
    verify.verify_tiktok(d.raw, d.headers, [(key, secret) for key, secret in pairs])

def _paypal(d: Delivery, config: Mapping[str, Any], ctx: Context) -> None:
    paypal = _settings(config, "paypal")
    ids = _strings(paypal.get("webhook_ids"), "paypal.webhook_ids")
    roots = paypal.get("trusted_roots_pem")  # checked by check_config before any delivery reads it
    try:
        verify.verify_paypal(d.raw, d.headers, ids, now=ctx.now, tolerance=ctx.settings.replay_window_seconds,
                             fetch_cert=ctx.fetch_cert, cert_cache=ctx.cert_cache,
                             trusted_roots_pem=roots.encode() if roots else None)
    except verify.SignatureError as exc:
        if isinstance(exc.__cause__, CertUnavailable):
            raise Unavailable(f"PayPal certificate host: {exc.__cause__}") from exc
        raise
    finally:
        ctx.cert_cache.trim()


def _ozon_settings(config: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    settings = _settings(config, "ozon")
    sellers = _strings(settings.get("seller_ids"), "ozon.seller_ids")
    networks = settings.get("allowed_networks")
    return sellers, (_strings(networks, "ozon.allowed_networks") if networks is not None
                     else list(verify.OZON_NETWORKS))


def _ozon_source(d: Delivery, config: Mapping[str, Any], ctx: Context) -> None:
    verify.verify_ozon_source(d.source_ip, _ozon_settings(config)[1])


def _ozon_seller(d: Delivery, body: Any, config: Mapping[str, Any]) -> None:
    if not isinstance(body, dict):
        raise Rejected(400, "ozon: body must be a JSON object")
    if not isinstance(body.get("message_type"), str) or not body["message_type"]:
        raise Rejected(400, "ozon: message_type missing")
    if body["message_type"] == OZON_POLLED_TYPE:
        # Ozon never pushes cancellation requests; Backout polls them and writes them to the inbox itself
        raise Rejected(400, f"ozon: {OZON_POLLED_TYPE} is not an Ozon push type")
    sellers, networks = _ozon_settings(config)
    verify.verify_ozon(d.source_ip, body, allowed_networks=networks, seller_ids=sellers)



class ProviderRules(NamedTuple):
    """How one provider's deliveries are authenticated."""

    before: Check
    after: BodyCheck | None = None


PROVIDERS: dict[str, ProviderRules] = {
    "woocommerce": ProviderRules(_hmac(verify.verify_woocommerce)),
    "shopify": ProviderRules(_hmac(verify.verify_shopify)),
    "ozon": ProviderRules(_ozon_source, _ozon_seller),
    "tiktok": ProviderRules(_tiktok),
    "standard": ProviderRules(_standard),
    "stripe": ProviderRules(_stripe),
    "paypal": ProviderRules(_paypal),
    "aftership": ProviderRules(_hmac(verify.verify_aftership)),
    "easypost": ProviderRules(_hmac(verify.verify_easypost)),
}
"""Every provider with a route ``POST /webhooks/<provider>``."""
