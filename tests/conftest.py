"""Shared fixtures: one local environment per test session (moto + localstripe + fake store)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import pytest

_order_numbers = itertools.count(50_000)


@pytest.fixture(scope="session")
def local_env() -> Iterator[Any]:
    """The whole local stack with a zero cooling-off window (tests drive waits through inputs)."""
    from backout_dev.env import LocalEnvironment

    with LocalEnvironment(parameters={"CoolingOffSeconds": "0"}, secrets_file=None) as env:
        import stripe

        stripe.api_base = env.stripe.url
        stripe.api_key = env.secrets["credentials"]["stripe_api_key"]
        yield env


@pytest.fixture()
def shop(local_env: Any) -> "Shop":
    """A helper that places WooCommerce/Stripe orders and sends their webhooks."""
    return Shop(local_env)


class Shop:
    """Places orders on the fake store + localstripe and sends signed webhooks."""

    def __init__(self, env: Any) -> None:
        from backout_dev.demo import EVENTS
        from backout_dev.sender import load_sample

        self.env = env
        self.created = load_sample(EVENTS / "order.created.json")
        self.cancel = load_sample(EVENTS / "order.cancel-request.json")
        self.template = json.loads(self.created["body"])

    def place(self, lines: list[dict[str, Any]], currency: str = "USD", capture: bool = True) -> dict[str, Any]:
        """Create the PaymentIntent, the store order and send order.created."""
        from backout.money import to_minor
        from backout_dev.demo import _payment_intent

        no = next(_order_numbers)
        total_minor = sum(to_minor(line["total"], currency) for line in lines)
        total = f"{total_minor / 100:.2f}"  # test currencies here have exponent 2
        pi = _payment_intent(total_minor, currency, capture, no)
        self.env.woo.orders[str(no)] = {"id": no, "status": "processing"}
        order = {"no": no, "order_id": f"woocommerce:{no}", "pi": pi, "currency": currency, "total": total,
                 "total_minor": total_minor, "lines": lines}
        status, _ = self.send(self.created, self.body(order, "processing", offset=-60))
        assert status == 200
        return order

    def body(self, order: dict[str, Any], status: str, offset: int = 0) -> dict[str, Any]:
        """The order's webhook body in a given status."""
        from backout_dev.demo import order_body

        when = datetime.fromtimestamp(datetime.now(timezone.utc).timestamp() + offset, tz=timezone.utc)
        return order_body(self.template, order["no"], status, order["currency"], order["total"], order["pi"],
                          order["lines"], when.strftime("%Y-%m-%dT%H:%M:%S"))

    def send(self, sample: dict[str, Any], body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Sign and post one delivery."""
        from backout_dev.sender import send_event

        return send_event(self.env.url, sample, self.env.secrets, body)


def line(line_id: int, sku: str, qty: int, total: str, custom: bool = False) -> dict[str, Any]:
    """A WooCommerce line item."""
    from backout_dev.demo import _line

    return _line(line_id, sku, qty, total, custom)


# ---------------------------------------------------------------- helpers for any gateway and currency
def place_order(shop: Shop, lines: list[dict[str, Any]], currency: str = "USD", gateway: str = "stripe",
                capture: bool = True) -> dict[str, Any]:
    """Like ``Shop.place``, in any currency (totals in its own decimals), paid by Stripe or PayPal.

    PayPal: the fake PayPal takes the money (a capture, or an authorization when
    ``capture`` is False) and the WooCommerce order carries PayPal's bare id as
    ``transaction_id``, as the WooCommerce PayPal Payments plugin stores it.
    """
    from backout.money import to_decimal_string, to_minor
    from backout_dev.demo import _payment_intent

    no = next(_order_numbers)
    total_minor = sum(to_minor(item["total"], currency) for item in lines)
    total = to_decimal_string(total_minor, currency)
    if gateway == "paypal":
        paypal = shop.env.paypal
        ref = paypal.charge(total, currency) if capture else paypal.authorize(total, currency)
    else:
        ref = _payment_intent(total_minor, currency, capture, no)
    shop.env.woo.orders[str(no)] = {"id": no, "status": "processing"}
    order = {"no": no, "order_id": f"woocommerce:{no}", "pi": ref, "currency": currency, "total": total,
             "total_minor": total_minor, "lines": lines, "gateway": gateway}
    status, _ = shop.send(shop.created, order_body_for(shop, order, "processing", offset=-60))
    assert status == 200
    return order


def order_body_for(shop: Shop, order: dict[str, Any], status: str, offset: int = 0) -> dict[str, Any]:
    """``Shop.body`` for an order of ``place_order`` (PayPal: ``ppcp-gateway``, no Stripe intent meta)."""
    body = shop.body(order, status, offset)
    if order.get("gateway") == "paypal":
        body.update(payment_method="ppcp-gateway", payment_method_title="PayPal")
        body["meta_data"] = [m for m in body["meta_data"] if m.get("key") != "_stripe_intent_id"]
    return body


def send_gateway_event(env: Any, sample: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Sign and post a gateway webhook, the sample ``events/<sample>`` with its body replaced."""
    from backout_dev.sender import load_sample, send_event
    from backout_dev.template import ROOT

    return send_event(env.url, load_sample(ROOT / "events" / sample), env.secrets, body)
