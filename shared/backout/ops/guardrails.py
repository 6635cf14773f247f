"""Cancellation-rate guardrails on the stored counters (rule 11).

* :func:`check_hold`: called when a saga begins; a seller-initiated
  cancellation that would take its channel or gateway within
  ``GUARDRAIL_MARGIN_PERCENT`` of the threshold waits for an operator.
* :func:`evaluate`: the scheduled check and ``backout report``: every
  guardrail's rolling rate and this week against the trailing mean.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from typing import Any

from backout.ops import counters, rates
from backout.repo.orders import OrdersRepository

#: Counters read by the weekly check and the chart: the trailing weeks, this week and a margin.
WEEKLY_DAYS = 7 * (rates.TRAILING_WEEKS + 2)


def margin_percent() -> float:
    """How far below a threshold (percentage points) seller cancellations start waiting for an operator."""
    return float(os.environ.get("GUARDRAIL_MARGIN_PERCENT", str(rates.DEFAULT_MARGIN_PERCENT)))


def _longest_window() -> int:
    return max(g.window_days for g in rates.GUARDRAILS)


def check_hold(repo: OrdersRepository, order: dict[str, Any], request: dict[str, Any],
               end: date | None = None) -> rates.HoldDecision | None:
    """The guardrail this cancellation would cross, or None (only seller-initiated ones are checked)."""
    if request.get("initiator") != "seller":
        return None  # no read at all on the common path
    end = end or counters.today()
    counts = counters.recent_counts(repo, _longest_window(), end)
    return rates.guardrail_hold(counts, str(order.get("channel", "")), str(order.get("gateway", "")),
                                "seller", end, margin_percent())


@dataclass(frozen=True)
class Evaluation:
    """Every guardrail's rate and the weekly check on one day, with the counters they came from."""

    end: date
    rates: list[rates.Rate]
    weekly: rates.WeeklyCheck
    counts: list[rates.Count]

    def weekly_series(self, weeks: int = rates.TRAILING_WEEKS + 1) -> list[tuple[date, int]]:
        """Cancellations per week up to this week, oldest first (for the chart)."""
        return rates.weekly_cancellations(self.counts, self.end, weeks)


def evaluate(repo: OrdersRepository, end: date | None = None) -> Evaluation:
    """Compute the rolling rates and the weekly check from the stored counters."""
    end = end or counters.today()
    counts = counters.recent_counts(repo, max(_longest_window(), WEEKLY_DAYS), end)
    return Evaluation(end, rates.all_rates(counts, end), rates.weekly_check(counts, end), counts)
