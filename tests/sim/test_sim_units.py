"""The simulation's pure pieces: capability-driven stories, forgeries per provider, expected end states,
and the platform checks against the fakes' ledgers (fakes built, never started)."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pytest

from backout_dev.sim.delivery import Delivery, forgeries
from backout_dev.sim.invariants import (
    Accepted,
    Findings,
    _allowed_statuses,
    _check_ozon,
    _check_shopify,
    _check_withdrawal,
)
from backout_dev.sim.scenarios import CURRENCIES, FEATURES, Scenario, generate, story

STORIES = 600


@dataclass
class _Pair:
    """A builder as generate() sees it: a name, the features it supports, its currencies."""

    features: frozenset[str]
    currencies: tuple[str, ...] = ()
    platform: str = "test"
    gateway: str = "test"


def _kinds(pair: _Pair, seed: int = 3) -> Counter[str]:
    rng = random.Random(seed)
    return Counter(k for i in range(STORIES) for k in story(rng, i, pair).kinds())


def test_a_pair_with_no_features_gets_only_plain_captured_cancellations() -> None:
    kinds = _kinds(_Pair(frozenset()))
    assert kinds["captured"] == STORIES and kinds["cancel"] > STORIES // 2
    drawn_anyway = {"authorized", "shipped", "expiry", "dispute", "prerefund", "custom", "withdrawal",
                    "multi_capture", "forged", "platform_rejects"} & set(kinds)
    assert not drawn_anyway


def test_a_pair_with_every_feature_gets_every_feature() -> None:
    kinds = _kinds(_Pair(FEATURES))
    assert {"authorized", "shipped", "expiry", "dispute", "prerefund", "custom", "withdrawal", "multi_capture",
            "forged"} <= set(kinds)
    assert "platform_rejects" not in kinds  # shipped orders there go to the carrier


@pytest.mark.parametrize("intercept", [True, False])
def test_a_shipped_cancellation_goes_to_the_carrier_only_where_the_pair_intercepts(intercept: bool) -> None:
    features = frozenset({"shipped"} | ({"intercept"} if intercept else set()))
    rng = random.Random(5)
    shipped = [sc for sc in (story(rng, i, _Pair(features)) for i in range(STORIES)) if sc.shipped and sc.cancel]
    assert shipped
    assert all((sc.intercept is not None) == intercept and sc.platform_rejects != intercept for sc in shipped)


def test_a_pair_sells_only_in_its_currencies() -> None:
    kinds = _kinds(_Pair(FEATURES, currencies=("RUB",)))
    assert kinds["RUB"] == STORIES and not set(CURRENCIES) & set(kinds)


def test_captures_in_parts_add_up_and_a_hand_refund_fits_on_the_first() -> None:
    rng = random.Random(7)
    stories = [story(rng, i, _Pair(frozenset({"multi_capture", "prerefund"}))) for i in range(STORIES)]
    split = [sc for sc in stories if sc.captures]
    assert split and any(sc.prerefund for sc in split)
    for sc in split:
        assert sum(sc.captures) == sc.total and min(sc.captures) >= 1
        assert sc.prerefund <= sc.captures[0]


def test_stories_are_spread_over_the_pairs_and_repeat_with_the_seed() -> None:
    pairs = [_Pair(frozenset(), platform="a"), _Pair(FEATURES, platform="b")]
    first, again = generate(random.Random(11), 40, pairs), generate(random.Random(11), 40, pairs)
    assert Counter(sc.platform for sc in first) == {"a": 20, "b": 20}
    assert [sc.kinds() for sc in first] == [sc.kinds() for sc in again]


def test_a_stale_timestamp_is_a_forgery_only_where_the_signature_covers_one() -> None:
    assert "stale" in forgeries("stripe") and "stale" in forgeries("paypal") and "stale" in forgeries("standard")
    for provider in ("woocommerce", "shopify", "ozon"):
        assert set(forgeries(provider)) == {"wrong_secret", "tampered", "unsigned"}


def _delivery(role: str | None, status: int, forgery: Any = None) -> Delivery:
    d = Delivery("woocommerce", {}, {}, 0, 0, "x", role=role, forgery=forgery)  # type: ignore[arg-type]
    d.answers.append((status, {}))
    return d


def test_only_accepted_genuine_deliveries_count_for_the_story() -> None:
    assert Accepted.of([_delivery("cancel", 200), _delivery("withdraw", 500)]) == Accepted(True, False)
    assert Accepted.of([_delivery("cancel", 401), _delivery("withdraw", 200, "tampered")]) == Accepted(False, False)


def _scenario(**flags: Any) -> Scenario:
    return Scenario(0, "woocommerce", "stripe", 1, "USD", [], captured=True, cancel=True, **flags)


def test_a_withdrawn_request_may_end_open_or_cancelled_and_nothing_else() -> None:
    sc = _scenario(withdrawal=True)
    assert _allowed_statuses(sc, Accepted(True, True), faults_on=False) == {"OPEN", "CANCELLED"}
    assert _allowed_statuses(sc, Accepted(True, False), faults_on=False) == {"CANCELLED"}  # the withdrawal was lost
    assert _allowed_statuses(_scenario(shipped=True, platform_rejects=True), Accepted(True, False), False) == {"OPEN"}
    disputed = _scenario(dispute=True, withdrawal=True)  # withdrawn before the saga reached the frozen refund
    assert _allowed_statuses(disputed, Accepted(True, True), faults_on=False) == {"OPEN", "ON_HOLD"}


class _Timeline:
    def __init__(self, *steps: str) -> None:
        self.steps = steps

    def timeline(self, order_id: str) -> list[dict[str, Any]]:
        return [{"step": s} for s in self.steps]


@pytest.mark.parametrize(("steps", "status", "mixed"), [
    (("cancel_withdrawn",), "OPEN", False),
    (("cancel_withdrawn",), "CANCELLED", True),   # withdrawn in the window, then cancelled anyway
    (("withdrawal_too_late", "cancelled"), "CANCELLED", False),
    (("withdrawal_too_late",), "OPEN", True),     # open again with no withdrawal recorded
])
def test_the_timeline_must_tell_which_end_a_withdrawal_had(steps: tuple[str, ...], status: str, mixed: bool) -> None:
    found = Findings()
    _check_withdrawal(_scenario(withdrawal=True), status, Accepted(True, True), False, _Timeline(*steps), found)
    assert bool(found.by_kind()["withdrawal_mixed"]) == mixed
    assert sum(found.withdrawals.values()) == 1


class _Env:
    """The fakes a platform check reads (never started: their ledgers and state only)."""

    def __init__(self) -> None:
        from backout_dev.fakes import FakeOzon, FakeShopify

        self.ozon, self.shopify = FakeOzon("id", "key"), FakeShopify("token")

    def close(self) -> None:
        self.ozon.server.server_close()
        self.shopify.server.server_close()


@pytest.fixture()
def fakes() -> Any:
    env = _Env()
    yield env
    env.close()


def test_an_ozon_request_approved_twice_or_without_a_request_is_caught(fakes: _Env) -> None:
    sc = Scenario(0, "ozon", "platform", 42, "RUB", [], captured=True, cancel=True, external_id="42-0001-1")
    cid = fakes.ozon.add_cancellation(sc.external_id)
    fakes.ozon.record("approve", cancellation_id=cid)
    found = Findings()
    _check_ozon(sc, "CANCELLED", Accepted(True, False), fakes, found)
    assert not found.violations
    fakes.ozon.record("approve", cancellation_id=cid)
    _check_ozon(sc, "CANCELLED", Accepted(False, False), fakes, found)
    assert {"double_platform_decision", "platform_decision_without_request"} <= set(found.by_kind())


def test_a_shopify_order_cancelled_there_but_open_here_or_not_refunded_is_caught(fakes: _Env) -> None:
    sc = Scenario(0, "shopify", "platform", 43, "USD", [], captured=True, cancel=True)
    gid = fakes.shopify.add_order(43, financial_status="PAID")
    fakes.shopify.record("cancel", order_id=gid, refund=False)
    fakes.shopify.orders[gid]["cancelledAt"] = "2026-11-22T00:00:00Z"  # cancelled, still PAID
    found = Findings()
    _check_shopify(sc, "OPEN", Accepted(True, True), fakes, found)
    assert {"store_status", "platform_refund"} <= set(found.by_kind())
