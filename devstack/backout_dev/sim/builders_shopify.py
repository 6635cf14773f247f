"""Shopify (Shopify Payments): the platform holds the money and cancels with refund.

Shopify's orders all arrive as ``Gateway.PLATFORM`` (the normaliser has no other
gateway for them), so this pair is Shopify + platform; a Shopify order paid
through the seller's own Stripe account is not something Backout can be told.

The order is seeded at the fake Shopify (paid, or only authorized) and arrives
by ``orders/create``. Shopify has no buyer cancel-request webhook: the seller's
storefront asks Backout through Standard Webhooks (``order.cancel_requested``,
and ``order.cancel_withdrawn`` when the buyer takes it back). Backout then
calls ``orderCancel`` (refund, no restock); Shopify answers with
``orders/cancelled`` and ``refunds/create`` (the reactions), which end the
saga's wait for the platform's decision.

A shipped order (``orders/updated`` fulfilled, and a ``fulfillment_events/create``
naming the tracking number) is cancelled through the carrier instead: an
intercept, or a return, with the fake carrier's AfterShip scans as reactions.
"""

from __future__ import annotations

import random
import time
import uuid
from typing import Any

from backout_dev.sim.builders import Parcel, event_sample, iso_utc, late_withdrawal
from backout_dev.sim.delivery import Delivery, forgeries
from backout_dev.sim.scenarios import Scenario, register


def gid(sc: Scenario) -> str:
    """The order's Shopify GID (what ``orderCancel`` is called with)."""
    return f"gid://shopify/Order/{sc.no}"


