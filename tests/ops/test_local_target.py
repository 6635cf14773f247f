"""The local OperatorTarget (shared by the CLI and the console) against the local stack's HTTP API."""

from __future__ import annotations

from typing import Any

import pytest

from backout_dev.targets import DecisionRefused, OperatorTarget
from backout_dev.targets.local import LocalTarget
from tests.conftest import Shop, line, place_order


def test_local_target_reads_an_order_and_refuses_a_decision_with_the_reason(shop: Shop, local_env: Any) -> None:
    order = place_order(shop, [line(1, "LT-1", 1, "10.00")])
    local_env.stack.wait_idle()
    target = LocalTarget(local_env.url)
    assert isinstance(target, OperatorTarget)
    answer = target.order(order["order_id"])
    assert answer["order"]["status"] == "OPEN" and isinstance(answer["timeline"], list)
    with pytest.raises(DecisionRefused) as refused:
        target.decide(order["order_id"], "approve", "not held")
    assert refused.value.status == 409 and "not on hold" in refused.value.reason
    with pytest.raises(DecisionRefused) as unknown:
        target.order("woocommerce:999999999")
    assert unknown.value.status == 404
