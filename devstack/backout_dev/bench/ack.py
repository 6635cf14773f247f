"""Table 1, acknowledgement CPU per provider, and the acknowledgement rows of table 2 (AWS calls per ack).

For each provider, our receiver function (``functions/*_webhooks/app.py``,
handler as Lambda calls it, logging on) and the baseline receiver
(:func:`backout_dev.bench.deliveries.baseline_receiver`) answer fresh signed
deliveries of the same sample, alternately, through the same boto3 DynamoDB
client against the same in-process moto. CPU time is the calling thread's
(``time.thread_time_ns``), which includes moto serving the put for both.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from backout_dev.bench.awscalls import AwsCallCounter
from backout_dev.bench.deliveries import PROVIDERS, baseline_receiver, bench_secrets, function_of, signed_events
from backout_dev.bench.endpoint import INBOX_TABLE, inbox_endpoint, receivers
from backout_dev.bench.report import Table, verdict

#: Budget: our CPU per acknowledgement over the baseline's.
ACK_CPU_RATIO_BUDGET = 1.25
#: Budget: AWS calls per acknowledgement once the secret is cached.
ACK_CALLS_BUDGET = 1


@dataclass
class AckResult:
    """One provider's measurement."""

    provider: str
    ours_us: float
    baseline_us: float
    ours_p90_us: float
    baseline_p90_us: float
    calls_per_ack: float
    calls: dict[str, int]
    failures: int
    parts_us: dict[str, float]

    @property
    def ratio(self) -> float:
        return self.ours_us / self.baseline_us


def _cpu_us(fn: Callable[[dict[str, Any]], dict[str, Any]], event: dict[str, Any]) -> tuple[float, int]:
    start = time.thread_time_ns()
    status = int(fn(event)["statusCode"])
    return (time.thread_time_ns() - start) / 1000, status


class _Patch:
    """Set attributes for a while, then put the originals back."""

    def __init__(self) -> None:
        self.saved: list[tuple[Any, str, Any]] = []

    def setattr(self, owner: Any, attr: str, value: Any) -> None:
        self.saved.append((owner, attr, owner.__dict__.get(attr, _MISSING) if hasattr(owner, "__dict__") else _MISSING))
        setattr(owner, attr, value)

    def undo(self) -> None:
        for owner, attr, old in reversed(self.saved):
            if old is _MISSING:
                delattr(owner, attr)
            else:
                setattr(owner, attr, old)
        self.saved.clear()


_MISSING = object()


class _Parts:
    """CPU spent inside named functions during one request (to say where our extra time goes)."""

    def __init__(self) -> None:
        self.now: dict[str, int] = {}
        self.samples: dict[str, list[float]] = {}

    def wrap(self, owner: Any, attr: str, label: str, patch: _Patch) -> None:
        inner = getattr(owner, attr)

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.thread_time_ns()
            try:
                return inner(*args, **kwargs)
            finally:
                self.now[label] = self.now.get(label, 0) + time.thread_time_ns() - start

        patch.setattr(owner, attr, timed)

    def keep(self) -> None:
        for label, ns in self.now.items():
            self.samples.setdefault(label, []).append(ns / 1000)
        self.now.clear()

    def medians(self) -> dict[str, float]:
        return {label: statistics.median(v) for label, v in self.samples.items()}


def _instrument(handler: Callable[..., Any], patch: _Patch) -> _Parts:
    """Time the put, the log line and the metric inside our handler (a wrapper costs well under 1 µs)."""
    from backout.ingress import receiver
    from backout.ops import emit

    parts = _Parts()
    parts.wrap(receiver, "put_inbox_item", "put", patch)
    parts.wrap(emit, "webhook_answered", "metric", patch)
    loggers = [c.cell_contents for c in (getattr(handler, "__closure__", None) or ())
               if type(c.cell_contents).__name__ == "Logger"]
    for logger in loggers:
        for level in ("debug", "info", "warning", "error"):
            parts.wrap(logger, level, "log", patch)
    return parts


def measure_provider(provider: str, handler: Callable[[dict[str, Any], Any], dict[str, Any]],
                     baseline: Callable[[dict[str, Any]], dict[str, Any]], secrets: dict[str, Any],
                     requests: int, warmup: int, counter: AwsCallCounter) -> AckResult:
    """Warm both receivers up, then time ``requests`` alternate deliveries each (the order flips every round)."""
    patch = _Patch()
    try:
        parts = _instrument(handler, patch)
        return _measure(provider, handler, baseline, secrets, requests, warmup, counter, parts)
    finally:
        patch.undo()


def _measure(provider: str, handler: Callable[[dict[str, Any], Any], dict[str, Any]],
             baseline: Callable[[dict[str, Any]], dict[str, Any]], secrets: dict[str, Any],
             requests: int, warmup: int, counter: AwsCallCounter, parts: _Parts) -> AckResult:
    ours_events = signed_events(provider, warmup + requests, secrets)
    base_events = signed_events(provider, warmup + requests, secrets)

    def ours(event: dict[str, Any]) -> dict[str, Any]:
        with counter.caller("receiver"):
            return handler(event, None)

    ours_t: list[float] = []
    base_t: list[float] = []
    failures = 0
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):  # metrics (EMF) print to stdout
        for i in range(warmup):
            ours(ours_events[i])
            baseline(base_events[i])
        parts.now.clear()
        before = counter.snapshot()
        for i in range(warmup, warmup + requests):
            pair = [(ours, ours_events[i], ours_t), (baseline, base_events[i], base_t)]
            for fn, event, times in (pair if i % 2 else pair[::-1]):
                us, status = _cpu_us(fn, event)
                times.append(us)
                failures += status != 200
            parts.keep()
    calls = AwsCallCounter.by_operation(counter.snapshot() - before, "receiver")
    return AckResult(provider, statistics.median(ours_t), statistics.median(base_t), _p90(ours_t), _p90(base_t),
                     sum(calls.values()) / requests, dict(calls), failures, parts.medians())


