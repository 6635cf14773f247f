"""Cancellation-rate maths: pure Python, no AWS (tested on its own).

Counts come from daily counter items (see :mod:`backout.ops.counters`): how
many orders were placed and how many were cancelled on one UTC day, per
channel, gateway and (for cancellations) initiator. From them:

* a **guardrail rate** is cancellations / orders placed over a rolling window
  for one scope (PayPal: every cancellation of a PayPal-paid order over three
  months vs 15 %; Ozon: seller-initiated cancellations of Ozon orders over 30
  days vs 3 %). A window without orders has no rate (``None``), never 0 %.
* the **guardrail hold**: a seller-initiated cancellation whose projected rate
  (this cancellation counted, its order already in the denominator) would
  exceed the threshold minus a margin waits for an operator (rule 11).
* the **weekly check**: this ISO week's cancellations vs the mean of the
  trailing full weeks + 20 %. Weeks before the first recorded day are not
  history; in the first week there is no mean and nothing to exceed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

Kind = Literal["placed", "cancelled"]
PLACED: Kind = "placed"
CANCELLED: Kind = "cancelled"

#: Alert when a week's cancellations exceed the trailing mean by this fraction (rule 11).
WEEKLY_TOLERANCE = 0.20
#: How many full weeks before this one make the trailing mean.
TRAILING_WEEKS = 8
#: Default margin (percentage points) below a threshold at which seller cancellations are held.
DEFAULT_MARGIN_PERCENT = 0.5


@dataclass(frozen=True)
class Count:
    """One daily counter: ``n`` orders placed, or cancelled, on ``day``."""

    day: date
    kind: Kind
    channel: str
    gateway: str
    n: int
    initiator: str = ""


@dataclass(frozen=True)
class Guardrail:
    """A channel's or gateway's cancellation-rate limit.

    ``channel``/``gateway`` select the orders (None: any); ``initiator``
    selects which cancellations count (None: any).
    """

    name: str
    threshold_percent: float
    window_days: int
    channel: str | None = None
    gateway: str | None = None
    initiator: str | None = None

    def covers(self, channel: str, gateway: str) -> bool:
        """True when an order on ``channel`` paid through ``gateway`` counts towards this guardrail."""
        return self.channel in (None, channel) and self.gateway in (None, gateway)

    def counts_cancellation(self, initiator: str) -> bool:
        """True when a cancellation by ``initiator`` counts towards this guardrail."""
        return self.initiator in (None, initiator)


#: The limits the channels watch (rule 11). Names are the ``guardrail`` metric dimension values.
GUARDRAILS: tuple[Guardrail, ...] = (
    Guardrail("PayPal3Month", 15.0, 91, gateway="paypal"),
    Guardrail("OzonSellerInitiated", 3.0, 30, channel="ozon", initiator="seller"),
)


@dataclass(frozen=True)
class Rate:
    """A guardrail's rate over its window ending on ``end``."""

    guardrail: Guardrail
    end: date
    cancelled: int
    placed: int

    @property
    def percent(self) -> float | None:
        """Cancellations per 100 orders placed; None when no order was placed in the window."""
        return None if self.placed == 0 else 100.0 * self.cancelled / self.placed

    @property
    def breached(self) -> bool:
        """True when the rate is above the guardrail's threshold."""
        return self.percent is not None and self.percent > self.guardrail.threshold_percent

    def projected_percent(self, more_cancellations: int = 1) -> float:
        """The rate once ``more_cancellations`` are counted (their orders are placed already).

        With no order recorded in the window the order being cancelled is the
        whole denominator.
        """
        return 100.0 * (self.cancelled + more_cancellations) / max(self.placed, more_cancellations)


def in_window(day: date, end: date, days: int) -> bool:
    """True when ``day`` is one of the ``days`` days ending on ``end`` (inclusive)."""
    return end - timedelta(days=days - 1) <= day <= end


