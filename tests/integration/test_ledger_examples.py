"""Issue 13's examples that the model's named stories do not tell, on the local stack, through signed
webhooks and the operator routes, judged by localstripe and the fakes' own ledgers.

(The money stories - two pending PayPal refunds, a refund failing after success, a partly captured
authorization, a lost dispute then an approval, a withdrawal overtaking its request, an approval after
a failed refund - are replayed by ``tests/sim/test_model_based.py::test_named_story_keeps_the_promise``.)
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import datetime, timezone
from typing import Any

import pytest
import stripe

from backout.dispatch import Dispatcher
from backout.domain.events import PlatformCancellationDecided
from backout.repo.inventory import InventoryRepository
from backout.repo.orders import OrdersRepository
from backout_dev.sigv4 import local_request
from backout_dev.sim.model.bodies import aftership
from backout_dev.sim.model.drive import post_signed
from tests.conftest import Shop, line
from tests.integration.flow import status, steps, wait_until
from tests.integration.test_platform_paths import no_guardrail, ozon_order, ozon_posting_cancelled, seller_request

__all__ = ["no_guardrail"]  # the fixture, used by name


def decide(env: Any, order_id: str, decision: str) -> tuple[int, dict[str, Any]]:
    req = local_request(f"{env.url}/operator/orders/{order_id}/decision", method="POST",
                        data=json.dumps({"decision": decision, "note": "ledger test"}).encode(),
                        headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - loopback
            return int(resp.status), json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


def refunds_of(pi: str) -> list[Any]:
    return [r for r in stripe.Refund.list(payment_intent=pi).data if r.status in ("succeeded", "pending")]


def test_a_parcel_shipped_during_the_cooling_off_window_is_intercepted_not_refunded(
        shop: Shop, local_env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The path was chosen before the window; the store completes the order and the carrier scans it in
    transit inside the window. Backout decides again before money moves: intercept first, refund on return."""
    monkeypatch.setenv("COOLING_OFF_SECONDS", "3")
    InventoryRepository().set_stock("WIN-SHIP", 0)
    order = shop.place([line(1, "WIN-SHIP", 1, "40.00")])
    tracking = f"JD{order['no']}"
    local_env.carrier.add_shipment(tracking, "in_transit", "succeed")
    shop.send(shop.cancel, shop.body(order, "cancel-request"))
    wait_until(lambda: "cooling_off_opened" in steps(order["order_id"]))
    shop.send(shop.created, shop.body(order, "completed", offset=1))  # the store shipped it meanwhile
    assert post_signed(local_env, *aftership(order["order_id"], tracking, "InTransit", "InTransit_001"))[0] == 200
    wait_until(lambda: "waiting_for_carrier" in steps(order["order_id"]), timeout=30)
    assert refunds_of(order["pi"]) == []  # nothing refunded while the parcel travels
    assert InventoryRepository().stock("WIN-SHIP") == 0
    assert "saga_path_changed" in steps(order["order_id"])
    assert [e["tracking_number"] for e in local_env.carrier.effects("intercept")].count(tracking) == 1
    assert post_signed(local_env, *aftership(order["order_id"], tracking, "Exception", "Exception_011"))[0] == 200
    wait_until(lambda: status(order["order_id"]) == "CANCELLED", timeout=30)
    assert sum(r.amount for r in refunds_of(order["pi"])) == order["total_minor"]  # once, in full
    assert InventoryRepository().stock("WIN-SHIP") == 1


def test_a_high_value_refund_waits_for_an_operator(shop: Shop, local_env: Any) -> None:
    """``HighValueThresholdMinor`` (100000 by default) reaches the settlement: 2,500.00 waits for a person."""
    order = shop.place([line(1, "HV-1", 1, "2500.00")])
    shop.send(shop.cancel, shop.body(order, "cancel-request"))
    wait_until(lambda: status(order["order_id"]) == "ON_HOLD")
    assert OrdersRepository().require_order(order["order_id"])["hold_reason"] == "OperatorRequired"
    assert refunds_of(order["pi"]) == []
    assert decide(local_env, order["order_id"], "approve")[0] == 200
    wait_until(lambda: status(order["order_id"]) == "CANCELLED")
    assert sum(r.amount for r in refunds_of(order["pi"])) == 250000
    code, answer = decide(local_env, order["order_id"], "approve")  # a second approval: nothing waits
    assert code == 409 and "not on hold" in answer["message"]
    assert len(refunds_of(order["pi"])) == 1


def test_the_operator_timeline_of_a_refunded_order_is_json(shop: Shop, local_env: Any) -> None:
    order = shop.place([line(1, "TL-JSON", 1, "12.00")])
    shop.send(shop.cancel, shop.body(order, "cancel-request"))
    wait_until(lambda: status(order["order_id"]) == "CANCELLED")
    with urllib.request.urlopen(local_request(f"{local_env.url}/operator/orders/{order['order_id']}/timeline"),  # noqa: S310
                                timeout=10) as resp:
        assert resp.status == 200
        answer = json.loads(resp.read())
    assert answer["order"]["refunded_total"] == 1200
    assert answer["order"]["refunded_effects"] == [f"settle#{OrdersRepository().require_order(order['order_id'])['active_request_id']}"]
    refunds = [f for f in answer["ledger"] if f["kind"] == "refund"]
    assert [(f["amount"], f["state"]) for f in refunds] == [(1200, "succeeded")]


@pytest.mark.usefixtures("no_guardrail")
def test_ozon_a_rejected_request_does_not_decide_the_next_one(local_env: Any) -> None:
    """Request A is decided "rejected"; request B is asked later and its cancel is still unconfirmed: Backout
    waits for B's own decision (A's is A's), and cancels when Ozon's push for B comes. (A seller cancel on Ozon is
    never refused by Ozon itself, /v2/posting/fbs/cancel cancels the posting; A's refusal stands for any decision
    that names no cancellation id, as a posting push does.)"""
    order = ozon_order(local_env, "OZ-AB")
    first = seller_request(local_env, order["order_id"])
    wait_until(lambda: "waiting_for_platform_decision" in steps(order["order_id"]))
    Dispatcher().apply(PlatformCancellationDecided(provider="ozon", source_id=f"test:{order['order_id']}:a",
                                                   occurred_at=datetime.now(timezone.utc),
                                                   order_id=order["order_id"], decision="rejected"))
    # the order is OPEN a moment before the rejection's timeline step is written (reject: transition, then step)
    wait_until(lambda: status(order["order_id"]) == "OPEN" and "cancellation_rejected" in steps(order["order_id"]))
    local_env.ozon.set_posting_status(order["posting"], "awaiting_packaging")  # A's cancel did not hold
    second = seller_request(local_env, order["order_id"])
    wait_until(lambda: steps(order["order_id"]).count("waiting_for_platform_decision") == 2)
    local_env.stack.wait_idle()
    assert status(order["order_id"]) == "CANCEL_REQUESTED"  # not "rejected" by A's decision
    assert len([e for e in local_env.ozon.effects("cancel_posting") if e["posting_number"] == order["posting"]]) == 2
    ozon_posting_cancelled(local_env, order)
    wait_until(lambda: "cancelled" in steps(order["order_id"]))
    assert status(order["order_id"]) == "CANCELLED"
    done = [s for s in OrdersRepository().timeline(order["order_id"]) if s["step"] == "cancelled"]
    assert [s["detail"]["request_id"] for s in done] == [second] and first != second
