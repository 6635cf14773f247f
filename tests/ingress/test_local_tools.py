"""The local tools' side of ingress: `backout send` signs every provider; the dev-only source header."""

from __future__ import annotations

from typing import Any

import pytest

from backout_dev.http_api import local_source_ip
from backout_dev.sender import LOCAL_SOURCE_IP_HEADER, PLACEHOLDER, sign
from tests.ingress import kit


@pytest.fixture(scope="module")
def secrets() -> dict[str, Any]:
    return kit.fresh_secrets()


@pytest.mark.parametrize("provider", kit.PROVIDERS)
def test_sign_covers_every_provider_and_replaces_the_placeholder(provider: str, secrets: dict[str, Any]) -> None:
    sample = kit.load_sample(kit.EVENTS / f"{kit.SAMPLE[provider][0]}.json")
    headers = sign(provider, sample["body"].encode(), dict(sample["headers"]), secrets)
    assert PLACEHOLDER not in headers.values()
    assert headers[kit.AUTH_HEADER[provider]]


def test_sign_explains_missing_local_secrets() -> None:
    with pytest.raises(ValueError, match="no tiktok entry"):
        sign("tiktok", b"{}", {}, {"webhooks": {}})


def test_local_source_header_is_honoured_from_loopback_only_and_removed() -> None:
    headers = {LOCAL_SOURCE_IP_HEADER: "195.34.21.10", "x": "1"}
    assert local_source_ip("127.0.0.1", headers) == "195.34.21.10"
    assert headers == {"x": "1"}
    assert local_source_ip("::1", {LOCAL_SOURCE_IP_HEADER: "91.223.93.5"}) == "91.223.93.5"
    assert local_source_ip("203.0.113.5", {LOCAL_SOURCE_IP_HEADER: "195.34.21.10"}) == "203.0.113.5"
    assert local_source_ip("127.0.0.1", {}) == "127.0.0.1"
    with pytest.raises(ValueError):
        local_source_ip("127.0.0.1", {LOCAL_SOURCE_IP_HEADER: "not an address"})
