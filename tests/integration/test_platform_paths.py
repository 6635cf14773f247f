"""Issue 4, the marketplace paths on the local stack: Ozon, TikTok Shop and Shopify decide the
cancellation through their APIs (local fakes), the decision comes back by webhook (posted through
the local HTTP API) or is found by the watchdog, and long waits heartbeat or time out into an
operator hold. Each path ends with the order's money and stock right, and the fakes' ledgers show
every platform call was made exactly once, also when a call's answer was lost and the task retried."""

from __future__ import annotations

import itertools
import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from backout.adapters.shopify import ShopifyClient
from backout.dispatch import Dispatcher
from backout.domain.events import Channel, Gateway, LineItem, OrderPlaced, ShipmentScanned, ShipmentStatus
from backout.ingress.normalize import normalize
from backout.repo.inventory import InventoryRepository
from backout.repo.orders import OrdersRepository
from backout_dev.sender import OZON_SAMPLE_SELLER_ID, load_sample, send_event
from backout_dev.template import ROOT
from tests.integration.flow import wait_until, steps, status

_numbers = itertools.count(31_000_000)
WAREHOUSE = 1020000043127000


# ------------------------------------------------------------------ helpers
@pytest.fixture()
def no_guardrail(monkeypatch: pytest.MonkeyPatch) -> None:
    """Seller-initiated cancellations here are not near a rate threshold (rule 11 has its own tests)."""
    monkeypatch.setenv("GUARDRAIL_MARGIN_PERCENT", "-1000")


