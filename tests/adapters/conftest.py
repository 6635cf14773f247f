"""Fixtures: each provider fake started fresh per test, and its adapter pointed at it (no AWS, no moto)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from backout.adapters.carrier import CarrierClient
from backout.adapters.ozon import OzonClient
from backout.adapters.paypal_gateway import PayPalGateway
from backout.adapters.shopify import ShopifyClient
from backout.adapters.tiktok import TikTokClient
from backout_dev.fakes import FakeCarrier, FakeOzon, FakePayPal, FakeShopify, FakeTikTok


@pytest.fixture()
def paypal_fake() -> Iterator[FakePayPal]:
    fake = FakePayPal("client-id", "client-secret")
    with fake:
        yield fake


@pytest.fixture()
def paypal(paypal_fake: FakePayPal) -> PayPalGateway:
    return PayPalGateway(paypal_fake.url, "client-id", "client-secret", timeout=5)


@pytest.fixture()
def shopify_fake() -> Iterator[FakeShopify]:
    fake = FakeShopify("shpat_test")
    with fake:
        yield fake


@pytest.fixture()
def shopify(shopify_fake: FakeShopify) -> ShopifyClient:
    return ShopifyClient(shopify_fake.url, "shpat_test", timeout=5)


@pytest.fixture()
def ozon_fake() -> Iterator[FakeOzon]:
    fake = FakeOzon("12345", "ozon-api-key")
    with fake:
        yield fake


@pytest.fixture()
def ozon(ozon_fake: FakeOzon) -> OzonClient:
    return OzonClient(ozon_fake.url, "12345", "ozon-api-key", timeout=5)


@pytest.fixture()
def tiktok_fake() -> Iterator[FakeTikTok]:
    fake = FakeTikTok("app-key", "app-secret", "tts-token", "ROW_cipher")
    with fake:
        yield fake


@pytest.fixture()
def tiktok(tiktok_fake: FakeTikTok) -> TikTokClient:
    return TikTokClient(tiktok_fake.url, "app-key", "app-secret", "tts-token", "ROW_cipher", timeout=5)


@pytest.fixture()
def carrier_fake() -> Iterator[FakeCarrier]:
    fake = FakeCarrier("carrier-key")
    with fake:
        yield fake


@pytest.fixture()
def carrier(carrier_fake: FakeCarrier) -> CarrierClient:
    return CarrierClient(carrier_fake.url, "carrier-key", timeout=5)
