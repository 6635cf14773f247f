"""The cancellation-rate report as JSON (GET /operator/report): rates, this week, the weekly trend.

The same pure maths as the hourly GuardrailsFunction (backout.ops.rates), on the stored daily
counters. The chart is drawn by the client from ``trend`` (backout_dev.report.write_trend_chart).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from backout.ops import rates
from backout.ops.counters import recent_counts, today
from backout.ops.guardrails import margin_percent
from backout.repo.orders import OrdersRepository

#: Weeks in the trend (the trailing weeks the weekly check compares with, and this one).
TREND_WEEKS = rates.TRAILING_WEEKS + 1
#: Days of counters the report needs: the longest guardrail window behind the first week of the trend.
REPORT_DAYS = max(g.window_days for g in rates.GUARDRAILS) + 7 * (TREND_WEEKS + 1)


def trend(counts: list[rates.Count], end: date) -> list[dict[str, Any]]:
    """One point per week: cancellations, the trailing mean and its limit then, each guardrail's rate."""
    points = []
    for start, cancellations in rates.weekly_cancellations(counts, end, TREND_WEEKS):
        day = min(start + timedelta(days=6), end)
        check = rates.weekly_check(counts, day)
        points.append({"week": start.isoformat(), "cancellations": cancellations, "mean": check.mean,
                       "limit": check.limit,
                       "rates": {g.name: rates.guardrail_rate(counts, g, day).percent for g in rates.GUARDRAILS}})
    return points


def build_report(counts: list[rates.Count], end: date, margin: float) -> dict[str, Any]:
    """The OperatorTarget.report answer for ``counts`` up to ``end``."""
    week = rates.weekly_check(counts, end)
    return {"end": end.isoformat(), "margin_percent": margin,
            "rates": [{"guardrail": r.guardrail.name, "window_days": r.guardrail.window_days,
                       "cancelled": r.cancelled, "placed": r.placed, "percent": r.percent,
                       "threshold_percent": r.guardrail.threshold_percent, "breached": r.breached}
                      for r in rates.all_rates(counts, end)],
            "week": {"week": week.week.isoformat(), "cancellations": week.cancellations, "mean": week.mean,
                     "limit": week.limit, "exceeded": week.exceeded},
            "trend": trend(counts, end)}


def report(repo: OrdersRepository | None = None, end: date | None = None) -> dict[str, Any]:
    """The report for the stack this code runs in."""
    end = end or today()
    return build_report(recent_counts(repo or OrdersRepository(), REPORT_DAYS, end), end, margin_percent())