def iso(offset: float = 0) -> str:
    return (datetime.now(timezone.utc) + timedelta(seconds=offset)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def post(env: Any, sample: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
    """Sign and post a webhook through the local HTTP API (receiver, inbox, stream, dispatcher)."""
    event = load_sample(ROOT / "events" / f"{sample}.json")
    event["headers"] = {**event["headers"], **(headers or {})}
    code, answer = send_event(env.url, event, env.secrets, body)
    assert code == 200, answer


def settlement(order_id: str, request_id: str) -> dict[str, Any]:
    """What SettlePayment recorded for the request (the platform holds and refunds the money)."""
    return dict((OrdersRepository().get_effect(order_id, f"settle#{request_id}") or {})["result"])


def held_error(order_id: str) -> str:
    held = [s for s in OrdersRepository().timeline(order_id) if s["step"] == "held_for_operator"]
    return str(held[-1]["detail"]["error"]["Error"])


def watchdog(env: Any) -> dict[str, Any]:
    report, errored = env.stack.invoke("WatchdogFunction", {"source": "aws.events"})
    assert not errored, report
    return dict(report or {})


def execution_of(env: Any, order_id: str, request_id: str) -> dict[str, Any]:
    from backout.dispatch import execution_name

    return next(e for e in env.stack.executions() if e["name"] == execution_name(order_id, request_id))


# ------------------------------------------------------------------ Ozon
def ozon_order(env: Any, sku: str, qty: int = 1, price: str = "700.00") -> dict[str, Any]:
    """A new posting pushed by Ozon (TYPE_NEW_POSTING) becomes a known order."""
    posting = f"{next(_numbers)}-0001-1"
    body = {"message_type": "TYPE_NEW_POSTING", "posting_number": posting,
            "products": [{"sku": 147_000_000 + qty, "offer_id": sku, "quantity": qty, "price": price}],
            "currency_code": "RUB", "in_process_at": iso(-60), "warehouse_id": WAREHOUSE,
            "seller_id": OZON_SAMPLE_SELLER_ID}
    post(env, "ozon/TYPE_POSTING_CANCELLED", body)
    env.stack.wait_idle()
    order_id = f"ozon:{posting}"
    assert status(order_id) == "OPEN"
    return {"posting": posting, "order_id": order_id, "qty": qty}


def ozon_buyer_request(env: Any, order: dict[str, Any]) -> str:
    """The buyer asks Ozon; Backout's poller feeds the conditional-cancellation item in."""
    cid = env.ozon.add_cancellation(order["posting"], initiator="CLIENT")
    item = {**env.ozon.cancellations[cid], "message_type": "TYPE_CANCELLATION_REQUESTED"}
    for event in normalize("ozon", item, {}, datetime.now(timezone.utc)):
        Dispatcher().apply(event)
    return f"ozon:{cid}"


def seller_request(env: Any, order_id: str, initiator: str = "seller") -> str:
    """The seller's own system asks Backout to cancel (Standard Webhooks)."""
    request_id = f"req_{uuid.uuid4().hex[:12]}"
    body = {"type": "order.cancel_requested", "timestamp": iso(),
            "data": {"order_id": order_id, "request_id": request_id, "initiator": initiator,
                     "reason": "out of stock"}}
    post(env, "standard/order.cancel_requested", body, {"webhook-id": f"msg_{uuid.uuid4().hex}"})
    return request_id


def ozon_posting_cancelled(env: Any, order: dict[str, Any]) -> None:
    """Ozon's push once it has cancelled the posting (its decision)."""
    post(env, "ozon/TYPE_POSTING_CANCELLED", {
        "message_type": "TYPE_POSTING_CANCELLED", "posting_number": order["posting"],
        "products": [{"sku": 147_000_000 + order["qty"], "quantity": order["qty"]}],
        "old_state": "posting_awaiting_packaging", "new_state": "posting_canceled", "changed_state_date": iso(),
        "reason": {"id": 352, "message": "cancelled"}, "warehouse_id": WAREHOUSE, "seller_id": OZON_SAMPLE_SELLER_ID})


def ozon_in_carriage(env: Any, order: dict[str, Any]) -> None:
    post(env, "ozon/TYPE_POSTING_CANCELLED", {
        "message_type": "TYPE_STATE_CHANGED", "posting_number": order["posting"], "new_state": "posting_in_carriage",
        "changed_state_date": iso(-5), "warehouse_id": WAREHOUSE, "seller_id": OZON_SAMPLE_SELLER_ID})
    env.stack.wait_idle()


def test_ozon_buyer_request_is_approved_once_and_ozon_confirms(local_env: Any) -> None:
    InventoryRepository().set_stock("OZ-BUY", 3)
    order = ozon_order(local_env, "OZ-BUY", qty=2)
    local_env.ozon.drop_next_response(path_contains="/conditional-cancellation/approve")  # the answer is lost
    request_id = ozon_buyer_request(local_env, order)
    wait_until(lambda: "waiting_for_platform_decision" in steps(order["order_id"]))
    cid = int(request_id.split(":")[1])
    assert local_env.ozon.state(cid) == "APPROVED"
    assert [e["cancellation_id"] for e in local_env.ozon.effects("approve")].count(cid) == 1  # retried, asked once
    assert status(order["order_id"]) == "CANCEL_REQUESTED"  # nothing moves before Ozon confirms
    assert InventoryRepository().stock("OZ-BUY") == 3
    ozon_posting_cancelled(local_env, order)
    local_env.stack.wait_idle()
    assert status(order["order_id"]) == "CANCELLED"
    assert InventoryRepository().stock("OZ-BUY") == 5
    assert settlement(order["order_id"], request_id) == {"outcome": "platform_refunds", "amount": 140000,
                                                         "currency": "RUB", "refund_ids": []}


def test_ozon_seller_request_cancels_the_posting_once_then_ozon_confirms(local_env: Any, no_guardrail: None) -> None:
    """/v2/posting/fbs/cancel "Меняет статус отправления на `cancelled`"
    (https://docs.ozon.ru/api/seller/#operation/PostingAPI_CancelFbsPosting): the posting is cancelled at once and
    no seller request is opened; Backout asks once, with no transient error and no second cancel, and its wait is
    answered by Ozon's TYPE_POSTING_CANCELLED push."""
    InventoryRepository().set_stock("OZ-SELL", 0)
    order = ozon_order(local_env, "OZ-SELL")
    local_env.ozon.fail_next(1, 503, path_contains="/posting/fbs/cancel")  # Ozon hiccups once: retried
    request_id = seller_request(local_env, order["order_id"])
    wait_until(lambda: "waiting_for_platform_decision" in steps(order["order_id"]))
    assert local_env.ozon.posting_status(order["posting"]) == "cancelled"
    assert local_env.ozon.requests_for(order["posting"]) == []  # no conditional cancellation is opened
    assert len([e for e in local_env.ozon.effects("cancel_posting") if e["posting_number"] == order["posting"]]) == 1
    assert status(order["order_id"]) == "CANCEL_REQUESTED" and InventoryRepository().stock("OZ-SELL") == 0
    ozon_posting_cancelled(local_env, order)
    local_env.stack.wait_idle()
    assert status(order["order_id"]) == "CANCELLED"
    assert InventoryRepository().stock("OZ-SELL") == 1
    assert "held_for_operator" not in steps(order["order_id"])
    assert len([e for e in local_env.ozon.effects("cancel_posting") if e["posting_number"] == order["posting"]]) == 1
    assert settlement(order["order_id"], request_id)["outcome"] == "platform_refunds"


def test_ozon_buyer_request_on_a_shipped_posting_is_rejected(local_env: Any) -> None:
    InventoryRepository().set_stock("OZ-SHIP", 0)
    order = ozon_order(local_env, "OZ-SHIP")
    ozon_in_carriage(local_env, order)
    request_id = ozon_buyer_request(local_env, order)
    local_env.stack.wait_idle()
    cid = int(request_id.split(":")[1])
    assert local_env.ozon.state(cid) == "REJECTED"
    assert [e["cancellation_id"] for e in local_env.ozon.effects("reject")].count(cid) == 1
    assert cid not in [e["cancellation_id"] for e in local_env.ozon.effects("approve")]
    assert status(order["order_id"]) == "OPEN"
    assert "cancellation_rejected" in steps(order["order_id"])
    assert InventoryRepository().stock("OZ-SHIP") == 0  # nothing restocked
    assert OrdersRepository().get_effect(order["order_id"], f"settle#{request_id}") is None  # no money moved


# ------------------------------------------------------------------ TikTok Shop
def tiktok_order(sku: str, total: int = 2500) -> dict[str, Any]:
    external = str(577_000_000_000 + next(_numbers))
    order_id = f"tiktok:{external}"
    Dispatcher().apply(OrderPlaced(provider="tiktok", source_id=f"tt_order_{external}",
                                   occurred_at=datetime.now(timezone.utc) - timedelta(minutes=1), order_id=order_id,
                                   channel=Channel.TIKTOK, external_id=external, currency="USD", total=total,
                                   gateway=Gateway.PLATFORM,
                                   lines=(LineItem(line_id="1", sku=sku, quantity=1, unit_price=total),)))
    return {"external": external, "order_id": order_id}


def tiktok_cancellation(env: Any, order: dict[str, Any], cancel_id: str, cancel_status: str) -> None:
    now = int(time.time())
    post(env, "tiktok/cancellation_status_change.pending", {
        "type": 11, "tts_notification_id": str(7_481_000_000_000_000_000 + next(_numbers)),
        "shop_id": "7494049642642441621", "timestamp": now,
        "data": {"order_id": order["external"], "cancellations_role": "BUYER", "cancel_status": cancel_status,
                 "cancel_id": cancel_id, "create_time": now, "update_time": now}})


def test_tiktok_buyer_request_is_approved_once(local_env: Any) -> None:
    InventoryRepository().set_stock("TT-OK", 4)
    order = tiktok_order("TT-OK")
    cancel_id = local_env.tiktok.add_cancellation(order["external"])
    local_env.tiktok.fail_next(1, 503, path_contains=f"/{cancel_id}/approve")  # TikTok hiccups once
    tiktok_cancellation(local_env, order, cancel_id, "CANCELLATION_REQUEST_PENDING")
    wait_until(lambda: "waiting_for_platform_decision" in steps(order["order_id"]))
    approvals = [e for e in local_env.tiktok.effects("approve") if e["cancel_id"] == cancel_id]
    assert len(approvals) == 1 and approvals[0]["idempotency_key"].startswith("backout:")
    assert status(order["order_id"]) == "CANCEL_REQUESTED"
    tiktok_cancellation(local_env, order, cancel_id, "CANCELLATION_REQUEST_SUCCESS")
    local_env.stack.wait_idle()
    assert status(order["order_id"]) == "CANCELLED"
    assert InventoryRepository().stock("TT-OK") == 5
    assert settlement(order["order_id"], f"tiktok:{cancel_id}") == {"outcome": "platform_refunds", "amount": 2500,
                                                                    "currency": "USD", "refund_ids": []}


def test_tiktok_buyer_request_on_a_shipped_order_is_rejected(local_env: Any) -> None:
    InventoryRepository().set_stock("TT-SHIP", 0)
    order = tiktok_order("TT-SHIP")
    Dispatcher().apply(ShipmentScanned(provider="tiktok", source_id=f"tt_pkg_{order['external']}",
                                       occurred_at=datetime.now(timezone.utc), order_id=order["order_id"],
                                       status=ShipmentStatus.IN_TRANSIT))
    cancel_id = local_env.tiktok.add_cancellation(order["external"])
    tiktok_cancellation(local_env, order, cancel_id, "CANCELLATION_REQUEST_PENDING")
    local_env.stack.wait_idle()
    assert local_env.tiktok.status(cancel_id) == "CANCELLATION_REQUEST_CANCEL"  # closed: TikTok has no "rejected"
    assert len([e for e in local_env.tiktok.effects("reject") if e["cancel_id"] == cancel_id]) == 1
    assert not [e for e in local_env.tiktok.effects("approve") if e["cancel_id"] == cancel_id]
    assert status(order["order_id"]) == "OPEN"
    assert InventoryRepository().stock("TT-SHIP") == 0


# ------------------------------------------------------------------ Shopify
def shopify_headers(topic: str) -> dict[str, str]:
    return {"x-shopify-topic": topic, "x-shopify-event-id": str(uuid.uuid4()), "x-shopify-triggered-at": iso()}


def test_shopify_order_cancel_refunds_through_shopify_and_restocks_once(local_env: Any, no_guardrail: None) -> None:
    InventoryRepository().set_stock("SH-A", 1)
    number = 450_000_000 + next(_numbers)
    gid = local_env.shopify.add_order(number, financial_status="PAID")
    order_body = {"id": number, "admin_graphql_api_id": gid, "name": f"#{number}", "currency": "USD",
                  "total_price": "38.00", "financial_status": "paid", "fulfillment_status": None,
                  "created_at": iso(-120), "updated_at": iso(-60), "cancelled_at": None,
                  "line_items": [{"id": 1, "sku": "SH-A", "quantity": 2, "price": "19.00"}]}
    post(local_env, "shopify/orders-cancelled", order_body, shopify_headers("orders/create"))
    local_env.stack.wait_idle()
    order_id = f"shopify:{number}"
    request_id = seller_request(local_env, order_id, initiator="buyer")
    wait_until(lambda: "waiting_for_platform_decision" in steps(order_id))
    [cancel] = [e for e in local_env.shopify.effects("cancel") if e["order_id"] == gid]
    assert (cancel["reason"], cancel["refund_method"], cancel["restock"]) == (
        "CUSTOMER", {"originalPaymentMethodsRefund": True}, False)  # stock is ours
    assert local_env.shopify.orders[gid]["displayFinancialStatus"] == "REFUNDED"
    cancelled = {**order_body, "cancelled_at": iso(), "updated_at": iso(), "financial_status": "refunded"}
    post(local_env, "shopify/orders-cancelled", cancelled, shopify_headers("orders/cancelled"))
    local_env.stack.wait_idle()
    assert status(order_id) == "CANCELLED"
    assert InventoryRepository().stock("SH-A") == 3
    assert settlement(order_id, request_id) == {"outcome": "platform_refunds", "amount": 3800, "currency": "USD",
                                                "refund_ids": []}
    assert len([e for e in local_env.shopify.effects("cancel") if e["order_id"] == gid]) == 1


# ------------------------------------------------------------------ watchdog, heartbeats, timeouts
def test_watchdog_resumes_a_wait_whose_webhook_was_lost(local_env: Any, no_guardrail: None) -> None:
    InventoryRepository().set_stock("OZ-LOST", 0)
    order = ozon_order(local_env, "OZ-LOST")
    seller_request(local_env, order["order_id"])
    wait_until(lambda: "waiting_for_platform_decision" in steps(order["order_id"]))
    assert local_env.ozon.posting_status(order["posting"]) == "cancelled"  # ... and the push never arrives
    assert watchdog(local_env)["completed"] >= 1  # the watchdog reads the posting's status instead
    local_env.stack.wait_idle()
    assert status(order["order_id"]) == "CANCELLED"
    assert InventoryRepository().stock("OZ-LOST") == 1
    decided = [s for s in OrdersRepository().timeline(order["order_id"])
               if s["step"] == "platform_cancellation_decided"]
    assert len(decided) == 1 and decided[0]["detail"]["source_id"].startswith("watchdog:")
    watchdog(local_env)  # the token is used: a second pass changes nothing
    assert steps(order["order_id"]).count("platform_cancellation_decided") == 1


def test_watchdog_heartbeats_keep_an_undecided_wait_alive(local_env: Any, monkeypatch: pytest.MonkeyPatch,
                                                          no_guardrail: None) -> None:
    """Shopify's cancel runs as a job; while it runs the order is not cancelled and the wait is heartbeated."""
    monkeypatch.setenv("HEARTBEAT_SECONDS", "2")
    local_env.shopify.cancel_job_polls = 10**9  # the cancel job does not finish on its own
    number = 460_000_000 + next(_numbers)
    gid = local_env.shopify.add_order(number, financial_status="PAID")
    order_body = {"id": number, "admin_graphql_api_id": gid, "name": f"#{number}", "currency": "USD",
                  "total_price": "10.00", "financial_status": "paid", "fulfillment_status": None,
                  "created_at": iso(-120), "updated_at": iso(-60), "cancelled_at": None,
                  "line_items": [{"id": 1, "sku": "SH-HB", "quantity": 1, "price": "10.00"}]}
    post(local_env, "shopify/orders-cancelled", order_body, shopify_headers("orders/create"))
    local_env.stack.wait_idle()
    order_id = f"shopify:{number}"
    try:
        request_id = seller_request(local_env, order_id, initiator="buyer")
        wait_until(lambda: "waiting_for_platform_decision" in steps(order_id))
        for _ in range(5):  # 5 s, more than twice the heartbeat interval; the cancel job still runs
            time.sleep(1.0)
            assert watchdog(local_env)["heartbeats"] >= 1
            assert "platform_cancellation_decided" not in steps(order_id)
        assert status(order_id) == "CANCEL_REQUESTED" and "held_for_operator" not in steps(order_id)
        assert execution_of(local_env, order_id, request_id)["status"] == "RUNNING"
    finally:
        local_env.shopify.cancel_job_polls = 0
    [job] = [j for j in local_env.shopify.jobs.values() if j["order_id"] == gid]
    assert ShopifyClient(local_env.shopify.url, local_env.shopify.access_token).job_done(job["id"])  # job ends
    assert watchdog(local_env)["completed"] >= 1  # the order is cancelled now: the watchdog finds it
    local_env.stack.wait_idle()
    assert status(order_id) == "CANCELLED"


@pytest.mark.parametrize("limit", ["PLATFORM_APPROVAL_TIMEOUT_SECONDS", "HEARTBEAT_SECONDS"])
def test_a_wait_that_expires_goes_to_the_operator(local_env: Any, monkeypatch: pytest.MonkeyPatch,
                                                 limit: str, no_guardrail: None) -> None:
    monkeypatch.setenv(limit, "1")
    InventoryRepository().set_stock(f"OZ-EXP-{limit}", 0)
    order = ozon_order(local_env, f"OZ-EXP-{limit}")
    seller_request(local_env, order["order_id"])
    wait_until(lambda: "held_for_operator" in steps(order["order_id"]), timeout=20)
    assert held_error(order["order_id"]) == "States.Timeout"
    assert status(order["order_id"]) == "ON_HOLD"
    assert InventoryRepository().stock(f"OZ-EXP-{limit}") == 0
