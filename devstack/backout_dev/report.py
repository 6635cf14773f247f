"""`backout report`: the cancellation-rate table and a PNG chart of weekly cancellations.

The numbers come from the stored daily counters through the same pure maths
the scheduled GuardrailsFunction uses (:mod:`backout.ops.rates`).
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, timedelta
from pathlib import Path
from typing import Any, TextIO

from backout.ops import rates
from backout_dev.template import ROOT

#: Where the chart goes by default (git-ignored working folder of the dev tool).
DEFAULT_CHART = ROOT / ".backout" / "cancellations.png"
#: Weeks on the chart.
CHART_WEEKS = rates.TRAILING_WEEKS + 1
#: Days of counters the report needs: the longest guardrail window behind the first week on the chart.
REPORT_DAYS = max(g.window_days for g in rates.GUARDRAILS) + 7 * (CHART_WEEKS + 1)


def load_counts(end: date | None = None) -> list[rates.Count]:
    """The counters the report needs, from the stack this process talks to."""
    from backout.ops.counters import recent_counts
    from backout.repo.orders import OrdersRepository

    return recent_counts(OrdersRepository(), REPORT_DAYS, end)


def counts_to_json(counts: list[rates.Count]) -> list[dict[str, Any]]:
    """Counters as JSON (the local API's dev route)."""
    return [asdict(c) | {"day": c.day.isoformat()} for c in counts]


def counts_from_json(data: list[dict[str, Any]]) -> list[rates.Count]:
    """Counters back from JSON."""
    return [rates.Count(**(d | {"day": date.fromisoformat(d["day"])})) for d in data]


def _pct(value: float | None) -> str:
    return "   n/a" if value is None else f"{value:6.2f}"


def print_table(counts: list[rates.Count], end: date, out: TextIO, margin_percent: float) -> None:
    """The guardrail rates and the weekly check, as text."""
    out.write(f"\nCancellation rates on {end.isoformat()} (hold seller cancellations within {margin_percent} pp)\n")
    out.write(f"  {'guardrail':<22}{'window':>8}{'cancelled':>11}{'placed':>8}{'rate %':>8}{'limit %':>9}  status\n")
    for rate in rates.all_rates(counts, end):
        g = rate.guardrail
        status = "BREACHED" if rate.breached else ("no orders" if rate.percent is None else "ok")
        out.write(f"  {g.name:<22}{g.window_days:>7}d{rate.cancelled:>11}{rate.placed:>8}{_pct(rate.percent):>8}"
                  f"{g.threshold_percent:>9.2f}  {status}\n")
    week = rates.weekly_check(counts, end)
    mean = "n/a (first week)" if week.mean is None else f"{week.mean:.1f}, limit {week.limit:.1f}"
    out.write(f"  this week ({week.week.isoformat()}): {week.cancellations} cancellation(s); trailing mean {mean}"
              f"{'  EXCEEDED' if week.exceeded else ''}\n")


def _weekly_points(counts: list[rates.Count], end: date) -> dict[str, Any]:
    series = rates.weekly_cancellations(counts, end, CHART_WEEKS)
    ends = [min(start + timedelta(days=6), end) for start, _ in series]
    checks = [rates.weekly_check(counts, day) for day in ends]
    return {"weeks": [start for start, _ in series], "cancellations": [n for _, n in series],
            "mean": [c.mean for c in checks], "limit": [c.limit for c in checks],
            "rates": {g.name: [rates.guardrail_rate(counts, g, day).percent for day in ends] for g in rates.GUARDRAILS}}


def write_chart(counts: list[rates.Count], end: date, path: Path) -> Path:
    """Weekly cancellations vs the trailing mean and its +20 % limit; guardrail rates vs their thresholds."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    points = _weekly_points(counts, end)
    labels = [w.strftime("%d %b") for w in points["weeks"]]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 7), sharex=True)
    top.bar(labels, points["cancellations"], color="#4c72b0", label="cancellations")
    top.plot(labels, [m if m is not None else float("nan") for m in points["mean"]], "k-o", label="trailing mean")
    top.plot(labels, [m if m is not None else float("nan") for m in points["limit"]], "r--", label="mean + 20 %")
    top.set_ylabel("cancellations per week")
    top.set_title(f"Backout cancellations, weeks to {end.isoformat()}")
    top.legend(loc="upper left")
    for (name, values), colour in zip(points["rates"].items(), ("#dd8452", "#55a868")):
        guardrail = next(g for g in rates.GUARDRAILS if g.name == name)
        bottom.plot(labels, [v if v is not None else float("nan") for v in values], "-o", color=colour,
                    label=f"{name} ({guardrail.window_days} d)")
        bottom.axhline(guardrail.threshold_percent, color=colour, linestyle="--",
                       label=f"{name} threshold {guardrail.threshold_percent:g} %")
    bottom.set_ylabel("cancellation rate %")
    bottom.set_xlabel("week starting")
    bottom.legend(loc="upper left", fontsize="small")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=100)
    plt.close(fig)
    return path


def print_report(counts: list[rates.Count], out: TextIO, chart: Path | None = DEFAULT_CHART,
                 end: date | None = None) -> Path | None:
    """The table, and the chart when ``chart`` is a path; returns the chart's path."""
    from backout.ops.counters import today
    from backout.ops.guardrails import margin_percent

    end = end or today()
    print_table(counts, end, out, margin_percent())
    if chart is None:
        return None
    written = write_chart(counts, end, chart)
    out.write(f"  chart: {written}\n")
    return written


def dev_routes(stack: Any) -> dict[str, Any]:
    """Dev-only GET routes of the local HTTP API that run the operator tools inside `backout serve`.

    moto lives in the serving process, so `backout report|replay|audit` ask it over loopback.
    None of these exists in AWS (there the tools use the deployed tables and queues directly).
    """
    from backout_dev.audit import run_audit
    from backout_dev.replay import as_dict, replay_all

    return {"/_local/ops/counts": lambda params: (200, {"counts": counts_to_json(load_counts())}),
            "/_local/ops/replay": lambda params: (200, as_dict(replay_all(stack))),
            "/_local/ops/audit": lambda params: (200, run_audit())}


def print_stack_report(out: TextIO, chart: Path = DEFAULT_CHART) -> Path | None:
    """The report for the stack this process runs (the end of `backout demo`); never raises."""
    try:
        return print_report(load_counts(), out, chart)
    except Exception as exc:  # the report informs; it must not change the demo's verdict
        out.write(f"  report failed: {type(exc).__name__}: {exc}\n")
        return None
