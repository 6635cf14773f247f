"""A request delivered again after its saga ended must not reopen the order.

Found by the simulation (``ozon+platform``, a shipped posting: ``not_terminal``, CANCEL_REQUESTED at
the end). Backout rejected the buyer's request (the posting had left) and the order was OPEN again.
Then the inbox stream delivered the poller's record once more: a later record of the same batch had
failed, and the batch is retried from there, so every record after it is applied again; under load a
batch takes longer than the cooling-off window plus the saga. The dispatcher saw an OPEN order and
moved it to CANCEL_REQUESTED, and the saga could not start again (its execution name is the request's,
and that execution had finished): nothing would ever move the order on, and no wait was open for the
watchdog to find. Driven through the dispatcher, the code the stream runs.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from backout.dispatch import Dispatcher
from backout.ingress.normalize import normalize
from tests.integration.flow import status, steps, wait_until
from tests.integration.test_platform_paths import execution_of, ozon_in_carriage, ozon_order


def test_a_rejected_request_applied_again_leaves_the_order_open(local_env: Any) -> None:
    # Given a shipped posting whose buyer's request Backout rejected, its saga finished
    order = ozon_order(local_env, "OZ-REPLAY")
    ozon_in_carriage(local_env, order)
    cid = local_env.ozon.add_cancellation(order["posting"], initiator="CLIENT")
    polled = normalize("ozon", {**local_env.ozon.cancellations[cid], "message_type": "TYPE_CANCELLATION_REQUESTED"},
                       {}, datetime.now(timezone.utc))
    for event in polled:
        Dispatcher().apply(event)
    request_id = f"ozon:{cid}"
    wait_until(lambda: execution_of(local_env, order["order_id"], request_id)["status"] == "SUCCEEDED")
    assert local_env.ozon.state(cid) == "REJECTED" and status(order["order_id"]) == "OPEN"
    before = steps(order["order_id"])
    # When the stream applies the poller's record again
    for event in polled:
        Dispatcher().apply(event)
    local_env.stack.wait_idle()
    # Then the order stays open and nothing about the request is recorded again
    assert status(order["order_id"]) == "OPEN"
    assert steps(order["order_id"]) == before
    assert sum(1 for e in local_env.ozon.effects("reject") if e["cancellation_id"] == cid) == 1
