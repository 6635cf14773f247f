"""`backout replay` on the local stack: a dead-lettered delivery is re-driven exactly once."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from backout.dispatch import Dispatcher
from backout.ingress.receiver import InboxRecord
from backout.repo.orders import OrdersRepository
from backout_dev.replay import replay_all
from backout_dev.targets.local import LocalTarget
from tests.conftest import Shop, line
from tests.integration.test_saga_paths import steps, wait_until


def _dispatch_poller(env: Any) -> Any:
    return next(p for p in env.stack.pollers if p.function_name == "DispatcherFunction")


def _dispatch_result(env: Any) -> Any:
    return next(r for r in replay_all(env.stack) if r.queue == "DispatchDeadLetterQueue")


def test_dead_lettered_delivery_is_replayed_exactly_once(shop: Shop, local_env: Any,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a dispatcher that fails on one order's delivery until its retries run out
    original = Dispatcher.handle_record
    broken: set[str] = set()

    def failing(self: Dispatcher, record: InboxRecord) -> list[str]:
        if any(sku in record.body for sku in broken):
            raise RuntimeError("injected dispatcher fault")
        return original(self, record)

    monkeypatch.setattr(Dispatcher, "handle_record", failing)
    poller = _dispatch_poller(local_env)
    dead_before = poller.dead_lettered
    sku = f"RP-{uuid.uuid4().hex[:8]}"
    broken.add(sku)
    order = shop.place([line(1, sku, 1, "12.00")])
    wait_until(lambda: poller.dead_lettered > dead_before)
    local_env.stack.wait_idle()
    assert OrdersRepository().get_order(order["order_id"]) is None

    # When replay runs while the fault persists, the message stays on the queue
    still_failing = _dispatch_result(local_env)
    assert still_failing.failures and any("injected dispatcher fault" in f for f in still_failing.failures)
    assert OrdersRepository().get_order(order["order_id"]) is None

    # And the operator sees it listed (twice in a row: listing consumes nothing), without its payload
    target = LocalTarget(local_env.url)
    for _ in range(2):
        letters = [d for d in target.dead_letters() if d["queue"] == "DispatchDeadLetterQueue"]
        assert letters and all(sku not in d["summary"] for d in letters)
        assert any(d["summary"].startswith("stream batch of ") for d in letters)

    # When the fault is fixed and replay runs (POST /operator/dead-letters/replay), the delivery is
    # dispatched and the message deleted
    broken.clear()
    answer = target.replay()
    fixed = next(q for q in answer["queues"] if q["queue"] == "DispatchDeadLetterQueue")
    assert fixed["failures"] == [] and fixed["redriven"] >= 1 and answer["remaining"] is False
    local_env.stack.wait_idle()
    recorded = OrdersRepository().get_order(order["order_id"])
    assert recorded is not None and recorded["status"] == "OPEN"

    # And a second replay finds nothing: the order is recorded and counted once
    again = _dispatch_result(local_env)
    assert (again.messages, again.redriven) == (0, 0)
    assert steps(order["order_id"]).count("order_recorded") == 1
    markers = OrdersRepository().items(order["order_id"], "COUNTED#")
    assert [m["sk"] for m in markers] == ["COUNTED#placed"]

