"""Sign sample webhooks with the local secrets and post them (the providers' side)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from backout.ingress import signing

PLACEHOLDER = "RESIGNED-BY-BACKOUT-SEND"


def load_sample(path: Path) -> dict[str, Any]:
    """A sample API Gateway v2 event from events/."""
    return dict(json.loads(path.read_text()))


def provider_of(event: dict[str, Any]) -> str:
    """The provider named by the sample's route (/webhooks/<provider>)."""
    return str(event["rawPath"]).rstrip("/").rsplit("/", 1)[-1]


def sign(provider: str, raw: bytes, headers: dict[str, str], secrets: dict[str, Any],
         now: float | None = None) -> dict[str, str]:
    """Headers with fresh, valid signatures for the local stack's secrets."""
    now = time.time() if now is None else now
    secret = secrets["webhooks"].get(provider, [None])[0]
    out = {k: v for k, v in headers.items() if v != PLACEHOLDER}
    if provider == "woocommerce":
        out.update(signing.sign_woocommerce(raw, secret))
    elif provider == "shopify":
        out.update(signing.sign_shopify(raw, secret))
    elif provider == "stripe":
        out.update(signing.sign_stripe(raw, secret, int(now)))
    elif provider == "aftership":
        out.update(signing.sign_aftership(raw, secret))
    elif provider == "easypost":
        out.update(signing.sign_easypost(raw, secret))
    elif provider == "standard":
        out.update(signing.sign_standard_webhooks(raw, secret, headers.get("webhook-id") or f"msg_{uuid.uuid4().hex}", int(now)))
    else:
        raise ValueError(f"the local stack cannot sign {provider} deliveries yet")
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
    headers = sign(provider, raw, dict(event.get("headers") or {}), secrets)
    headers["content-type"] = headers.get("content-type", "application/json")
    return post(base_url + event["rawPath"], raw, headers)
