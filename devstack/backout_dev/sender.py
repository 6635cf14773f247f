"""Sign sample webhooks with the local secrets and post them (the providers' side).

Besides the HMAC secrets, the local secrets (``generate_local_secrets()`` in
``stack.py``) carry what the other providers need locally:

* ``webhooks.tiktok``: ``[[app_key, app_secret], ...]``;
* ``webhooks.paypal``: ``{"webhook_ids": [...], "trusted_roots_pem": <fake root only>}``, plus the
  top-level ``paypal_local``: ``{"cert_url", "cert_pem", "key_pem"}``, the fake chain (leaf, then
  certificate, "served" at an ``https://api.paypal.com/...`` URL by :func:`paypal_cert_fetcher`
  (which the local HTTP API installs as the receiver's certificate fetcher);
* ``webhooks.ozon``: ``{"seller_ids": [...]}``. Ozon signs nothing; its pushes are authentic by
  source address, so :func:`sign` adds the dev-only header ``x-backout-local-source-ip``
  that only the local HTTP API honours (see ``http_api.py``).
"""

from __future__ import annotations

import json
import secrets as _random
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any, Callable

from backout_dev import signing

PLACEHOLDER = "RESIGNED-BY-BACKOUT-SEND"
#: Dev-only header: the source address the local HTTP API reports to the receiver.
LOCAL_SOURCE_IP_HEADER = "x-backout-local-source-ip"
#: An address inside Ozon's documented push networks (195.34.21.0/24).
OZON_LOCAL_SOURCE_IP = "195.34.21.10"
#: The seller id of the Ozon samples in events/ozon/.
OZON_SAMPLE_SELLER_ID = 2114591
#: Where the local fake PayPal certificate is "served".
PAYPAL_LOCAL_CERT_URL = "https://api.paypal.com/v1/notifications/certs/CERT-backout-local-fake-ca"


def generate_provider_secrets(now: float | None = None) -> dict[str, Any]:
    """Fresh local secrets for TikTok, PayPal (a throw-away fake CA) and Ozon.

    Returns ``{"webhooks": {"tiktok", "paypal", "ozon"}, "paypal_local": {...}}``, to be merged
    into ``generate_local_secrets()``. Needs ``cryptography`` (a dev dependency).
    """
    now = time.time() if now is None else now
    root_pem, leaf_pem, key_pem = signing.make_fake_paypal_ca(now)
    return {
        "webhooks": {
            "tiktok": [["local_app_" + _random.token_hex(6), _random.token_urlsafe(24)]],
            "paypal": {"webhook_ids": ["WH-LOCAL-" + _random.token_hex(8).upper()],
                       "trusted_roots_pem": root_pem.decode()},
            "ozon": {"seller_ids": [OZON_SAMPLE_SELLER_ID]},
        },
        "paypal_local": {"cert_url": PAYPAL_LOCAL_CERT_URL, "cert_pem": leaf_pem.decode(),
                         "key_pem": key_pem.decode()},
    }


def paypal_cert_fetcher(secrets: dict[str, Any]) -> Callable[[str], bytes]:
    """A stand-in for PayPal's certificate host: serves the local leaf certificate at its URL only."""
    local = secrets["paypal_local"]
    url, pem = str(local["cert_url"]), str(local["cert_pem"]).encode()

    def fetch(requested: str) -> bytes:
        if requested != url:
            raise LookupError(f"404 from the local PayPal certificate host: {requested}")
        return pem

    return fetch


def load_sample(path: Path) -> dict[str, Any]:
    """A sample API Gateway v2 event from events/."""
    return dict(json.loads(path.read_text()))


def provider_of(event: dict[str, Any]) -> str:
    """The provider named by the sample's route (/webhooks/<provider>)."""
    return str(event["rawPath"]).rstrip("/").rsplit("/", 1)[-1]


def _local(secrets: dict[str, Any], provider: str) -> Any:
    value = secrets.get("webhooks", {}).get(provider)
    if not value:
        raise ValueError(f"the local secrets have no {provider} entry (restart `backout serve` to regenerate them)")
    return value


def sign(provider: str, raw: bytes, headers: dict[str, str], secrets: dict[str, Any],
         now: float | None = None, source_ip: str | None = None) -> dict[str, str]:
    """Headers with fresh, valid signatures for the local stack's secrets.

    Timestamps (Stripe, Standard Webhooks, PayPal) are ``now``. For Ozon, which
    signs nothing, the dev-only source-address header is set to ``source_ip``
    (default: an address inside Ozon's networks).
    """
    now = time.time() if now is None else now
    out = {k: v for k, v in headers.items() if v != PLACEHOLDER}
    if provider == "woocommerce":
        out.update(signing.sign_woocommerce(raw, _local(secrets, provider)[0]))
    elif provider == "shopify":
        out.update(signing.sign_shopify(raw, _local(secrets, provider)[0]))
    elif provider == "stripe":
        out.update(signing.sign_stripe(raw, _local(secrets, provider)[0], int(now)))
    elif provider == "aftership":
        out.update(signing.sign_aftership(raw, _local(secrets, provider)[0]))
    elif provider == "easypost":
        out.update(signing.sign_easypost(raw, _local(secrets, provider)[0]))
    elif provider == "standard":
        out.update(signing.sign_standard_webhooks(raw, _local(secrets, provider)[0],
                                                  headers.get("webhook-id") or f"msg_{uuid.uuid4().hex}", int(now)))
    elif provider == "tiktok":
        app_key, app_secret = _local(secrets, provider)[0]
        out.update(signing.sign_tiktok(raw, app_key, app_secret))
    elif provider == "paypal":
        webhook_id = _local(secrets, provider)["webhook_ids"][0]
        local = secrets.get("paypal_local")
        if not local:
            raise ValueError("the local secrets have no paypal_local entry (the fake PayPal CA)")
        transmission_id = headers.get("paypal-transmission-id") or str(uuid.uuid4())
        out.update(signing.sign_paypal(raw, webhook_id, str(local["key_pem"]).encode(), str(local["cert_url"]),
                                       transmission_id, signing.paypal_transmission_time(now)))
    elif provider == "ozon":
        out[LOCAL_SOURCE_IP_HEADER] = source_ip or OZON_LOCAL_SOURCE_IP
    else:
        raise ValueError(f"the local stack cannot sign {provider} deliveries")
    return out


def post(url: str, raw: bytes, headers: dict[str, str], timeout: float = 10.0) -> tuple[int, dict[str, Any]]:
    """POST and return (status, decoded JSON body)."""
    # the sample's transport headers describe another request; urllib sets its own
    headers = {k: v for k, v in headers.items() if k.lower() not in ("content-length", "host", "connection")}
    req = urllib.request.Request(url, data=raw, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - loopback only
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        body = exc.read()
        try:
            return exc.code, json.loads(body or b"{}")
        except ValueError:
            return exc.code, {"raw": body.decode("utf-8", "replace")}


def send_event(base_url: str, event: dict[str, Any], secrets: dict[str, Any], body: Any = None) -> tuple[int, dict[str, Any]]:
    """Re-sign a sample (optionally with a replaced JSON body) and post it to the local API."""
    provider = provider_of(event)
    raw = (json.dumps(body, separators=(",", ":")) if body is not None else event["body"]).encode()
    source_ip = ((event.get("requestContext") or {}).get("http") or {}).get("sourceIp")
    headers = sign(provider, raw, dict(event.get("headers") or {}), secrets, source_ip=source_ip)
    headers["content-type"] = headers.get("content-type", "application/json")
    return post(base_url + event["rawPath"], raw, headers)
