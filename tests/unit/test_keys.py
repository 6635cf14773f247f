"""Dedupe keys and topics of webhook deliveries (backout.ingress.keys)."""

from __future__ import annotations

import ast
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from backout.ingress.keys import PROVIDERS, MalformedPayload, canonical_json, dedupe_key, topic_of

EVENTS = Path(__file__).resolve().parents[2] / "events"
KEYS_PY = Path(__file__).resolve().parents[2] / "shared" / "backout" / "ingress" / "keys.py"


def load(name: str) -> tuple[str, Any, dict[str, str]]:
    """(provider, parsed body, headers) of the sample ``events/<name>.json``."""
    event = json.loads((EVENTS / f"{name}.json").read_text())
    return name.split("/")[0], json.loads(event["body"]), event["headers"]


def ozon_hash(name: str) -> str:
    _, body, _ = load(name)
    raw = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "ozon:" + hashlib.sha256(raw.encode("utf-8")).hexdigest()


SAMPLE_KEYS: dict[str, tuple[str, str]] = {
    "aftership/tracking_update.Delivered": (
        "aftership:a3b4c5d6-e7f8-4a9b-8c0d-1e2f3a4b5c6d",
        "tracking_update",
    ),
    "aftership/tracking_update.Exception_011": (
        "aftership:b4c5d6e7-f8a9-4b0c-9d1e-2f3a4b5c6d7e",
        "tracking_update",
    ),
    "easypost/tracker.updated.return_to_sender": (
        "easypost:evt_9a8b7c6d5e4f4a3b9c2d1e0f",
        "tracker.updated",
    ),
    "ozon/TYPE_PING": ("<hash>", "TYPE_PING"),
    "ozon/TYPE_POSTING_CANCELLED": ("<hash>", "TYPE_POSTING_CANCELLED"),
    "ozon/TYPE_STATE_CHANGED": ("<hash>", "TYPE_STATE_CHANGED"),
    "paypal/CUSTOMER.DISPUTE.CREATED": (
        "paypal:WH-4M0448861G563140B-9EX36365822141321",
        "CUSTOMER.DISPUTE.CREATED",
    ),
    "paypal/PAYMENT.AUTHORIZATION.VOIDED": (
        "paypal:WH-2WR32451HC0233532-67976317FL4543714",
        "PAYMENT.AUTHORIZATION.VOIDED",
    ),
    "paypal/PAYMENT.CAPTURE.REFUNDED": (
        "paypal:WH-1GE84257G0350133W-6RW800890C634293G",
        "PAYMENT.CAPTURE.REFUNDED",
    ),
    "shopify/fulfillment_events-create": (
        "shopify:1b0c9d8e-7f6a-4b5c-8d3e-2f1a0b9c8d7e",
        "fulfillment_events/create",
    ),
    "shopify/orders-cancelled": (
        "shopify:98880550-7158-44d4-b7cd-2c97c8a091b5",
        "orders/cancelled",
    ),
    "shopify/refunds-create": ("shopify:0a9b8c7d-6e5f-4a3b-9c2d-1e0f9a8b7c6d", "refunds/create"),
    "standard/order.cancel_requested": (
        "standard:msg_2uTJ8kQ3wZfYx1c9GhP4aN7sVbE",
        "order.cancel_requested",
    ),
    "stripe/charge.dispute.created": (
        "stripe:evt_3QbX7eLkdIwHu7ix0dPc1007",
        "charge.dispute.created",
    ),
    "stripe/charge.expired": ("stripe:evt_3QbX7eLkdIwHu7ix0eXp1003", "charge.expired"),
    "stripe/charge.refunded": ("stripe:evt_3QbX7eLkdIwHu7ix0cRf1006", "charge.refunded"),
    "stripe/payment_intent.amount_capturable_updated": (
        "stripe:evt_3QbX7eLkdIwHu7ix0aCu1001",
        "payment_intent.amount_capturable_updated",
    ),
    "stripe/payment_intent.canceled": (
        "stripe:evt_3QbX7eLkdIwHu7ix0cAn1002",
        "payment_intent.canceled",
    ),
    "stripe/refund.failed": ("stripe:evt_3QbX7eLkdIwHu7ix0rFa1005", "refund.failed"),
    "stripe/refund.updated": ("stripe:evt_3QbX7eLkdIwHu7ix0rUp1004", "refund.updated"),
    "tiktok/cancellation_status_change.pending": ("tiktok:7481562093017284366", "11"),
    "woocommerce/order.cancel-request": (
        "woocommerce:1234:order.updated:2025-03-14T11:00:00",
        "order.updated",
    ),
    "woocommerce/order.cancel-withdrawn": (
        "woocommerce:1234:order.updated:2025-03-14T11:10:00",
        "order.updated",
    ),
    "woocommerce/order.created": (
        "woocommerce:1234:order.created:2025-03-14T10:02:15",
        "order.created",
    ),
}


