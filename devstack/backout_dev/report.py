"""`backout report`: the cancellation-rate table and a PNG chart of weekly cancellations.

Both are drawn from GET /operator/report's answer (backout.ops.report: the stored daily counters
through the same pure maths the scheduled GuardrailsFunction uses), so the local stack, a deployed
stack and the web console show the same numbers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TextIO

from backout_dev.template import ROOT

#: Where the chart goes by default (git-ignored working folder of the dev tool).
DEFAULT_CHART = ROOT / ".backout" / "cancellations.png"


def _pct(value: float | None) -> str:
    return "   n/a" if value is None else f"{value:6.2f}"


def print_table(report: dict[str, Any], out: TextIO) -> None:
    """The guardrail rates and the weekly check, as text."""
    out.write(f"\nCancellation rates on {report['end']} "
              f"(hold seller cancellations within {report['margin_percent']} pp)\n")
    out.write(f"  {'guardrail':<22}{'window':>8}{'cancelled':>11}{'placed':>8}{'rate %':>8}{'limit %':>9}  status\n")
    for rate in report["rates"]:
        status = "BREACHED" if rate["breached"] else ("no orders" if rate["percent"] is None else "ok")
        out.write(f"  {rate['guardrail']:<22}{rate['window_days']:>7}d{rate['cancelled']:>11}{rate['placed']:>8}"
                  f"{_pct(rate['percent']):>8}{rate['threshold_percent']:>9.2f}  {status}\n")
    week = report["week"]
    mean = "n/a (first week)" if week["mean"] is None else f"{week['mean']:.1f}, limit {week['limit']:.1f}"
    out.write(f"  this week ({week['week']}): {week['cancellations']} cancellation(s); trailing mean {mean}"
              f"{'  EXCEEDED' if week['exceeded'] else ''}\n")


def write_trend_chart(report: dict[str, Any], path: Path) -> Path:
    """Weekly cancellations vs the trailing mean and its +20 % limit; guardrail rates vs their thresholds."""
    from datetime import date

    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    def nan(v: float | None) -> float:
        return float("nan") if v is None else float(v)

    trend = report["trend"]
    labels = [date.fromisoformat(p["week"]).strftime("%d %b") for p in trend]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 7), sharex=True)
    top.bar(labels, [p["cancellations"] for p in trend], color="#4c72b0", label="cancellations")
    top.plot(labels, [nan(p["mean"]) for p in trend], "k-o", label="trailing mean")
    top.plot(labels, [nan(p["limit"]) for p in trend], "r--", label="mean + 20 %")
    top.set_ylabel("cancellations per week")
    top.set_title(f"Backout cancellations, weeks to {report['end']}")
    top.legend(loc="upper left")
    for rate, colour in zip(report["rates"], ("#dd8452", "#55a868")):
        name = rate["guardrail"]
        bottom.plot(labels, [nan(p["rates"].get(name)) for p in trend], "-o", color=colour,
                    label=f"{name} ({rate['window_days']} d)")
        bottom.axhline(rate["threshold_percent"], color=colour, linestyle="--",
                       label=f"{name} threshold {rate['threshold_percent']:g} %")
    bottom.set_ylabel("cancellation rate %")
    bottom.set_xlabel("week starting")
    bottom.legend(loc="upper left", fontsize="small")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=100)
    plt.close(fig)
    return path


def print_report(report: dict[str, Any], out: TextIO, chart: Path | None = DEFAULT_CHART) -> Path | None:
    """The table, and the chart when ``chart`` is a path; returns the chart's path."""
    print_table(report, out)
    if chart is None:
        return None
    written = write_trend_chart(report, chart)
    out.write(f"  chart: {written}\n")
    return written


def print_stack_report(out: TextIO, chart: Path = DEFAULT_CHART) -> Path | None:
    """The report for the stack this process runs (the end of `backout demo`); never raises."""
    try:
        from backout.ops.report import report

        return print_report(report(), out, chart)
    except Exception as exc:  # the report informs; it must not change the demo's verdict
        out.write(f"  report failed: {type(exc).__name__}: {exc}\n")
        return None
