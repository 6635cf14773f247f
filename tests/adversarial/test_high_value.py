"""The high-value guard (issue 13 item 4): per currency, and before a marketplace is asked to approve.

One threshold in minor units cannot serve every currency: 100000 is 1,000.00 USD but 1,000.00 RUB
(about 11 USD), so either every Ozon order waits for a person or the guard means nothing in roubles.
``HighValueThresholds`` gives each currency its own figure. On a marketplace the platform refunds the
buyer when it approves, so the guard runs before the platform is asked; the operator's approval asks it.
Judged by the Ozon fake's own ledger (what was approved at Ozon, how many times).
"""

from __future__ import annotations

from typing import Any

import pytest

from backout.domain import rules
from backout.repo.inventory import InventoryRepository
from backout.repo.orders import OrdersRepository
from tests.adversarial import kit
from tests.integration.flow import status, steps, wait_until
from tests.integration.test_platform_paths import ozon_buyer_request, ozon_order, ozon_posting_cancelled


def test_thresholds_are_read_per_currency_and_refuse_a_malformed_entry() -> None:
    table = rules.parse_thresholds("USD=100000, jpy=150000,RUB=10000000")
    assert table == {"USD": 100000, "JPY": 150000, "RUB": 10000000}
    assert rules.high_value_threshold("rub", table, 100000) == 10000000
    assert rules.high_value_threshold("KZT", table, 100000) == 100000  # not listed: the fallback
    assert rules.parse_thresholds("") == {}
    for bad in ("USD:100000", "USD=1e5", "DOLLAR=5", "USD=-1"):
        with pytest.raises(ValueError, match="CURRENCY=MINOR_UNITS"):
            rules.parse_thresholds(bad)


def test_an_ozon_order_below_the_rouble_threshold_is_approved_without_a_person(local_env: Any) -> None:
    """2,490.00 RUB is far over 100000 minor units but far under the rouble threshold: no hold."""
    order = ozon_order(local_env, "OZ-HV-LOW", price="2490.00")
    request_id = ozon_buyer_request(local_env, order)
    wait_until(lambda: "waiting_for_platform_decision" in steps(order["order_id"]))
    assert local_env.ozon.state(int(request_id.split(":")[1])) == "APPROVED"


def test_a_high_value_ozon_request_waits_for_a_person_before_ozon_is_asked(local_env: Any) -> None:
    """Story: a buyer asks Ozon to cancel a 150,000.00 RUB posting (over the 100,000.00 RUB threshold).
    Backout holds it for an operator and does not approve it at Ozon; the operator approves; Backout
    approves it at Ozon once, Ozon cancels, stock comes back once. A second approval is a 409."""
    InventoryRepository().set_stock("OZ-HV", 0)
    order = ozon_order(local_env, "OZ-HV", price="150000.00")
    request_id = ozon_buyer_request(local_env, order)
    cid = int(request_id.split(":")[1])
    assert kit.eventually(lambda: kit.status(order["order_id"]) == ("ON_HOLD", "OperatorRequired"))
    local_env.stack.wait_idle()
    assert local_env.ozon.state(cid) != "APPROVED"
    assert cid not in [e["cancellation_id"] for e in local_env.ozon.effects("approve")]
    code, _ = kit.decide(local_env, order["order_id"], "approve")
    assert code == 200
    wait_until(lambda: local_env.ozon.state(cid) == "APPROVED")
    ozon_posting_cancelled(local_env, order)
    wait_until(lambda: status(order["order_id"]) == "CANCELLED")
    local_env.stack.wait_idle()
    assert [e["cancellation_id"] for e in local_env.ozon.effects("approve")].count(cid) == 1
    assert InventoryRepository().stock("OZ-HV") == 1
    paid = [s["detail"] for s in OrdersRepository().timeline(order["order_id"]) if s["step"].startswith("payment_")]
    assert [(p["outcome"], p["amount"], p["currency"]) for p in paid] == [("platform_refunds", 15_000_000, "RUB")]
    assert kit.decide(local_env, order["order_id"], "approve")[0] == 409