def test_every_sample_has_an_expected_key() -> None:
    names = {str(p.relative_to(EVENTS).with_suffix("")) for p in EVENTS.glob("*/*.json")}
    assert names == set(SAMPLE_KEYS)


@pytest.mark.parametrize("name", sorted(SAMPLE_KEYS))
def test_sample_key_and_topic(name: str) -> None:
    provider, body, headers = load(name)
    expected_key, expected_topic = SAMPLE_KEYS[name]
    if expected_key == "<hash>":
        expected_key = ozon_hash(name)
    assert dedupe_key(provider, body, headers) == expected_key
    assert dedupe_key(provider, body, headers) == expected_key  # stable
    assert topic_of(provider, body, headers) == expected_topic


def test_ozon_key_is_canonical_sha256() -> None:
    a = {"message_type": "TYPE_STATE_CHANGED", "posting_number": "1-2-3", "reason": "Отмена"}
    b = {"reason": "Отмена", "posting_number": "1-2-3", "message_type": "TYPE_STATE_CHANGED"}
    digest = hashlib.sha256(canonical_json(a).encode("utf-8")).hexdigest()
    assert canonical_json(a) == '{"message_type":"TYPE_STATE_CHANGED","posting_number":"1-2-3",' \
        '"reason":"Отмена"}'
    assert dedupe_key("ozon", a, {}) == dedupe_key("ozon", b, {}) == f"ozon:{digest}"
    assert dedupe_key("ozon", {**a, "posting_number": "1-2-4"}, {}) != f"ozon:{digest}"


def test_shopify_prefers_event_id_then_webhook_id() -> None:
    both = {"x-shopify-event-id": "ev-1", "x-shopify-webhook-id": "wh-1"}
    assert dedupe_key("shopify", {}, both) == "shopify:ev-1"
    assert dedupe_key("shopify", {}, {"x-shopify-webhook-id": "wh-1"}) == "shopify:wh-1"
    empty_event = {"x-shopify-event-id": "", "x-shopify-webhook-id": "wh-1"}
    assert dedupe_key("shopify", {}, empty_event) == "shopify:wh-1"
    with pytest.raises(MalformedPayload):
        dedupe_key("shopify", {}, {"x-shopify-topic": "orders/updated"})


def test_header_names_are_case_insensitive() -> None:
    assert dedupe_key("standard", {}, {"Webhook-Id": "msg_1"}) == "standard:msg_1"
    assert topic_of("shopify", {}, {"X-Shopify-Topic": "orders/cancelled"}) == "orders/cancelled"


def test_integer_ids_become_strings() -> None:
    assert dedupe_key("stripe", {"id": 42}, {}) == "stripe:42"
    body = {"id": 77, "date_modified_gmt": "2025-01-02T03:04:05"}
    headers = {"x-wc-webhook-topic": "order.updated"}
    assert dedupe_key("woocommerce", body, headers) == "woocommerce:77:order.updated:2025-01-02T03:04:05"


