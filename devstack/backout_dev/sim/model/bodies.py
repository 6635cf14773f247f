"""Provider webhook bodies shaped on ``events/`` samples: WooCommerce, Stripe (``backout_dev.fakes.stripe_events``),
PayPal, AfterShip."""

from __future__ import annotations

import json
import time
import uuid
from datetime import datetime, timezone
from typing import Any

from backout_dev.sim.model.drive import EVENTS, sample


def iso(ts: float, zone: str = "") -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S") + zone


def woo(story: Any, status: str, stamp: float, topic: str = "order.updated",
        meta: tuple[tuple[str, str], ...] = ()) -> tuple[dict[str, Any], dict[str, Any]]:
    """A WooCommerce order webhook (``order.created`` or ``order.updated``) for the story's order."""
    from backout.money import to_decimal_string

    from backout_dev.demo import _line, order_body

    created = sample("woocommerce/order.created")
    template = json.loads(created["body"])
    lines = [_line(i + 1, ln.sku, ln.qty, to_decimal_string(ln.minor, story.currency), ln.custom)
             for i, ln in enumerate(story.lines)]
    body = order_body(template, story.no, status, story.currency, to_decimal_string(story.total, story.currency),
                      story.ref, lines, iso(stamp))
    if story.gateway == "paypal":
        body.update(payment_method="ppcp-gateway", payment_method_title="PayPal", meta_data=[])
    body["meta_data"] = body["meta_data"] + [{"id": 90 + i, "key": k, "value": v} for i, (k, v) in enumerate(meta)]
    event = created if topic == "order.created" else sample("woocommerce/order.cancel-request")
    return event, body


def stripe_event(kind: str, obj: dict[str, Any], previous_status: str | None = None
                 ) -> tuple[dict[str, Any], dict[str, Any]]:
    """A Stripe Event of type ``kind`` about ``obj`` (a Refund or a Dispute), built by
    :mod:`backout_dev.fakes.stripe_events`; the route and headers come from the nearest ``events/stripe`` sample."""
    from backout_dev.fakes import stripe_events

    previous = {"status": previous_status} if previous_status and previous_status != obj.get("status") else None
    body = stripe_events.stripe_event(kind, obj, previous)
    name = kind if (EVENTS / "stripe" / f"{kind}.json").exists() else stripe_events.FALLBACK_SAMPLE[:-5]
    return sample(f"stripe/{name}"), body


def paypal_event(kind: str, resource: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """A PayPal webhook (signed by the local fake CA when posted); one transmission id per event."""
    name = {"PAYMENT.CAPTURE.REFUNDED": "PAYMENT.CAPTURE.REFUNDED"}.get(kind, "CUSTOMER.DISPUTE.CREATED")
    event = sample(f"paypal/{name}")
    body = json.loads(event["body"])
    event_id = f"WH-MODEL-{uuid.uuid4().hex[:16].upper()}"
    body.update(id=event_id, event_type=kind, create_time=iso(time.time(), "Z"), resource=resource)
    return event, body, {"paypal-transmission-id": str(uuid.uuid5(uuid.NAMESPACE_URL, event_id))}


def aftership(order_id: str, tracking: str, tag: str, subtag: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """An AfterShip tracking update for a parcel of the order."""
    event = sample("aftership/tracking_update.Delivered")
    body = json.loads(event["body"])
    body.update({"event_id": f"model-{uuid.uuid4().hex[:16]}", "ts": int(time.time())})
    body["msg"].update({"tracking_number": tracking, "tag": tag, "subtag": subtag, "slug": "dhl",
                        "order_number": order_id})
    return event, body


SCANS = {"in_transit": ("InTransit", "InTransit_001"), "delivered": ("Delivered", "Delivered_001"),
         "return_to_sender": ("Exception", "Exception_011")}
