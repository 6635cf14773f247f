"""A TikTok Shop cancellation for an order Backout never recorded: the dispatcher learns the order from
TikTok's Get Order Detail (the fake), records it with its lines and total, and starts the request's saga,
which asks TikTok to approve the buyer's request; an order TikTok does not know stays parked."""

from __future__ import annotations

import itertools
from typing import Any

from backout.repo.orders import OrdersRepository
from tests.integration.flow import steps, wait_until
from tests.integration.test_platform_paths import tiktok_cancellation

_numbers = itertools.count(578_000_000_000_000_001)


def test_an_unknown_tiktok_order_is_learned_and_its_saga_starts(local_env: Any) -> None:
    external = str(next(_numbers))
    order_id = f"tiktok:{external}"
    local_env.tiktok.add_order(external, "USD", "30.99", [
        {"sku_id": "1729", "seller_sku": "TT-LEARN", "sale_price": "12.50"},
        {"sku_id": "1729", "seller_sku": "TT-LEARN", "sale_price": "12.50"},
        {"sale_price": "5.99"},  # no sku at all: recorded as custom, never restocked
    ])
    cancel_id = local_env.tiktok.add_cancellation(external)
    tiktok_cancellation(local_env, {"external": external}, cancel_id, "CANCELLATION_REQUEST_PENDING")

    request_id = f"tiktok:{cancel_id}"
    wait_until(lambda: any(s["step"] == "saga_started" and (s.get("detail") or {}).get("request_id") == request_id
                           for s in OrdersRepository().timeline(order_id)))
    order = OrdersRepository().require_order(order_id)
    assert (order["channel"], order["gateway"], order["currency"], int(order["total"])) == (
        "tiktok", "platform", "USD", 3099)
    assert [(x["sku"], int(x["quantity"]), int(x["unit_price"]), x["custom"]) for x in order["lines"]] == [
        ("TT-LEARN", 2, 1250, False), ("", 1, 599, True)]
    assert steps(order_id)[:2] == ["order_recorded", "cancel_requested"]
    assert ("GET", "/order/202309/orders") in local_env.tiktok.requests
    wait_until(lambda: any(e["cancel_id"] == cancel_id for e in local_env.tiktok.effects("approve")))
    assert len([e for e in local_env.tiktok.effects("approve") if e["cancel_id"] == cancel_id]) == 1


def test_an_order_tiktok_does_not_know_stays_parked(local_env: Any) -> None:
    external = str(next(_numbers))
    cancel_id = local_env.tiktok.add_cancellation(external)
    tiktok_cancellation(local_env, {"external": external}, cancel_id, "CANCELLATION_REQUEST_PENDING")
    local_env.stack.wait_idle()
    assert OrdersRepository().get_order(f"tiktok:{external}") is None
    assert [p["event"]["kind"] for p in OrdersRepository().parked(f"tiktok:{external}", None)] == ["cancel_requested"]
    assert not [e for e in local_env.tiktok.effects("approve") if e["cancel_id"] == cancel_id]


def test_a_tiktok_order_placed_then_cancelled_by_the_buyer_is_cancelled_end_to_end(local_env: Any) -> None:
    """Placed on TikTok (Backout has no record of it), then the buyer's cancellation request: Backout learns the
    order from Get Order Detail, approves once (202309 approve, with its idempotency key), and TikTok's
    CANCELLATION_REQUEST_SUCCESS webhook completes it: order CANCELLED, stock back once, TikTok refunds the buyer.
    Checked against the fake's ledger: one approve, no seller cancel, the order CANCELLED at TikTok."""
    from backout.repo.inventory import InventoryRepository
    from tests.integration.flow import status

    external = str(next(_numbers))
    order_id = f"tiktok:{external}"
    InventoryRepository().set_stock("TT-E2E", 0)
    local_env.tiktok.add_order(external, "GBP", "18.00", [{"sku_id": "91", "seller_sku": "TT-E2E", "sale_price": "9.00"},
                                                          {"sku_id": "91", "seller_sku": "TT-E2E", "sale_price": "9.00"}])
    cancel_id = local_env.tiktok.add_cancellation(external)
    tiktok_cancellation(local_env, {"external": external}, cancel_id, "CANCELLATION_REQUEST_PENDING")
    wait_until(lambda: "waiting_for_platform_decision" in steps(order_id))
    assert local_env.tiktok.status(cancel_id) == "CANCELLATION_REQUEST_SUCCESS"
    assert status(order_id) == "CANCEL_REQUESTED" and InventoryRepository().stock("TT-E2E") == 0
    tiktok_cancellation(local_env, {"external": external}, cancel_id, "CANCELLATION_REQUEST_SUCCESS")
    local_env.stack.wait_idle()
    assert status(order_id) == "CANCELLED"
    assert InventoryRepository().stock("TT-E2E") == 2
    assert [e["cancel_id"] for e in local_env.tiktok.effects("approve")].count(cancel_id) == 1
    assert not [e for e in local_env.tiktok.effects("seller_cancel") if e["order_id"] == external]
    assert local_env.tiktok.orders[external]["status"] == "CANCELLED"
    settled = OrdersRepository().get_effect(order_id, f"settle#tiktok:{cancel_id}")
    assert settled is not None and settled["result"]["outcome"] == "platform_refunds"
    assert (settled["result"]["amount"], settled["result"]["currency"]) == (1800, "GBP")
