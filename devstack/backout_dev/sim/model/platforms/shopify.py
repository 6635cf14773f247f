"""Shopify (Shopify Payments holds the money): orders/create, the storefront's request, orders/cancelled,
refunds/create, fulfillments and their events; the fake's orders and ``orderCancel`` calls are the ledger.

Topics and payloads: PROVIDERS.md "Shopify" (``orders/*``, ``refunds/create``, ``fulfillment_events/create``
with FulfillmentEventStatus). Shopify has no buyer cancel-request webhook: the storefront asks Backout
through Standard Webhooks (``order.cancel_requested`` / ``order.cancel_withdrawn``), as
``backout_dev.sim.builders_shopify`` does.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from backout_dev.sim.model.bodies import iso
from backout_dev.sim.model.drive import sample
from backout_dev.sim.model.platforms import PlatformLedger, Send

#: fulfillment event statuses the model draws, and where each leaves the parcel
FULFILLMENT_EVENTS = {"in_transit": "transit", "out_for_delivery": "transit", "attempted_delivery": "transit",
                      "delayed": "transit", "failure": "transit", "delivered": "buyer"}
SAMPLES = {"refunds/create": "shopify/refunds-create", "fulfillment_events/create": "shopify/fulfillment_events-create"}


def gid(s: Any) -> str:
    return f"gid://shopify/Order/{s.external}"


def _headers(topic: str) -> dict[str, str]:
    event_id = str(uuid.uuid4())
    return {"x-shopify-topic": topic, "x-shopify-event-id": event_id,
            "x-shopify-webhook-id": str(uuid.uuid5(uuid.NAMESPACE_URL, event_id)),
            "x-shopify-triggered-at": iso(time.time(), "Z")}


def _post(send: Send, topic: str, body: dict[str, Any], label: str = "") -> int:
    return send(f"shopify {topic}{' ' + label if label else ''}", sample(SAMPLES.get(topic, "shopify/orders-cancelled")),
                body, _headers(topic))


def order_body(s: Any, stamp: float, cancelled: bool = False, fulfilled: bool = False) -> dict[str, Any]:
    from backout.money import to_decimal_string

    def money(minor: int) -> str:
        return to_decimal_string(minor, s.currency)

    paid = s.shape == "paid"
    status = ("refunded" if paid else "voided") if cancelled else ("paid" if paid else "authorized")
    lines = [{"id": i + 1, "sku": ln.sku, "quantity": ln.qty, "price": money(ln.minor // ln.qty),
              "properties": [{"name": "_backout_custom", "value": "yes"}] if ln.custom else []}
             for i, ln in enumerate(s.lines)]
    return {"id": int(s.external), "admin_graphql_api_id": gid(s), "name": f"#{s.external}", "currency": s.currency,
            "total_price": money(s.total), "financial_status": status,
            "fulfillment_status": "fulfilled" if fulfilled else None, "created_at": iso(s.clock0, "Z"),
            "updated_at": iso(stamp, "Z"), "cancelled_at": iso(stamp, "Z") if cancelled else None, "line_items": lines}


class Shopify:
    channel = "shopify"
    shippable = True
    withdrawable = True
    shapes = ("paid", "paid", "authorized")

    def place(self, env: Any, s: Any, send: Send) -> None:
        env.shopify.add_order(int(s.external), financial_status="PAID" if s.shape == "paid" else "AUTHORIZED")
        s.clock0 = s.stamp()

    def created(self, env: Any, s: Any, send: Send) -> None:
        _post(send, "orders/create", order_body(s, s.clock0))

    def request(self, env: Any, s: Any, send: Send) -> None:
        s.request_id = s.request_id or f"sf-{s.no}-{uuid.uuid4().hex[:6]}"
        _standard(send, "order.cancel_requested", s, s.request_at)

    def withdraw(self, env: Any, s: Any, send: Send) -> str:
        s.request_id = s.request_id or f"sf-{s.no}-{uuid.uuid4().hex[:6]}"
        _standard(send, "order.cancel_withdrawn", s, s.withdrawal_at)
        return "storefront order.cancel_withdrawn"

    def ship(self, env: Any, s: Any, send: Send) -> None:
        s.tracking = f"MPTRK{s.no}"
        env.carrier.add_shipment(s.tracking, "in_transit", "succeed")
        _post(send, "orders/updated", order_body(s, s.stamp(), fulfilled=True), "fulfilled")
        self.fulfillment_event(env, s, send, "in_transit")

    def fulfillment_event(self, env: Any, s: Any, send: Send, status: str) -> None:
        body = {"id": int(s.external) * 10 + len(s.sent), "order_id": int(s.external), "status": status,
                "tracking_number": s.tracking, "happened_at": iso(s.stamp(), "Z")}
        _post(send, "fulfillment_events/create", body, status)

    def noise(self, env: Any, s: Any, send: Send, i: int) -> None:
        """An orders/updated stamped before the order was created (a late retry): it changes nothing."""
        _post(send, "orders/updated", order_body(s, s.clock0 - 30 - i), "(stale)")

    def answer(self, env: Any, s: Any, send: Send) -> bool:
        """Once Backout's orderCancel went through: orders/cancelled, and refunds/create when it was paid."""
        led = self.ledger(env, s)
        if not led.cancelled or s.answered:
            return False
        s.answered += 1
        stamp = s.stamp()
        _post(send, "orders/cancelled", order_body(s, stamp, cancelled=True))
        if s.shape == "paid":
            from backout.money import to_decimal_string

            tx = {"id": int(s.external) * 10 + 1, "order_id": int(s.external), "kind": "refund",
                  "gateway": "shopify_payments", "status": "success", "message": None,
                  "amount": to_decimal_string(s.total, s.currency), "currency": s.currency,
                  "processed_at": iso(stamp, "Z")}
            _post(send, "refunds/create", {"id": int(s.external) * 10, "order_id": int(s.external),
                                           "processed_at": iso(stamp, "Z"), "restock": False,
                                           "refund_line_items": [], "transactions": [tx]})
        return True

    def own_move(self, env: Any, s: Any, send: Send) -> bool:
        return False  # the seller's Shopify admin is not in the model: every cancel is Backout's

    def pending(self, env: Any, s: Any) -> bool:
        return False  # Shopify holds no request of its own: the storefront asks Backout

    def lose_answer(self, env: Any, s: Any) -> str:
        env.shopify.drop_next_response(method="POST", body_contains=f'"orderId": "{gid(s)}"')
        return "fault armed: Shopify's next orderCancel answer is lost (the cancel happens)"

    def ledger(self, env: Any, s: Any) -> PlatformLedger:
        with env.shopify.lock:
            order = dict(env.shopify.orders.get(gid(s)) or {})
        calls = [e for e in env.shopify.effects("cancel") if e["order_id"] == gid(s)]
        status = str(order.get("displayFinancialStatus"))
        return PlatformLedger(asked_cancel=len(calls), cancelled=bool(order.get("cancelledAt")),
                              refunded=status in ("REFUNDED", "VOIDED"), state=status,
                              detail={"refund_flags": [c.get("refund") for c in calls]})


def _standard(send: Send, kind: str, s: Any, at: float | None) -> None:
    data = {"order_id": s.order_id, "request_id": s.request_id}
    if kind == "order.cancel_requested":
        data.update(initiator="buyer", reason="Changed my mind")
    body = {"type": kind, "timestamp": iso(at or time.time(), "") + ".000Z", "data": data}
    send(f"storefront {kind}", sample("standard/order.cancel_requested"), body,
         {"webhook-id": f"msg_{uuid.uuid4().hex}"})


PLATFORM = Shopify()
