"""Cancellation-rate maths without AWS: windows, initiators, guardrail holds, the weekly check."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from backout.ops.rates import (
    CANCELLED,
    GUARDRAILS,
    PLACED,
    Count,
    Guardrail,
    guardrail_hold,
    guardrail_rate,
    weekly_cancellations,
    weekly_check,
    week_start,
)

END = date(2025, 6, 18)  # a Wednesday
PAYPAL = next(g for g in GUARDRAILS if g.name == "PayPal3Month")
OZON = next(g for g in GUARDRAILS if g.name == "OzonSellerInitiated")


def placed(n: int, days_ago: int = 0, channel: str = "woocommerce", gateway: str = "paypal") -> Count:
    return Count(END - timedelta(days=days_ago), PLACED, channel, gateway, n)


def cancelled(n: int, days_ago: int = 0, channel: str = "woocommerce", gateway: str = "paypal",
              initiator: str = "buyer") -> Count:
    return Count(END - timedelta(days=days_ago), CANCELLED, channel, gateway, n, initiator)


# ---------------------------------------------------------------- rolling windows


def test_no_orders_has_no_rate_rather_than_zero() -> None:
    rate = guardrail_rate([], PAYPAL, END)
    assert (rate.placed, rate.cancelled, rate.percent, rate.breached) == (0, 0, None, False)


def test_paypal_rate_counts_every_initiator_of_paypal_orders_in_91_days() -> None:
    counts = [placed(40), placed(60, days_ago=90), cancelled(5), cancelled(4, days_ago=90, initiator="seller"),
              placed(1000, days_ago=91), cancelled(500, days_ago=91),  # one day too old
              placed(10, gateway="stripe"), cancelled(10, gateway="stripe")]  # not PayPal
    rate = guardrail_rate(counts, PAYPAL, END)
    assert (rate.placed, rate.cancelled) == (100, 9)
    assert rate.percent == pytest.approx(9.0)
    assert not rate.breached


def test_paypal_rate_above_15_percent_is_breached_and_15_exactly_is_not() -> None:
    assert guardrail_rate([placed(100), cancelled(15)], PAYPAL, END).breached is False
    assert guardrail_rate([placed(100), cancelled(16)], PAYPAL, END).breached is True


def test_ozon_rate_counts_only_seller_initiated_ozon_cancellations_in_30_days() -> None:
    counts = [placed(200, channel="ozon", gateway="platform"),
              cancelled(4, channel="ozon", gateway="platform", initiator="seller"),
              cancelled(30, channel="ozon", gateway="platform", initiator="buyer"),
              cancelled(9, days_ago=30, channel="ozon", gateway="platform", initiator="seller"),  # outside
              cancelled(9, channel="tiktok", gateway="platform", initiator="seller")]
    rate = guardrail_rate(counts, OZON, END)
    assert (rate.placed, rate.cancelled) == (200, 4)
    assert rate.percent == pytest.approx(2.0)


def test_future_days_are_outside_the_window() -> None:
    rate = guardrail_rate([placed(10, days_ago=-1), cancelled(10, days_ago=-1)], PAYPAL, END)
    assert (rate.placed, rate.cancelled) == (0, 0)


# ---------------------------------------------------------------- guardrail hold


def ozon_counts(placed_n: int, seller_cancelled: int) -> list[Count]:
    return [placed(placed_n, channel="ozon", gateway="platform"),
            cancelled(seller_cancelled, days_ago=3, channel="ozon", gateway="platform", initiator="seller")]


def test_seller_cancellation_crossing_the_margin_is_held() -> None:
    # 2 of 100 cancelled; this one makes 3 %: over 3 % - 0.5 pp
    hold = guardrail_hold(ozon_counts(100, 2), "ozon", "platform", "seller", END, margin_percent=0.5)
    assert hold is not None
    assert hold.guardrail == "OzonSellerInitiated"
    assert hold.projected_percent == pytest.approx(3.0)
    assert hold.limit_percent == pytest.approx(2.5)


def test_seller_cancellation_below_the_margin_proceeds() -> None:
    # 1 of 100 cancelled; this one makes 2 %: under 2.5 %
    assert guardrail_hold(ozon_counts(100, 1), "ozon", "platform", "seller", END, margin_percent=0.5) is None


def test_margin_is_configurable() -> None:
    counts = ozon_counts(100, 1)  # projected 2 %
    assert guardrail_hold(counts, "ozon", "platform", "seller", END, margin_percent=1.5) is not None
    assert guardrail_hold(counts, "ozon", "platform", "seller", END, margin_percent=0.0) is None


@pytest.mark.parametrize("initiator", ["buyer", "system", "platform"])
def test_only_seller_initiated_cancellations_are_held(initiator: str) -> None:
    assert guardrail_hold(ozon_counts(10, 9), "ozon", "platform", initiator, END) is None


def test_channel_without_a_guardrail_is_never_held() -> None:
    counts = [placed(1, gateway="stripe"), cancelled(1, gateway="stripe", initiator="seller")]
    assert guardrail_hold(counts, "woocommerce", "stripe", "seller", END) is None


def test_first_order_ever_cancelled_by_the_seller_is_held() -> None:
    # no counters at all (first week, or the placement not counted yet): the order is the whole denominator
    hold = guardrail_hold([], "woocommerce", "paypal", "seller", END)
    assert hold is not None and hold.guardrail == "PayPal3Month" and hold.projected_percent == pytest.approx(100.0)


def test_paypal_guardrail_applies_on_any_channel_paid_through_paypal() -> None:
    counts = [placed(100, channel="shopify"), cancelled(14, channel="shopify", initiator="buyer")]
    assert guardrail_hold(counts, "shopify", "paypal", "seller", END) is not None  # 15 % > 14.5 %
    assert guardrail_hold(counts, "shopify", "stripe", "seller", END) is None


def test_custom_guardrails_are_honoured() -> None:
    strict = Guardrail("Strict", 1.0, 7, channel="woocommerce")
    assert guardrail_hold([placed(1000)], "woocommerce", "stripe", "seller", END, 0.0, (strict,)) is None
    assert guardrail_hold([placed(50)], "woocommerce", "stripe", "seller", END, 0.0, (strict,)) is not None


# ---------------------------------------------------------------- weekly check


def test_week_start_is_monday() -> None:
    assert week_start(END) == date(2025, 6, 16)
    assert week_start(date(2025, 6, 16)) == date(2025, 6, 16)
    assert week_start(date(2025, 6, 22)) == date(2025, 6, 16)


def test_weekly_series_sums_cancellations_per_iso_week_only() -> None:
    counts = [cancelled(2, days_ago=0), cancelled(3, days_ago=2), cancelled(5, days_ago=3), placed(99)]
    series = weekly_cancellations(counts, END, 2)
    assert series == [(date(2025, 6, 9), 5), (date(2025, 6, 16), 5)]


def test_no_orders_at_all_is_no_alert() -> None:
    check = weekly_check([], END)
    assert (check.cancellations, check.mean, check.limit, check.exceeded) == (0, None, None, False)


def test_first_week_has_no_history_and_never_alerts() -> None:
    check = weekly_check([placed(10, days_ago=1), cancelled(10, days_ago=1)], END)
    assert check.cancellations == 10 and check.history_weeks == 0 and check.mean is None
    assert not check.exceeded


def test_weeks_before_the_first_record_are_not_history() -> None:
    # data starts last week: one week of history (4), not eight weeks averaging 0.5
    counts = [cancelled(4, days_ago=7), cancelled(5)]
    check = weekly_check(counts, END)
    assert check.history_weeks == 1
    assert check.mean == pytest.approx(4.0)
    assert check.limit == pytest.approx(4.8)
    assert check.exceeded


def test_week_within_mean_plus_20_percent_is_not_an_alert() -> None:
    counts = [cancelled(10, days_ago=7 * w) for w in range(1, 9)] + [cancelled(12)]
    check = weekly_check(counts, END)
    assert check.history_weeks == 8 and check.mean == pytest.approx(10.0)
    assert not check.exceeded  # 12 is not above 12
    assert weekly_check(counts + [cancelled(1)], END).exceeded


def test_trailing_mean_uses_only_the_last_eight_full_weeks() -> None:
    old = [cancelled(100, days_ago=7 * 20)]  # far outside the trailing weeks
    counts = old + [cancelled(2, days_ago=7 * w) for w in range(1, 9)] + [cancelled(3)]
    check = weekly_check(counts, END)
    assert check.mean == pytest.approx(2.0)
    assert check.exceeded