@pytest.mark.parametrize(
    ("provider", "body", "headers"),
    [
        ("stripe", {}, {}),
        ("stripe", {"id": ""}, {}),
        ("stripe", {"id": "  "}, {}),
        ("stripe", {"id": True}, {}),
        ("stripe", {"id": 1.5}, {}),
        ("stripe", {"id": None}, {}),
        ("stripe", {"id": {"nested": 1}}, {}),
        ("stripe", [{"id": "evt_1"}], {}),
        ("stripe", "evt_1", {}),
        ("paypal", {"event_type": "X"}, {}),
        ("tiktok", {"type": 11}, {}),
        ("aftership", {"event": "tracking_update"}, {}),
        ("easypost", {"description": "tracker.updated"}, {}),
        ("standard", {}, {}),
        ("standard", {"id": "msg_1"}, {"webhook-id": ""}),
        ("woocommerce", {"id": 1}, {"x-wc-webhook-topic": "order.updated"}),
        ("woocommerce", {"id": 1, "date_modified_gmt": "2025-01-01T00:00:00"}, {}),
        ("woocommerce", {"date_modified_gmt": "2025-01-01T00:00:00"}, {"x-wc-webhook-topic": "t"}),
        ("woocommerce", "webhook_id=12", {"x-wc-webhook-topic": "order.updated"}),
        ("ozon", {}, {}),
        ("ozon", [], {}),
        ("ozon", "TYPE_PING", {}),
        ("nosuchprovider", {"id": "x"}, {}),
    ],
)
def test_malformed_deliveries_raise(provider: str, body: Any, headers: dict[str, str]) -> None:
    with pytest.raises(MalformedPayload) as info:
        dedupe_key(provider, body, headers)
    assert isinstance(info.value, ValueError)
    assert info.value.reason


@pytest.mark.parametrize(
    ("provider", "body", "headers", "topic"),
    [
        ("stripe", {"type": "charge.refunded"}, {}, "charge.refunded"),
        ("paypal", {"event_type": "PAYMENT.CAPTURE.REFUNDED"}, {}, "PAYMENT.CAPTURE.REFUNDED"),
        ("shopify", {}, {"x-shopify-topic": "refunds/create"}, "refunds/create"),
        ("woocommerce", {}, {"x-wc-webhook-topic": "order.updated"}, "order.updated"),
        ("tiktok", {"type": 11}, {}, "11"),
        ("tiktok", {"type": "CANCELLATION_STATUS_CHANGE"}, {}, "CANCELLATION_STATUS_CHANGE"),
        ("aftership", {"event": "tracking_update"}, {}, "tracking_update"),
        ("easypost", {"description": "tracker.updated"}, {}, "tracker.updated"),
        ("ozon", {"message_type": "TYPE_PING"}, {}, "TYPE_PING"),
        ("standard", {"type": "order.cancel_requested"}, {}, "order.cancel_requested"),
        ("standard", {"data": {}}, {}, ""),
        ("standard", ["not", "an", "object"], {}, ""),
    ],
)
def test_topic_of(provider: str, body: Any, headers: dict[str, str], topic: str) -> None:
    assert topic_of(provider, body, headers) == topic


@pytest.mark.parametrize(
    ("provider", "body", "headers"),
    [
        ("stripe", {}, {}),
        ("stripe", "charge.refunded", {}),
        ("shopify", {}, {}),
        ("woocommerce", {}, {"x-wc-webhook-topic": ""}),
        ("ozon", {"message_type": None}, {}),
        ("tiktok", {"type": True}, {}),
        ("nosuchprovider", {}, {}),
    ],
)
def test_topic_of_missing_raises(provider: str, body: Any, headers: dict[str, str]) -> None:
    with pytest.raises(MalformedPayload):
        topic_of(provider, body, headers)


def test_every_provider_has_a_key_and_topic() -> None:
    assert set(PROVIDERS) == {
        "stripe", "paypal", "shopify", "woocommerce", "ozon",
        "tiktok", "aftership", "easypost", "standard",
    }  # fmt: skip


def test_keys_module_imports_only_the_standard_library() -> None:
    tree = ast.parse(KEYS_PY.read_text())
    modules = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module.split(".")[0])
    assert modules <= set(sys.stdlib_module_names), modules