def guardrail_rate(counts: Iterable[Count], guardrail: Guardrail, end: date) -> Rate:
    """The guardrail's cancellations and orders over its window ending on ``end``."""
    cancelled = placed = 0
    for c in counts:
        if not (guardrail.covers(c.channel, c.gateway) and in_window(c.day, end, guardrail.window_days)):
            continue
        if c.kind == PLACED:
            placed += c.n
        elif guardrail.counts_cancellation(c.initiator):
            cancelled += c.n
    return Rate(guardrail, end, cancelled, placed)


def all_rates(counts: Sequence[Count], end: date, guardrails: Sequence[Guardrail] = GUARDRAILS) -> list[Rate]:
    """Every guardrail's rate on ``end``."""
    return [guardrail_rate(counts, g, end) for g in guardrails]


@dataclass(frozen=True)
class HoldDecision:
    """Why a seller-initiated cancellation waits for an operator."""

    guardrail: str
    projected_percent: float
    limit_percent: float
    threshold_percent: float

    def as_detail(self) -> dict[str, str]:
        """Timeline/ASL-friendly detail (strings: no floats in DynamoDB items)."""
        return {"guardrail": self.guardrail, "projected_percent": f"{self.projected_percent:.2f}",
                "limit_percent": f"{self.limit_percent:.2f}", "threshold_percent": f"{self.threshold_percent:.2f}"}


def guardrail_hold(counts: Sequence[Count], channel: str, gateway: str, initiator: str, end: date,
                   margin_percent: float = DEFAULT_MARGIN_PERCENT,
                   guardrails: Sequence[Guardrail] = GUARDRAILS) -> HoldDecision | None:
    """The guardrail a seller-initiated cancellation would push within ``margin_percent`` of its threshold.

    Only the seller's own cancellations are held: buyers, platforms and
    expired authorizations are not the seller's choice to make.
    """
    if initiator != "seller":
        return None
    for g in guardrails:
        if not (g.covers(channel, gateway) and g.counts_cancellation(initiator)):
            continue
        projected = guardrail_rate(counts, g, end).projected_percent()
        limit = g.threshold_percent - margin_percent
        if projected > limit:
            return HoldDecision(g.name, projected, limit, g.threshold_percent)
    return None


# ---------------------------------------------------------------- weekly


def week_start(day: date) -> date:
    """The Monday of ``day``'s ISO week."""
    return day - timedelta(days=day.weekday())


def weekly_cancellations(counts: Iterable[Count], end: date, weeks: int) -> list[tuple[date, int]]:
    """Cancellations per ISO week for the ``weeks`` weeks up to and including ``end``'s week, oldest first."""
    last = week_start(end)
    starts = [last - timedelta(weeks=i) for i in range(weeks - 1, -1, -1)]
    totals = dict.fromkeys(starts, 0)
    for c in counts:
        start = week_start(c.day)
        if c.kind == CANCELLED and start in totals and c.day <= end:
            totals[start] += c.n
    return list(totals.items())


@dataclass(frozen=True)
class WeeklyCheck:
    """This week's cancellations against the trailing mean (rule 11)."""

    week: date
    cancellations: int
    history_weeks: int
    mean: float | None
    limit: float | None

    @property
    def exceeded(self) -> bool:
        """True when this week is above the trailing mean + tolerance (never in the first week)."""
        return self.limit is not None and self.cancellations > self.limit


def weekly_check(counts: Sequence[Count], end: date, trailing_weeks: int = TRAILING_WEEKS,
                 tolerance: float = WEEKLY_TOLERANCE) -> WeeklyCheck:
    """Compare ``end``'s week (so far) with the mean of the full weeks before it.

    Only weeks since the first recorded day count as history, so a new
    installation is not compared with weeks it never saw.
    """
    series = weekly_cancellations(counts, end, trailing_weeks + 1)
    this_week, current = series[-1]
    first = min((c.day for c in counts), default=None)
    history = [n for start, n in series[:-1] if first is not None and start >= week_start(first)]
    if not history:
        return WeeklyCheck(this_week, current, 0, None, None)
    mean = sum(history) / len(history)
    return WeeklyCheck(this_week, current, len(history), mean, mean * (1 + tolerance))