def _p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10)[-1] if len(values) >= 10 else max(values)


def measure_acks(requests: int = 500, warmup: int = 50, providers: tuple[str, ...] = PROVIDERS) -> list[AckResult]:
    """Measure every provider in ``providers`` on one in-process endpoint."""
    counter = AwsCallCounter.install()
    secrets = bench_secrets()
    with inbox_endpoint(secrets), receivers() as apps:
        from backout import aws

        client = aws.client("dynamodb")  # the receiver's own client: both go through it
        return [measure_provider(p, apps[function_of(p)].handler, baseline_receiver(p, secrets, client, INBOX_TABLE),
                                 secrets, requests, warmup, counter) for p in providers]


def ack_cpu_table(results: list[AckResult]) -> Table:
    """Table 1: CPU per acknowledgement, ours vs the baseline, per provider."""
    table = Table("1. Acknowledgement CPU per webhook (median, µs of CPU on the calling thread)",
                  ["provider", "function", "ours", "baseline", "ours-baseline", "ratio", "≤1.25", "p90 ours",
                   "p90 base", "our put", "our log", "our metric", "non-200"])
    for r in results:
        table.rows.append([r.provider, function_of(r.provider), r.ours_us, r.baseline_us, r.ours_us - r.baseline_us,
                           round(r.ratio, 3), verdict(r.ratio <= ACK_CPU_RATIO_BUDGET), r.ours_p90_us,
                           r.baseline_p90_us, r.parts_us.get("put", 0.0), r.parts_us.get("log", 0.0),
                           r.parts_us.get("metric", 0.0), r.failures])
    worst = max(results, key=lambda r: r.ratio)
    failing = [r.provider for r in results if r.ratio > ACK_CPU_RATIO_BUDGET]
    reason = f"worst ratio {worst.ratio:.3f} ({worst.provider})" if not failing else _why(results, failing)
    table.budget(f"ack CPU ratio ≤ {ACK_CPU_RATIO_BUDGET}", not failing and all(r.failures == 0 for r in results),
                 reason if all(r.failures == 0 for r in results) else "some deliveries were not answered 200")
    table.notes += [
        "ours = the receiver function's handler (functions/*_webhooks/app.py) with logging at the template's level "
        "and metrics on; baseline = signature check + one conditional PutItem of the delivery as received (body and "
        "headers) keyed by a hash of the bytes, no parsing, no logging, no metrics",
        "both use the same boto3 DynamoDB client against the same in-process moto, so both include moto serving "
        "the put; deliveries alternate ours/baseline with a fresh dedupe id each, after a warm-up",
    ]
    return table


def _why(results: list[AckResult], failing: list[str]) -> str:
    """Where the extra CPU goes, measured: the put over the baseline's whole request, the log line, the metric."""
    from backout.ingress.receiver import Delivery, inbox_item

    def median(key: Callable[[AckResult], float]) -> float:
        return statistics.median(key(r) for r in results)

    extra = median(lambda r: r.ours_us - r.baseline_us)
    log, metric = median(lambda r: r.parts_us.get("log", 0.0)), median(lambda r: r.parts_us.get("metric", 0.0))
    put_extra = median(lambda r: r.parts_us.get("put", 0.0) - r.baseline_us)
    checks = median(lambda r: r.ours_us - sum(r.parts_us.get(k, 0.0) for k in ("put", "log", "metric")))
    attributes = len(inbox_item(Delivery("", b"", {}, "", ""), "", "", "", 0.0))
    return (f"over {ACK_CPU_RATIO_BUDGET} for {', '.join(failing)}. Of the median {extra:.0f} µs over the baseline, "
            f"our put alone costs {put_extra:.0f} µs more than the baseline's whole request (the inbox item has "
            f"{attributes} attributes to the baseline's 3: moto and botocore pay per attribute, DynamoDB "
            f"bills per KB), the log line {log:.0f} µs, the metric line {metric:.0f} µs, and the rest of our handler "
            f"(checks, parsing, dedupe key, answer) {checks:.0f} µs. Profile one provider (cProfile in one thread, "
            "or py-spy) before changing the item or the checks")


def ack_calls_rows(results: list[AckResult]) -> list[list[Any]]:
    """Table 2's acknowledgement rows: AWS calls per acknowledgement, per provider."""
    return [[f"ack {r.provider}", round(r.calls_per_ack, 3),
             ", ".join(f"{op} {n / (sum(r.calls.values()) / r.calls_per_ack):.2g}" for op, n in sorted(r.calls.items()))
             if r.calls else "-", "-", "-", verdict(r.calls_per_ack == ACK_CALLS_BUDGET)] for r in results]