class ShopifyPlatform:
    """Shopify orders, money held by Shopify Payments, cancel requests from the storefront."""

    platform = "shopify"
    gateway = "platform"
    features = frozenset({"authorized", "shipped", "intercept", "custom", "cancel_first", "forged", "withdrawal"})
    currencies: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.samples = {name: event_sample(name) for name in (
            "shopify/orders-cancelled", "shopify/refunds-create", "shopify/fulfillment_events-create",
            "standard/order.cancel_requested")}
        self.base = time.time()
        self.parcel = Parcel(self.base)
        self.rng = random.Random(0)

    def available(self, env: Any) -> bool:
        """When the local environment runs the fake Shopify."""
        return getattr(env, "shopify", None) is not None

    def prepare(self, sc: Scenario, env: Any) -> None:
        """The order at the fake Shopify (paid, or only authorized), and its parcel at the carrier."""
        env.shopify.add_order(sc.no, financial_status="PAID" if sc.captured else "AUTHORIZED")
        if sc.shipped:
            self.parcel.prepare(sc, env)

    def lose_answer(self, sc: Scenario, env: Any) -> bool:
        """Shopify cancels, its answer is lost: the retry must read the order, not cancel twice."""
        if not sc.cancel:
            return False
        env.shopify.drop_next_response(method="POST", body_contains=f'"orderId": "{gid(sc)}"')
        return True

    # ------------------------------------------------------------ webhooks
    def _shopify(self, sc: Scenario, topic: str, body: dict[str, Any], phase: int, tag: str) -> Delivery:
        sample = self.samples[{"refunds/create": "shopify/refunds-create",
                               "fulfillment_events/create": "shopify/fulfillment_events-create"}.get(
            topic, "shopify/orders-cancelled")]
        event_id = f"sim-{sc.no}-{tag}"
        headers = {"x-shopify-topic": topic, "x-shopify-event-id": event_id,
                   "x-shopify-webhook-id": str(uuid.uuid5(uuid.NAMESPACE_URL, event_id)),
                   "x-shopify-triggered-at": iso_utc(self.base) + "Z"}
        return Delivery("shopify", sample, body, phase, sc.index, topic, key=f"shopify:{event_id}", headers=headers)

    def _order(self, sc: Scenario, offset: float, cancelled: bool = False, fulfilled: bool = False) -> dict[str, Any]:
        from backout.money import to_decimal_string

        def money(minor: int) -> str:
            return to_decimal_string(minor, sc.currency)

        status = ("refunded" if sc.captured else "voided") if cancelled else ("paid" if sc.captured else "authorized")
        lines = [{"id": line.line_id, "sku": line.sku, "quantity": line.qty, "price": money(line.minor // line.qty),
                  "properties": [{"name": "_backout_custom", "value": "yes"}] if line.custom else []}
                 for line in sc.lines]
        return {"id": sc.no, "admin_graphql_api_id": gid(sc), "name": f"#{sc.no}", "currency": sc.currency,
                "total_price": money(sc.total), "financial_status": status,
                "fulfillment_status": "fulfilled" if fulfilled else None,
                "created_at": iso_utc(self.base - 900) + "Z", "updated_at": iso_utc(self.base + offset) + "Z",
                "cancelled_at": iso_utc(self.base + offset) + "Z" if cancelled else None, "line_items": lines}

    def _standard(self, sc: Scenario, kind: str, phase: int, label: str) -> Delivery:
        sample = self.samples["standard/order.cancel_requested"]
        data = {"order_id": sc.order_id, "request_id": f"sim-{sc.no}"}
        if kind == "order.cancel_requested":
            data.update(initiator="buyer", reason="Changed my mind")
        body = {"type": kind, "timestamp": iso_utc(self.base - 60) + "Z", "data": data}
        webhook_id = f"msg_sim_{sc.no}_{label.replace(' ', '_')}"
        return Delivery("standard", sample, body, phase, sc.index, label, key=f"standard:{webhook_id}",
                        headers={"webhook-id": webhook_id})

    def _withdrawal(self, sc: Scenario, phase: int) -> Delivery:
        withdrawn = self._standard(sc, "order.cancel_withdrawn", phase, "cancel_withdrawn")
        withdrawn.role = "withdraw"
        return withdrawn

    def deliveries(self, sc: Scenario, env: Any) -> list[Delivery]:
        """orders/create; the storefront's cancel request and withdrawal; a forged request."""
        out = [self._shopify(sc, "orders/create", self._order(sc, -900), 0, "create")]
        if sc.shipped:
            out.append(self._shopify(sc, "orders/updated", self._order(sc, -600, fulfilled=True), 1, "fulfilled"))
            event = {"id": sc.no * 10 + 2, "order_id": sc.no, "status": "in_transit", "tracking_number": sc.tracking,
                     "happened_at": iso_utc(self.base - 590) + "Z"}
            out.append(self._shopify(sc, "fulfillment_events/create", event, 1, "in_transit"))
        if sc.cancel:
            cancel = self._standard(sc, "order.cancel_requested", 0 if sc.cancel_first else 2, "cancel_requested")
            cancel.role = "cancel"
            out.append(cancel)
            if sc.withdrawal and sc.withdrawal_at != "late":
                out.append(self._withdrawal(sc, cancel.phase + (sc.withdrawal_at == "early")))
        if sc.forged_cancel:
            forged = self._standard(sc, "order.cancel_requested", 2, "forged cancel_requested")
            forged.forgery = self.rng.choice(forgeries("standard"))
            out.append(forged)
        return out

    def noise(self, sc: Scenario, rng: random.Random) -> Delivery:
        """An orders/updated that changes nothing (the order as created, stamped before it shipped)."""
        offset = rng.randint(-880, -620)
        return self._shopify(sc, "orders/updated", self._order(sc, offset), rng.randint(0, 2), f"updated{offset}")

    def reactions(self, sc: Scenario, env: Any) -> list[Delivery]:
        """A late withdrawal; the carrier's scans; once Backout's orderCancel went through, Shopify's
        orders/cancelled (and refunds/create when paid)."""
        from backout.repo.orders import OrdersRepository

        out = late_withdrawal(sc, lambda: self._withdrawal(sc, 0))
        if sc.intercept:
            repo = OrdersRepository()
            steps = {s["step"] for s in repo.timeline(sc.order_id)}
            out += self.parcel.reactions(sc, repo.get_order(sc.order_id) or {}, steps)
        if "cancel_reported" in sc.extra or not cancelled_at_shopify(env, sc):
            return out
        sc.extra["cancel_reported"] = True
        out.append(self._shopify(sc, "orders/cancelled", self._order(sc, 0, cancelled=True), 0, "cancelled"))
        if sc.captured:
            out.append(self._shopify(sc, "refunds/create", self._refund(sc), 0, "refund"))
        return out

    def _refund(self, sc: Scenario) -> dict[str, Any]:
        from backout.money import to_decimal_string

        tx = {"id": sc.no * 10 + 1, "order_id": sc.no, "kind": "refund", "gateway": "shopify_payments",
              "status": "success", "message": None, "amount": to_decimal_string(sc.total, sc.currency),
              "currency": sc.currency, "processed_at": iso_utc(self.base) + "Z"}
        return {"id": sc.no * 10, "order_id": sc.no, "processed_at": iso_utc(self.base) + "Z", "restock": False,
                "refund_line_items": [], "transactions": [tx]}


def cancel_effects(env: Any, sc: Scenario) -> list[dict[str, Any]]:
    """The fake Shopify's ``orderCancel`` effects for the order."""
    return [e for e in env.shopify.effects("cancel") if e["order_id"] == gid(sc)]


def cancelled_at_shopify(env: Any, sc: Scenario) -> bool:
    """True once the order is cancelled at Shopify (its cancel job finished)."""
    with env.shopify.lock:
        return bool((env.shopify.orders.get(gid(sc)) or {}).get("cancelledAt"))


register(ShopifyPlatform())
