"""Orders for the saga benchmarks: WooCommerce orders paid through localstripe, driven by signed webhooks."""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from backout_dev.demo import EVENTS, _line, _payment_intent, order_body
from backout_dev.sender import load_sample, send_event

_numbers = itertools.count(int(time.time()) % 100_000 * 100 + 70_000_000)


@dataclass
class Order:
    """One placed order."""

    no: int
    pi: str
    sku: str
    tracking: str = ""

    @property
    def order_id(self) -> str:
        return f"woocommerce:{self.no}"


class Shop:
    """Places orders on the fake store and localstripe, and sends their WooCommerce webhooks."""

    def __init__(self, env: Any) -> None:
        self.env = env
        self.created = load_sample(EVENTS / "order.created.json")
        self.cancel_sample = load_sample(EVENTS / "order.cancel-request.json")
        self.template = json.loads(self.created["body"])

    def new(self, capture: bool = True, sku: str = "BENCH-SKU") -> Order:
        """A paid (or only authorized) order, not yet announced to Backout."""
        no = next(_numbers)
        order = Order(no, _payment_intent(1000, "USD", capture, no), sku)
        self.env.woo.orders[str(no)] = {"id": no, "status": "processing"}
        return order

    def body(self, order: Order, status: str, offset: float = 0.0) -> dict[str, Any]:
        """The order's WooCommerce body in ``status``, modified ``offset`` seconds from now."""
        when = datetime.fromtimestamp(time.time() + offset, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
        return order_body(self.template, order.no, status, "USD", "10.00", order.pi,
                          [_line(1, order.sku, 1, "10.00")], when)

    def send(self, order: Order, status: str, offset: float = 0.0, sample: dict[str, Any] | None = None,
             body: dict[str, Any] | None = None) -> int:
        """Post the order's webhook; returns the HTTP status."""
        sample = sample or (self.cancel_sample if status == "cancel-request" else self.created)
        code, _ = send_event(self.env.url, sample, self.env.secrets, body or self.body(order, status, offset))
        return code

    def place(self, order: Order) -> None:
        """order.created (processing), a minute in the past."""
        assert self.send(order, "processing", offset=-60) == 200

    def cancel(self, order: Order) -> None:
        """The customer's cancel request."""
        assert self.send(order, "cancel-request") == 200
