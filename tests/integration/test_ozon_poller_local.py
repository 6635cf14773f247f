"""The scheduled OzonPollerFunction on the local stack: a buyer's request on Ozon becomes one formal request."""

from __future__ import annotations

import time
from typing import Any

from backout.repo.orders import OrdersRepository
from tests.integration.test_platform_paths import ozon_order


def _poll(env: Any) -> dict[str, Any]:
    result, errored = env.stack.invoke("OzonPollerFunction", {"source": "aws.events"})
    assert not errored, result
    return dict(result)


def test_a_polled_request_is_recorded_once_and_starts_the_cancellation(local_env: Any) -> None:
    order = ozon_order(local_env, "OZ-POLL", qty=1)
    cid = local_env.ozon.add_cancellation(order["posting"], initiator="CLIENT")
    first = _poll(local_env)
    local_env.stack.wait_idle()
    second = _poll(local_env)
    local_env.stack.wait_idle()
    assert first["recorded"] >= 1 and second["recorded"] == 0
    repo = OrdersRepository()
    request = repo.get_request(order["order_id"], f"ozon:{cid}")
    assert request is not None and request["initiator"] == "buyer"
    deadline = time.monotonic() + 30
    while "cancel_requested" not in [s["step"] for s in repo.timeline(order["order_id"])]:
        assert time.monotonic() < deadline, "the polled request never reached the order"
        time.sleep(0.05)
    assert [s["step"] for s in repo.timeline(order["order_id"])].count("cancel_requested") == 1
