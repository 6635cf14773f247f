"""The cancellation-rate guardrail on the local stack: a seller-initiated cancellation that would
cross the margin waits in HoldForOperator; an operator's approval continues on its path."""

from __future__ import annotations

import itertools
from datetime import datetime, timezone
from typing import Any

import pytest

from backout.dispatch import Dispatcher
from backout.domain.events import (
    CancelRequested,
    Channel,
    Gateway,
    Initiator,
    LineItem,
    OrderPlaced,
    PlatformCancellationDecided,
)
from backout.ops.counters import COUNTS_PK, today
from backout.repo.orders import OrdersRepository
from tests.integration.test_saga_paths import decide, status, steps, wait_until

_postings = itertools.count(7_700_000)


def ozon_order(sku: str) -> str:
    """Record an Ozon order (the platform holds the money) through the dispatcher; returns its order id."""
    posting = f"{next(_postings)}-0001-1"
    order_id = f"ozon:{posting}"
    Dispatcher().apply(OrderPlaced(provider="ozon", source_id=f"test:{posting}:placed", occurred_at=datetime.now(timezone.utc),
                                   order_id=order_id, channel=Channel.OZON, external_id=posting, currency="RUB",
                                   total=150000, gateway=Gateway.PLATFORM,
                                   lines=(LineItem(line_id="1", sku=sku, quantity=1, unit_price=150000),)))
    return order_id


def cancel(order_id: str, initiator: Initiator) -> str:
    request_id = f"{order_id}#{initiator.value}"
    Dispatcher().apply(CancelRequested(provider="ozon", source_id=f"test:{request_id}", order_id=order_id,
                                       occurred_at=datetime.now(timezone.utc), request_id=request_id,
                                       initiator=initiator, reason="test"))
    return request_id


def seller_cancellations_today() -> int:
    repo = OrdersRepository()
    sk = f"{today().isoformat()}#cancelled#ozon#platform#seller"
    item = repo._get(COUNTS_PK, sk)  # noqa: SLF001 - reading the counter the guardrail reads
    return int(item["n"]) if item else 0


def test_seller_cancellation_near_the_threshold_is_held_then_approved(local_env: Any,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a margin that makes any Ozon seller cancellation in this session cross (limit 3 % - 2.9 pp = 0.1 %)
    monkeypatch.setenv("GUARDRAIL_MARGIN_PERCENT", "2.9")
    order_id = ozon_order("GR-OZON-1")
    before = seller_cancellations_today()
    # When the seller cancels
    cancel(order_id, Initiator.SELLER)
    wait_until(lambda: status(order_id) == "ON_HOLD")
    # Then the saga waits for an operator with reason "guardrail", before asking Ozon
    order = OrdersRepository().get_order(order_id)
    assert order["hold_reason"] == "guardrail"
    timeline = OrdersRepository().timeline(order_id)
    hold = next(s for s in timeline if s["step"] == "guardrail_hold")["detail"]
    assert hold["guardrail"] == "OzonSellerInitiated" and float(hold["limit_percent"]) == pytest.approx(0.1)
    assert "platform_cancellation_requested" not in steps(order_id)
    # When the operator approves, the cancellation continues on its own path: ask Ozon, wait for its decision
    assert decide(local_env, order_id, "approve") == 200
    wait_until(lambda: "waiting_for_platform_decision" in steps(order_id))
    assert "platform_cancellation_requested" in steps(order_id)
    Dispatcher().apply(PlatformCancellationDecided(provider="ozon", source_id=f"test:{order_id}:approved",
                                                   occurred_at=datetime.now(timezone.utc), order_id=order_id,
                                                   decision="approved"))
    wait_until(lambda: "cancelled" in steps(order_id))  # written after the count (the status moves first)
    assert status(order_id) == "CANCELLED"
    # And the cancellation is counted once, as seller-initiated
    assert seller_cancellations_today() == before + 1
    assert steps(order_id).count("held_for_operator") == 1


def test_buyer_cancellation_is_not_held(local_env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GUARDRAIL_MARGIN_PERCENT", "2.9")
    order_id = ozon_order("GR-OZON-2")
    cancel(order_id, Initiator.BUYER)
    wait_until(lambda: "waiting_for_platform_decision" in steps(order_id))
    assert "guardrail_hold" not in steps(order_id)
    assert status(order_id) == "CANCEL_REQUESTED"
