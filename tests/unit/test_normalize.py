"""Provider webhooks -> domain events (backout.ingress.normalize)."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from backout.domain.events import Gateway, Initiator, ShipmentStatus, parse_event
from backout.ingress.keys import MalformedPayload, dedupe_key
from backout.ingress.normalize import normalize

EVENTS = Path(__file__).resolve().parents[2] / "events"
RECEIVED = datetime(2025, 3, 14, 12, 0, tzinfo=timezone.utc)
SIGNATURE_HEADERS = {
    "stripe": ["stripe-signature"],
    "paypal": ["paypal-transmission-sig"],
    "shopify": ["x-shopify-hmac-sha256"],
    "woocommerce": ["x-wc-webhook-signature"],
    "tiktok": ["authorization"],
    "aftership": ["aftership-hmac-sha256"],
    "easypost": ["x-hmac-signature"],
    "standard": ["webhook-signature"],
    "ozon": [],
}

EXPECTED_KINDS: dict[str, list[str]] = {
    "aftership/tracking_update.Delivered": ["shipment_scanned"],
    "aftership/tracking_update.Exception_011": ["shipment_scanned"],
    "easypost/tracker.updated.return_to_sender": ["shipment_scanned"],
    "ozon/TYPE_PING": ["ignored"],
    "ozon/TYPE_POSTING_CANCELLED": ["platform_cancellation_decided"],
    "ozon/TYPE_STATE_CHANGED": ["shipment_scanned"],
    "paypal/CUSTOMER.DISPUTE.CREATED": ["dispute_opened"],
    "paypal/PAYMENT.AUTHORIZATION.VOIDED": ["authorization_expired"],
    "paypal/PAYMENT.CAPTURE.REFUNDED": ["refund_settled"],
    "shopify/fulfillment_events-create": ["shipment_scanned"],
    "shopify/orders-cancelled": ["platform_cancellation_decided"],
    "shopify/refunds-create": ["refund_settled"],
    "standard/order.cancel_requested": ["cancel_requested"],
    "stripe/charge.dispute.created": ["dispute_opened"],
    "stripe/charge.expired": ["authorization_expired"],
    "stripe/charge.refunded": ["refund_settled"],
    "stripe/payment_intent.amount_capturable_updated": ["payment_authorized"],
    "stripe/payment_intent.canceled": ["authorization_expired"],
    "stripe/refund.failed": ["refund_settled"],
    "stripe/refund.updated": ["refund_settled"],
    "tiktok/cancellation_status_change.pending": ["cancel_requested"],
    "woocommerce/order.cancel-request": ["order_placed", "cancel_requested"],
    "woocommerce/order.cancel-withdrawn": ["order_placed", "cancel_withdrawn"],
    "woocommerce/order.created": ["order_placed"],
}
REQUIRED_SAMPLES = {
    "woocommerce/order.created", "woocommerce/order.cancel-request",
    "stripe/payment_intent.canceled", "stripe/charge.expired", "stripe/refund.updated",
    "stripe/refund.failed", "stripe/charge.dispute.created",
    "paypal/PAYMENT.AUTHORIZATION.VOIDED", "paypal/PAYMENT.CAPTURE.REFUNDED",
    "paypal/CUSTOMER.DISPUTE.CREATED", "shopify/orders-cancelled", "shopify/refunds-create",
    "shopify/fulfillment_events-create", "ozon/TYPE_PING", "ozon/TYPE_POSTING_CANCELLED",
    "ozon/TYPE_STATE_CHANGED", "tiktok/cancellation_status_change.pending",
    "aftership/tracking_update.Delivered", "aftership/tracking_update.Exception_011",
    "easypost/tracker.updated.return_to_sender", "standard/order.cancel_requested",
}  # fmt: skip


def sample(name: str) -> tuple[str, dict[str, Any], Any, dict[str, str]]:
    """(provider, API Gateway event, parsed body, headers) of ``events/<name>.json``."""
    event = json.loads((EVENTS / f"{name}.json").read_text())
    return name.split("/")[0], event, json.loads(event["body"]), event["headers"]


def run(name: str, mutate: Any = None, headers: dict[str, str] | None = None) -> list[Any]:
    """Normalise a sample, optionally after ``mutate(body)`` / with other headers."""
    provider, _, body, hdrs = sample(name)
    if mutate is not None:
        body = copy.deepcopy(body)
        mutate(body)
    return normalize(provider, body, {**hdrs, **(headers or {})}, RECEIVED)


def kinds(events: list[Any]) -> list[str]:
    return [e.kind for e in events]


# ---------------------------------------------------------------- samples


def test_sample_table_covers_every_file_and_the_required_topics() -> None:
    names = {str(p.relative_to(EVENTS).with_suffix("")) for p in EVENTS.glob("*/*.json")}
    assert names == set(EXPECTED_KINDS)
    assert REQUIRED_SAMPLES <= names


@pytest.mark.parametrize("name", sorted(EXPECTED_KINDS))
def test_sample_normalises_to_expected_kinds(name: str) -> None:
    provider, event, body, headers = sample(name)
    events = normalize(provider, body, headers, RECEIVED)
    assert kinds(events) == EXPECTED_KINDS[name]
    key = dedupe_key(provider, body, headers)
    for ev in events:
        assert ev.provider == provider and ev.source_id == key
        assert ev.occurred_at.utcoffset() == timedelta(0)
        assert parse_event(ev.model_dump(mode="json")) == ev


@pytest.mark.parametrize("name", sorted(EXPECTED_KINDS))
def test_sample_is_a_well_formed_http_api_event(name: str) -> None:
    provider, event, body, headers = sample(name)
    path = f"/webhooks/{provider}"
    assert event["version"] == "2.0" and event["isBase64Encoded"] is False
    assert event["routeKey"] == event["requestContext"]["routeKey"] == f"POST {path}"
    assert event["rawPath"] == event["requestContext"]["http"]["path"] == path
    assert event["rawQueryString"] == "" and event["requestContext"]["stage"] == "$default"
    assert event["requestContext"]["http"]["method"] == "POST"
    ip = "195.34.21.10" if provider == "ozon" else "203.0.113.10"
    assert event["requestContext"]["http"]["sourceIp"] == ip
    assert all(k == k.lower() for k in headers)
    for name_ in SIGNATURE_HEADERS[provider]:
        assert headers[name_] == "RESIGNED-BY-BACKOUT-SEND"
    raw = json.dumps(event)
    assert not any(s in raw for s in ("whsec_", "sk_live", "sk_test", "rk_live", "shpss_"))


def test_sample_details() -> None:
    placed, requested = run("woocommerce/order.cancel-request")
    assert placed.order_id == requested.order_id == "woocommerce:1234"
    assert placed.gateway is Gateway.STRIPE and placed.payment_ref.startswith("pi_")
    assert placed.total == 6497 and [ln.unit_price for ln in placed.lines] == [1999, 1999]
    assert [ln.custom for ln in placed.lines] == [False, True]
    assert requested.request_id == "woocommerce:1234#2025-03-14T11:00:00"
    assert requested.initiator is Initiator.BUYER and requested.reason == "Ordered the wrong size"
    (refund,) = run("paypal/PAYMENT.CAPTURE.REFUNDED")
    assert (refund.payment_ref, refund.amount, refund.status) == ("3C679366HH908993F", 1999, "succeeded")
    assert refund.order_id == "woocommerce:1236"
    (failed,) = run("stripe/refund.failed")
    assert failed.status == "failed" and failed.failure_reason == "expired_or_canceled_card"
    assert failed.order_id == "woocommerce:1234" and failed.currency == "USD"
    (tt,) = run("tiktok/cancellation_status_change.pending")
    assert (tt.order_id, tt.request_id) == ("tiktok:576486316948490001", "tiktok:4035318504086604100")
    (oz,) = run("ozon/TYPE_POSTING_CANCELLED")
    assert oz.order_id == "ozon:24219509-0020-1" and oz.decision == "approved"
    (ret,) = run("aftership/tracking_update.Exception_011")
    assert ret.order_id is None and ret.carrier == "usps"  # "#1001" is not a Backout order id
    (mars,) = run("aftership/tracking_update.Delivered", _set("msg.order_number", "mars:1"))
    assert mars.order_id is None


# ---------------------------------------------------------------- money


@pytest.mark.parametrize(
    ("currency", "total", "line_total", "qty", "minor", "unit"),
    [
        ("USD", "19.99", "19.99", 1, 1999, 1999),
        ("usd", "0.10", "0.10", 1, 10, 10),
        ("JPY", "500", "500", 1, 500, 500),
        ("KWD", "1.250", "1.250", 1, 1250, 1250),
        ("USD", "10.00", "10.00", 3, 1000, 333),
    ],
)
def test_woocommerce_amounts_are_exact(
    currency: str, total: str, line_total: str, qty: int, minor: int, unit: int
) -> None:
    def mutate(body: dict[str, Any]) -> None:
        body.update(currency=currency, total=total)
        body["line_items"] = [{**body["line_items"][0], "total": line_total, "quantity": qty}]

    (placed,) = run("woocommerce/order.created", mutate)
    assert (placed.total, placed.lines[0].unit_price, placed.currency) == (minor, unit, currency.upper())


@pytest.mark.parametrize(
    ("currency", "value", "minor"), [("USD", "19.99", 1999), ("JPY", "500", 500), ("KWD", "1.250", 1250)]
)
def test_paypal_amounts_are_exact(currency: str, value: str, minor: int) -> None:
    (refund,) = run(
        "paypal/PAYMENT.CAPTURE.REFUNDED",
        lambda b: b["resource"].update(amount={"currency_code": currency, "value": value}),
    )
    assert (refund.amount, refund.currency) == (minor, currency)


@pytest.mark.parametrize("value", ["19.999", "1e3", "-1.00", "", "abc", 19.99, None])
def test_inexact_or_bad_amounts_are_malformed(value: Any) -> None:
    with pytest.raises(MalformedPayload):
        run("woocommerce/order.created", lambda b: b.update(total=value))


# ---------------------------------------------------------------- status tables


SHOPIFY = {
    "LABEL_PRINTED": "label_created", "LABEL_PURCHASED": "label_created",
    "CARRIER_PICKED_UP": "picked_up", "CONFIRMED": "in_transit", "IN_TRANSIT": "in_transit",
    "OUT_FOR_DELIVERY": "out_for_delivery", "ATTEMPTED_DELIVERY": "failed_attempt",
    "DELAYED": "in_transit", "DELIVERED": "delivered", "FAILURE": "exception",
    "READY_FOR_PICKUP": "available_for_pickup", "SOMETHING_NEW": "unknown",
}  # fmt: skip


@pytest.mark.parametrize(("raw", "status"), [*SHOPIFY.items(), *((k.lower(), v) for k, v in SHOPIFY.items())])
def test_shopify_fulfillment_statuses(raw: str, status: str) -> None:
    (scan,) = run("shopify/fulfillment_events-create", lambda b: b.update(status=raw))
    assert (scan.status, scan.raw_status, scan.order_id) == (ShipmentStatus(status), raw, "shopify:450789470")


@pytest.mark.parametrize(
    ("tag", "subtag", "status"),
    [
        ("Pending", "Pending_001", "label_created"), ("InfoReceived", "InfoReceived_001", "label_created"),
        ("InTransit", "InTransit_002", "in_transit"), ("OutForDelivery", "", "out_for_delivery"),
        ("AttemptFail", "AttemptFail_001", "failed_attempt"), ("Delivered", "", "delivered"),
        ("AvailableForPickup", "", "available_for_pickup"), ("Exception", "Exception_004", "exception"),
        ("Exception", "Exception_010", "exception"),  # returning: still on its way (issue 14, 1)
        ("Exception", "Exception_011", "return_to_sender"), ("Expired", "Expired_001", "expired"),
        ("Mystery", "", "unknown"),
    ],
)  # fmt: skip
def test_aftership_tags(tag: str, subtag: str, status: str) -> None:
    (scan,) = run("aftership/tracking_update.Delivered", lambda b: b["msg"].update(tag=tag, subtag=subtag))
    assert scan.status == ShipmentStatus(status) and scan.raw_status == (subtag or tag)
    assert scan.tracking_number == "9400111899223100012345" and scan.order_id == "woocommerce:1234"


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ("pre_transit", "label_created"), ("in_transit", "in_transit"),
        ("out_for_delivery", "out_for_delivery"), ("delivered", "delivered"),
        ("available_for_pickup", "available_for_pickup"), ("return_to_sender", "return_to_sender"),
        ("failure", "exception"), ("cancelled", "exception"), ("error", "exception"),
        ("unknown", "unknown"), ("brand_new", "unknown"),
    ],
)  # fmt: skip
def test_easypost_statuses(raw: str, status: str) -> None:
    (scan,) = run("easypost/tracker.updated.return_to_sender", lambda b: b["result"].update(status=raw))
    assert scan.status == ShipmentStatus(status) and scan.carrier == "USPS"


@pytest.mark.parametrize(
    ("state", "kind", "status"),
    [
        ("awaiting_deliver", "shipment_scanned", "label_created"),
        ("posting_transferring_to_delivery", "shipment_scanned", "label_created"),
        ("delivering", "shipment_scanned", "in_transit"),
        ("driver_pickup", "shipment_scanned", "in_transit"),
        ("posting_in_carriage", "shipment_scanned", "in_transit"),
        ("posting_in_pickup_point", "shipment_scanned", "available_for_pickup"),
        ("delivered", "shipment_scanned", "delivered"),
        ("posting_delivered", "shipment_scanned", "delivered"),
        ("awaiting_packaging", "shipment_scanned", "unknown"),
        ("cancelled", "ignored", None),
        ("posting_canceled", "ignored", None),
    ],
)
def test_ozon_states(state: str, kind: str, status: str | None) -> None:
    (ev,) = run("ozon/TYPE_STATE_CHANGED", lambda b: b.update(new_state=state))
    assert ev.kind == kind and ev.order_id == ("ozon:24219509-0021-1" if status else None)
    if status:
        assert ev.status == ShipmentStatus(status) and ev.raw_status == state


@pytest.mark.parametrize(
    ("status", "role", "expected"),
    [
        ("CANCELLATION_REQUEST_PENDING", "BUYER", ["cancel_requested"]),
        ("CANCELLATION_REQUEST_SUCCESS", "BUYER", ["approved"]),
        ("CANCELLATION_REQUEST_COMPLETE", "SELLER", ["approved"]),
        ("CANCELLATION_REQUEST_CANCEL", "BUYER", ["rejected", "cancel_withdrawn"]),
        ("CANCELLATION_REQUEST_CANCELLED", "BUYER", ["rejected", "cancel_withdrawn"]),
        # the role is who OPENED the request; CANCEL = closed by the buyer or the system: it no longer stands
        ("CANCELLATION_REQUEST_CANCEL", "SYSTEM", ["rejected", "cancel_withdrawn"]),
        ("CANCELLATION_REQUEST_CANCEL", "SELLER", ["rejected", "cancel_withdrawn"]),
        # no "rejected" status is documented (Search Cancellations 202602: PENDING, SUCCESS, CANCEL, COMPLETE)
        ("CANCELLATION_REQUEST_REJECT", "BUYER", ["ignored"]),
        ("SOMETHING_ELSE", "BUYER", ["ignored"]),
    ],
)
def test_tiktok_cancellation_statuses(status: str, role: str, expected: list[str]) -> None:
    events = run(
        "tiktok/cancellation_status_change.pending",
        lambda b: b["data"].update(cancel_status=status, cancellations_role=role),
    )
    assert [getattr(e, "decision", e.kind) for e in events] == expected
    assert all(e.order_id == ("tiktok:576486316948490001" if e.kind != "ignored" else None) for e in events)
    for e in events:
        if e.kind == "cancel_withdrawn":
            assert e.request_id == "tiktok:4035318504086604100"
        if e.kind == "platform_cancellation_decided":
            assert e.platform_cancellation_id == "4035318504086604100"


@pytest.mark.parametrize(
    ("role", "initiator"), [("BUYER", "buyer"), ("SELLER", "seller"), ("SYSTEM", "system")]
)
def test_tiktok_roles(role: str, initiator: str) -> None:
    (req,) = run("tiktok/cancellation_status_change.pending", lambda b: b["data"].update(cancellations_role=role))
    assert req.initiator == Initiator(initiator) and req.platform_cancellation_id == "4035318504086604100"


@pytest.mark.parametrize(
    ("type_", "data", "expected"),
    [
        (1, {"order_status": "CANCELLED"}, "platform_cancellation_decided"),
        ("1", {"order_status": "CANCEL"}, "platform_cancellation_decided"),
        (1, {"order_status": "AWAITING_SHIPMENT"}, "ignored"),
        (4, {}, "ignored"),
        # RETURN_OR_REFUND_REQUEST_SUCCESS = the seller accepted or issued the refund, not "the parcel came back"
        (12, {"return_status": "RETURN_OR_REFUND_REQUEST_SUCCESS", "return_type": "RETURN_AND_REFUND"},
         "ignored"),
        (12, {"return_status": "RETURN_OR_REFUND_REQUEST_SUCCESS", "return_type": "REFUND"}, "ignored"),
        (12, {"return_status": "BUYER_SHIPPED_ITEM", "return_type": "RETURN_AND_REFUND"}, "ignored"),
        ("11", {}, "cancel_requested"),
        (99, {}, "ignored"),
    ],
)  # fmt: skip
def test_tiktok_types(type_: Any, data: dict[str, Any], expected: str) -> None:
    (ev,) = run("tiktok/cancellation_status_change.pending", lambda b: (b.update(type=type_), b["data"].update(data)))
    assert ev.kind == expected


@pytest.mark.parametrize(
    ("reason", "kind"),
    [("automatic", "authorization_expired"), ("expired", "authorization_expired"),
     ("requested_by_customer", "payment_voided"),
     ("abandoned", "payment_voided"), ("fraudulent", "payment_voided"), (None, "payment_voided")],
)  # fmt: skip
def test_stripe_cancellation_reasons(reason: str | None, kind: str) -> None:
    (ev,) = run("stripe/payment_intent.canceled", lambda b: b["data"]["object"].update(cancellation_reason=reason))
    assert ev.kind == kind and ev.payment_ref == "pi_3QbX7eLkdIwHu7ix0xYz1234"


@pytest.mark.parametrize(
    ("status", "update_time", "kind"),
    [("VOIDED", "2025-04-12T10:02:00Z", "authorization_expired"),
     ("EXPIRED", "2025-03-20T10:00:00Z", "authorization_expired"),
     ("VOIDED", "2025-03-20T10:00:00Z", "payment_voided")],
)  # fmt: skip
def test_paypal_void_or_expiry(status: str, update_time: str, kind: str) -> None:
    def mutate(body: dict[str, Any]) -> None:
        body["resource"].update(status=status, update_time=update_time)

    (ev,) = run("paypal/PAYMENT.AUTHORIZATION.VOIDED", mutate)
    assert ev.kind == kind and ev.payment_ref == "0VF52814937998046"


@pytest.mark.parametrize(
    ("status", "method", "expected", "gateway"),
    [("pending", "stripe", ["order_placed"], "stripe"), ("on-hold", "ppcp-gateway", ["order_placed"], "paypal"),
     ("processing", "paypal", ["order_placed"], "paypal"), ("completed", "stripe", ["order_placed"], "stripe"),
     ("cancel-request", "stripe", ["order_placed", "cancel_requested"], "stripe"),
     ("cancelled", "stripe", ["ignored"], None), ("refunded", "stripe", ["ignored"], None),
     ("failed", "stripe", ["ignored"], None), ("processing", "cod", ["ignored"], None)],
)  # fmt: skip
def test_woocommerce_statuses(status: str, method: str, expected: list[str], gateway: str | None) -> None:
    events = run("woocommerce/order.created", lambda b: b.update(status=status, payment_method=method))
    assert kinds(events) == expected
    if gateway:
        assert events[0].gateway == Gateway(gateway) and events[0].shipped == (status == "completed")
    elif method == "cod":
        assert events[0].topic == "order.created:payment_method:cod"
    else:
        assert events[0].topic == f"order.created:{status}"


# ---------------------------------------------------------------- unknown / malformed


def _set(path: str, value: Any) -> Any:
    """A mutator setting ``a.b.c`` of the body (``value`` DELETE removes the key)."""

    def mutate(body: Any) -> None:
        *parents, leaf = path.split(".")
        for part in parents:
            body = body[int(part)] if isinstance(body, list) else body[part]
        key: Any = int(leaf) if isinstance(body, list) else leaf
        if value is DELETE:
            del body[key]
        else:
            body[key] = value

    return mutate


DELETE = object()
UNKNOWN_TOPICS = [
    ("stripe/charge.expired", _set("type", "customer.created"), None, "customer.created"),
    ("stripe/charge.expired", _set("type", "charge.dispute.updated"), None, "charge.dispute.updated"),
    ("paypal/PAYMENT.CAPTURE.REFUNDED", _set("event_type", "PAYMENT.CAPTURE.REVERSED"), None,
     "PAYMENT.CAPTURE.REVERSED"),
    ("shopify/orders-cancelled", None, {"x-shopify-topic": "products/update"}, "products/update"),
    ("woocommerce/order.created", None, {"x-wc-webhook-topic": "product.updated"}, "product.updated"),
    ("ozon/TYPE_STATE_CHANGED", _set("message_type", "TYPE_CUTOFF_DATE_CHANGED"), None, "TYPE_CUTOFF_DATE_CHANGED"),
    ("tiktok/cancellation_status_change.pending", _set("type", 2), None, "REVERSE_STATUS_UPDATE"),
    ("aftership/tracking_update.Delivered", _set("event", "tracking_created"), None, "tracking_created"),
    ("easypost/tracker.updated.return_to_sender", _set("description", "batch.created"), None,
     "batch.created"),
    ("standard/order.cancel_requested", _set("type", "order.shipped"), None, "order.shipped"),
    ("stripe/charge.refunded", _set("data.object.refunds", DELETE), None, "charge.refunded"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "mutate", "headers", "topic"), UNKNOWN_TOPICS)
def test_unknown_topics_are_ignored(name: str, mutate: Any, headers: Any, topic: str) -> None:
    (ev,) = run(name, mutate, headers)
    assert ev.kind == "ignored" and ev.topic == topic


MALFORMED = [
    ("stripe/refund.updated", _set("data.object.amount", "19.99")),
    ("stripe/refund.updated", _set("data.object.amount", -5)),
    ("stripe/refund.updated", _set("data.object.status", "weird")),
    ("stripe/refund.updated", _set("data.object.id", DELETE)),
    ("stripe/charge.dispute.created", _set("data.object.currency", "dollars")),
    ("stripe/charge.expired", _set("data", "oops")),
    ("stripe/charge.expired", _set("created", "yesterday")),
    ("paypal/PAYMENT.CAPTURE.REFUNDED", _set("resource.amount.value", 19.99)),
    ("paypal/PAYMENT.CAPTURE.REFUNDED", _set("resource.amount", DELETE)),
    ("paypal/PAYMENT.CAPTURE.REFUNDED", _set("resource.status", "MAYBE")),
    ("paypal/CUSTOMER.DISPUTE.CREATED", _set("resource.dispute_id", "")),
    ("shopify/refunds-create", _set("transactions.0.amount", "1.234")),
    ("shopify/refunds-create", _set("transactions.0.status", "exploded")),
    ("shopify/refunds-create", _set("order_id", None)),
    ("shopify/fulfillment_events-create", _set("status", None)),
    ("woocommerce/order.created", _set("line_items.0.quantity", 0)),
    ("woocommerce/order.created", _set("line_items.0.quantity", "2")),
    ("woocommerce/order.created", _set("line_items", None)),
    ("woocommerce/order.created", _set("currency", None)),
    ("woocommerce/order.created", _set("date_modified_gmt", DELETE)),
    ("woocommerce/order.created", _set("date_modified_gmt", "not a date")),
    ("ozon/TYPE_POSTING_CANCELLED", _set("posting_number", DELETE)),
    ("ozon/TYPE_STATE_CHANGED", _set("new_state", 7.5)),
    ("tiktok/cancellation_status_change.pending", _set("data.cancel_id", DELETE)),
    ("tiktok/cancellation_status_change.pending", _set("data.cancellations_role", "ALIEN")),
    ("tiktok/cancellation_status_change.pending", _set("data", [])),
    ("aftership/tracking_update.Delivered", _set("msg.tracking_number", None)),
    ("easypost/tracker.updated.return_to_sender", _set("result.status", DELETE)),
    ("standard/order.cancel_requested", _set("data.order_id", "A-10023")),
    ("standard/order.cancel_requested", _set("data.order_id", "mars:1")),
    ("standard/order.cancel_requested", _set("data.initiator", "alien")),
    ("standard/order.cancel_requested", _set("data.request_id", DELETE)),
]  # fmt: skip


@pytest.mark.parametrize(("name", "mutate"), MALFORMED)
def test_malformed_known_topics_raise(name: str, mutate: Any) -> None:
    with pytest.raises(MalformedPayload):
        run(name, mutate)


@pytest.mark.parametrize("provider", ["stripe", "paypal", "shopify", "woocommerce", "ozon",
                                      "tiktok", "aftership", "easypost", "standard"])  # fmt: skip
@pytest.mark.parametrize("body", [[], "text", None, 5])
def test_non_object_bodies_raise(provider: str, body: Any) -> None:
    headers = {"x-shopify-topic": "orders/cancelled", "x-shopify-event-id": "e1", "webhook-id": "m1",
               "x-wc-webhook-topic": "order.updated"}  # fmt: skip
    with pytest.raises(MalformedPayload):
        normalize(provider, body, headers, RECEIVED)


def test_unknown_provider_raises() -> None:
    with pytest.raises(MalformedPayload):
        normalize("etsy", {"id": "1"}, {}, RECEIVED)


def test_pydantic_errors_become_malformed(monkeypatch: pytest.MonkeyPatch) -> None:
    from backout.domain.events import ShipmentScanned
    from backout.ingress.normalize import easypost

    monkeypatch.setattr(easypost, "normalize", lambda *a: [ShipmentScanned(provider="easypost")])
    with pytest.raises(MalformedPayload, match="source_id"):
        normalize("easypost", {}, {}, RECEIVED)


# ---------------------------------------------------------------- specifics


def test_occurred_at_falls_back_to_received_at() -> None:
    (ev,) = run("standard/order.cancel_requested", _set("timestamp", DELETE))
    assert ev.occurred_at == RECEIVED
    provider, _, body, headers = sample("ozon/TYPE_PING")
    del body["time"]
    (ping,) = normalize(provider, body, headers, datetime(2025, 1, 1, 9, 0))  # naive = UTC
    assert ping.occurred_at == datetime(2025, 1, 1, 9, 0, tzinfo=timezone.utc)
    (msk,) = run("ozon/TYPE_STATE_CHANGED", _set("changed_state_date", "2025-03-17T13:00:00+03:00"))
    assert msk.occurred_at == datetime(2025, 3, 17, 10, 0, tzinfo=timezone.utc)


def test_woocommerce_conventions() -> None:
    def paypal_request(b: dict[str, Any]) -> None:
        meta = [{"key": "_backout_cancel_withdrawn", "value": "yes"}]
        b.update(status="cancel-request", payment_method="ppcp-gateway", transaction_id="CAP9", meta_data=meta)

    placed, req = run("woocommerce/order.cancel-request", paypal_request)
    assert (placed.payment_ref, placed.gateway, req.reason) == ("CAP9", Gateway.PAYPAL, "")
    (only,) = run("woocommerce/order.cancel-withdrawn", _set("status", "on-hold"))
    assert only.kind == "order_placed"  # a withdrawal counts only with status processing
    (charge_ref,) = run("woocommerce/order.created", _set("meta_data", []))
    assert charge_ref.payment_ref == "ch_3QbX7eLkdIwHu7ix0Ab1Cd2E"  # no _stripe_intent_id meta
    for flag, custom in (("1", True), ("true", True), ("YES", True), (True, True), (1, True),
                         ("no", False), ("0", False), (False, False), (None, False)):  # fmt: skip
        meta = [{"key": "_backout_custom", "value": flag}]
        (p,) = run("woocommerce/order.created", _set("line_items.1.meta_data", meta))
        assert p.lines[1].custom is custom


def test_stripe_order_ids_and_refund_lists() -> None:
    (ev,) = run("stripe/charge.expired", _set("data.object.metadata", {"backout_order_id": "shopify:9"}))
    assert ev.order_id == "shopify:9"
    (none,) = run("stripe/charge.expired", _set("data.object.metadata", {}))
    assert none.order_id is None

    def two_refunds(b: dict[str, Any]) -> None:
        refunds = b["data"]["object"]["refunds"]["data"]
        extra = {"id": "re_2", "amount": 500, "status": "pending", "metadata": {}, "payment_intent": None}
        refunds.append({**refunds[0], **extra})

    first, second = run("stripe/charge.refunded", two_refunds)
    assert [first.refund_id, second.refund_id] == ["re_3QbX7eLkdIwHu7ix0Rf1Gh2J", "re_2"]
    assert (second.status, second.amount, second.order_id) == ("pending", 500, "woocommerce:1234")
    assert second.payment_ref == "pi_3QbX7eLkdIwHu7ix0xYz1234"  # taken from the charge


def test_stripe_capture_authorization_and_dispute_close() -> None:
    _, _, body, headers = sample("stripe/payment_intent.amount_capturable_updated")
    (auth,) = normalize("stripe", body, headers, RECEIVED)
    assert (auth.amount, auth.currency, auth.expires_at) == (6497, "USD", None)
    card = {"card": {"capture_before": 1742551200}}
    body["data"]["object"]["latest_charge"] = {"id": "ch_1", "payment_method_details": card}
    (auth,) = normalize("stripe", body, headers, RECEIVED)
    assert auth.expires_at == datetime(2025, 3, 21, 10, 0, tzinfo=timezone.utc)
    body["type"] = "payment_intent.succeeded"
    body["data"]["object"]["amount_received"] = 6497
    (cap,) = normalize("stripe", body, headers, RECEIVED)
    assert (cap.kind, cap.amount, cap.capture_id) == ("payment_captured", 6497, "ch_1")
    body["type"] = "charge.captured"
    body["data"]["object"] = {"id": "ch_2", "amount_captured": 700, "currency": "jpy", "payment_intent": "pi_2"}
    (cc,) = normalize("stripe", body, headers, RECEIVED)
    assert (cc.kind, cc.payment_ref, cc.capture_id, cc.currency) == ("payment_captured", "pi_2", "ch_2", "JPY")
    body["type"] = "charge.dispute.closed"
    body["data"]["object"] = {"id": "dp_1", "status": "won", "payment_intent": "pi_1"}
    (closed,) = normalize("stripe", body, headers, RECEIVED)
    assert (closed.kind, closed.outcome, closed.dispute_id) == ("dispute_closed", "won", "dp_1")


def test_paypal_authorization_capture_and_dispute_resolution() -> None:
    _, _, body, headers = sample("paypal/PAYMENT.AUTHORIZATION.VOIDED")
    body["event_type"] = "PAYMENT.AUTHORIZATION.CREATED"
    (auth,) = normalize("paypal", body, headers, RECEIVED)
    assert (auth.kind, auth.amount, auth.order_id) == ("payment_authorized", 6497, "woocommerce:1235")
    assert auth.expires_at == datetime(2025, 4, 12, 10, 0, tzinfo=timezone.utc)
    body["event_type"] = "PAYMENT.CAPTURE.COMPLETED"
    related = {"related_ids": {"authorization_id": "AUTH1"}}
    body["resource"].update(id="CAP1", custom_id="shopify:77", supplementary_data=related)
    (cap,) = normalize("paypal", body, headers, RECEIVED)
    assert (cap.payment_ref, cap.capture_id, cap.order_id) == ("AUTH1", "CAP1", "shopify:77")
    del body["resource"]["supplementary_data"]
    (cap,) = normalize("paypal", body, headers, RECEIVED)
    assert cap.payment_ref == "CAP1"
    _, _, dispute, _ = sample("paypal/CUSTOMER.DISPUTE.CREATED")
    dispute["event_type"] = "CUSTOMER.DISPUTE.RESOLVED"
    dispute["resource"].update(status="RESOLVED", dispute_outcome={"outcome_code": "RESOLVED_SELLER_FAVOUR"})
    (closed,) = normalize("paypal", dispute, headers, RECEIVED)
    assert (closed.kind, closed.dispute_id) == ("dispute_closed", "PP-D-27803")
    assert (closed.outcome, closed.payment_ref) == ("RESOLVED_SELLER_FAVOUR", "3C679366HH908993F")


def test_shopify_orders_and_refunds() -> None:
    (placed,) = run("shopify/orders-cancelled", headers={"x-shopify-topic": "orders/updated"})
    assert (placed.kind, placed.gateway, placed.total) == ("order_placed", Gateway.PLATFORM, 5900)
    assert placed.order_id == "shopify:450789469" and not placed.shipped
    lines = [(ln.sku, ln.unit_price, ln.custom) for ln in placed.lines]
    assert lines == [("IPOD2008GREEN", 1900, False), ("TEE-CUSTOM-PRINT", 3500, True)]
    (shipped,) = run("shopify/orders-cancelled", _set("fulfillment_status", "fulfilled"),
                     {"x-shopify-topic": "orders/create"})  # fmt: skip
    assert shipped.shipped
    tx = {"id": 5, "kind": "refund", "status": "failure", "amount": "500", "currency": "JPY", "message": "declined"}
    (jpy,) = run("shopify/refunds-create", _set("transactions.0", tx))
    assert (jpy.amount, jpy.currency, jpy.status, jpy.failure_reason) == (500, "JPY", "failed", "declined")
    (pending,) = run("shopify/refunds-create", _set("transactions.0.status", "pending"))
    assert pending.status == "pending" and pending.refund_id == "389404469"
    (none,) = run("shopify/refunds-create", _set("transactions", [{"id": 6, "kind": "sale", "status": "success"}]))
    assert none.kind == "ignored"


@pytest.mark.parametrize(("topic", "decision"), [("accepted", "approved"), ("rejected", "rejected")])
def test_shopify_fulfillment_order_cancellation_answers(topic: str, decision: str) -> None:
    body = {"fulfillment_order": {"id": "gid://shopify/FulfillmentOrder/1046000789", "status": "in_progress"}}
    headers = {"x-shopify-topic": f"fulfillment_orders/cancellation_request_{topic}", "x-shopify-webhook-id": "w1"}
    (ev,) = normalize("shopify", body, headers, RECEIVED)
    assert (ev.decision, ev.order_id) == (decision, None)
    assert ev.platform_cancellation_id == "gid://shopify/FulfillmentOrder/1046000789"


@pytest.mark.parametrize(
    ("initiator", "expected"), [("CLIENT", "buyer"), ("BUYER", "buyer"), ("SELLER", "seller"), ("OZON", "platform")]
)
def test_ozon_polled_cancellation_request(initiator: str, expected: str) -> None:
    body = {
        "message_type": "TYPE_CANCELLATION_REQUESTED", "cancellation_id": 90871,
        "posting_number": "24219509-0020-1",
        "cancellation_initiator": initiator, "auto_approve_date": "2025-03-16T10:00:00Z",
        "cancellation_reason": {"id": 507, "name": "Покупатель передумал"}, "cancellation_reason_message": "",
        "cancelled_at": "2025-03-14T10:00:00Z", "state": {"id": 1, "name": "ON_APPROVAL", "state": "ON_APPROVAL"},
    }  # fmt: skip
    (req,) = normalize("ozon", body, {}, RECEIVED)
    assert (req.kind, req.initiator, req.request_id) == ("cancel_requested", Initiator(expected), "ozon:90871")
    assert (req.order_id, req.platform_cancellation_id) == ("ozon:24219509-0020-1", "90871")
    assert req.reason == "Покупатель передумал"
    assert req.auto_approve_at == datetime(2025, 3, 16, 10, 0, tzinfo=timezone.utc)
    assert req.occurred_at == datetime(2025, 3, 14, 10, 0, tzinfo=timezone.utc)
    with pytest.raises(MalformedPayload):
        normalize("ozon", {**body, "cancellation_initiator": "MARS"}, {}, RECEIVED)


def test_standard_withdrawal_and_initiators() -> None:
    (ev,) = run("standard/order.cancel_requested", _set("type", "order.cancel_withdrawn"))
    assert (ev.kind, ev.order_id) == ("cancel_withdrawn", "generic:A-10023")
    assert ev.request_id == "cr_01JPB3X2V9K7T5M8N4Q6R2S0W1"
    for raw, initiator in (("SELLER", Initiator.SELLER), ("system", Initiator.SYSTEM),
                           ("platform", Initiator.PLATFORM)):  # fmt: skip
        (req,) = run("standard/order.cancel_requested", _set("data.initiator", raw))
        assert req.initiator is initiator
