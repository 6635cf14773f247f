"""Everything `backout demo` and `backout serve` run: the stack, localstripe,
the fake WooCommerce store and the local HTTP API, started and stopped together."""

from __future__ import annotations

from pathlib import Path

from backout_dev.http_api import LocalHttpApi
from backout_dev.processes import FakeWooCommerce, LocalStripe
from backout_dev.stack import LocalStack, generate_local_secrets
from backout_dev.template import ROOT

SECRETS_FILE = ROOT / ".backout" / "local-secrets.json"
ENDPOINT_FILE = ROOT / ".backout" / "endpoint"


class LocalEnvironment:
    """The local stack with its providers; use as a context manager."""

    def __init__(self, parameters: dict[str, str] | None = None, port: int = 0,
                 secrets_file: Path | None = SECRETS_FILE, log_level: str = "WARNING") -> None:
        self.secrets = generate_local_secrets()
        self.stripe = LocalStripe()
        creds = self.secrets["credentials"]
        self.woo = FakeWooCommerce(creds["woocommerce_key"], creds["woocommerce_secret"])
        from backout_dev.fakes.carrier import FakeCarrier

        self.carrier = FakeCarrier(creds["carrier_api_key"])
        from backout_dev.fakes import FakeOzon, FakeShopify, FakeTikTok

        self.ozon = FakeOzon(creds["ozon_client_id"], creds["ozon_api_key"])
        self.tiktok = FakeTikTok(creds["tiktok_app_key"], creds["tiktok_app_secret"], creds["tiktok_access_token"],
                                 creds["tiktok_shop_cipher"])
        self.shopify = FakeShopify(creds["shopify_access_token"])
        from backout_dev.fakes.paypal import FakePayPal
        from backout_dev.fakes.stripe_disputes import FakeStripeDisputes

        self.paypal = FakePayPal(creds["paypal_client_id"], creds["paypal_client_secret"])
        self.stripe_disputes = FakeStripeDisputes(creds["stripe_api_key"])  # localstripe has no disputes
        self.parameters = parameters or {}
        self.port = port
        self.log_level = log_level
        self.secrets_file = secrets_file
        self.stack: LocalStack | None = None
        self.api: LocalHttpApi | None = None

    def __enter__(self) -> "LocalEnvironment":
        self.stripe.start()
        self.woo.start()
        self.carrier.start()
        for fake in (self.ozon, self.tiktok, self.shopify, self.paypal, self.stripe_disputes):
            fake.start()
        self.stack = LocalStack(parameters={"WooCommerceBaseUrl": self.woo.url, "CarrierApiBaseUrl": self.carrier.url,
                                            "OzonApiBaseUrl": self.ozon.url, "TikTokApiBaseUrl": self.tiktok.url,
                                            "ShopifyApiBaseUrl": self.shopify.url, "PayPalApiBaseUrl": self.paypal.url,
                                            **self.parameters},
                                env={"STRIPE_API_BASE": self.stripe.url, "STRIPE_DISPUTES_API_BASE": self.stripe_disputes.url,
                                     "POWERTOOLS_LOG_LEVEL": self.log_level}, local_secrets=self.secrets)
        self.stack.start()
        self.api = LocalHttpApi(self.stack, port=self.port).start()
        if self.secrets_file is not None:
            self.stack.dump_secrets(self.secrets_file)
            ENDPOINT_FILE.write_text(self.api.url)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.api:
            self.api.stop()
        if self.stack:
            self.stack.stop()
        self.woo.stop()
        self.carrier.stop()
        for fake in (self.ozon, self.tiktok, self.shopify, self.paypal, self.stripe_disputes):
            fake.stop()
        self.stripe.stop()

    @property
    def url(self) -> str:
        """Base URL of the local HTTP API."""
        assert self.api is not None
        return self.api.url
