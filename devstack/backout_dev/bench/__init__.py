"""`backout bench`: the performance budgets, measured side by side on this machine.

Five tables, each with its budget verdicts (a budget that does not hold is
printed as FAIL with the reason):

1. acknowledgement CPU per webhook, ours vs a minimal baseline receiver (:mod:`.ack`);
2. AWS calls per acknowledgement and per saga path, state transitions, cost per 1,000 (:mod:`.saga`);
3. cold start: import time of each function module vs ``import boto3`` (:mod:`.coldstart`);
4. throughput of the local stack at two sizes, and its growth (:mod:`.throughput`);
5. memory of a receiver over many webhooks (:mod:`.memory`).
"""

from __future__ import annotations

import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

from backout_dev.bench.report import Table

if TYPE_CHECKING:
    from backout_dev.bench.awscalls import AwsCallCounter


@dataclass(frozen=True)
class Sizes:
    """How much each table measures."""

    ack_requests: int
    ack_warmup: int
    import_rounds: int
    orders: tuple[int, ...]
    memory_webhooks: int

    @property
    def memory_samples(self) -> tuple[int, ...]:
        n = self.memory_webhooks
        return (n // 10, n // 2, n)


FULL = Sizes(ack_requests=500, ack_warmup=50, import_rounds=7, orders=(1_000, 10_000), memory_webhooks=10_000)
QUICK = Sizes(ack_requests=100, ack_warmup=20, import_rounds=3, orders=(10, 100), memory_webhooks=1_000)


def machine() -> str:
    """nproc, CPU model and Python version, for the figures' provenance."""
    import os

    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as info:
            model = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), model)
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs ({model}), Python {platform.python_version()}, {platform.system()} {platform.machine()}"


def run(sizes: Sizes = FULL, out: TextIO = sys.stdout, tables: tuple[int, ...] = (1, 2, 3, 4, 5)) -> int:
    """Measure and print the tables; 0 when every budget holds, 1 otherwise."""
    from backout_dev.bench.awscalls import AwsCallCounter

    counter = AwsCallCounter.install()  # before any AWS client exists
    out.write(f"backout bench, {time.strftime('%Y-%m-%d %H:%M %Z')}, {machine()}\n\n")
    printed: list[Table] = []

    def show(table: Table) -> None:
        printed.append(table)
        out.write(table.render() + "\n\n")
        out.flush()

    ack_rows: list[list[Any]] = []
    if 1 in tables or 2 in tables:
        from backout_dev.bench.ack import ack_calls_rows, ack_cpu_table, measure_acks

        results = measure_acks(sizes.ack_requests, sizes.ack_warmup)
        ack_rows = ack_calls_rows(results)
        if 1 in tables:
            show(ack_cpu_table(results))
    if 2 in tables or 4 in tables:
        _on_local_stack(sizes, counter, ack_rows, tables, show)
    if 3 in tables:
        from backout_dev.bench.coldstart import coldstart_table, measure_imports

        show(coldstart_table(measure_imports(sizes.import_rounds)))
    if 5 in tables:
        from backout_dev.bench.memory import measure_memory, memory_table

        show(memory_table(measure_memory(sizes.memory_webhooks, sizes.memory_samples)))
    failed = [t.title.split(" ", 1)[0] + " " + name for t in printed for name, (held, _) in t.verdicts.items() if not held]
    out.write("every budget holds\n" if not failed else "budgets that do not hold: " + "; ".join(failed) + "\n")
    return 0 if not failed else 1


def _on_local_stack(sizes: Sizes, counter: "AwsCallCounter", ack_rows: list[list[Any]],
                    tables: tuple[int, ...], show: Callable[[Table], None]) -> None:
    """Tables 2 and 4 share one local stack (moto, localstripe, fake store)."""
    import logging
    import os

    import stripe

    from backout_dev.env import LocalEnvironment

    with LocalEnvironment(parameters={"CoolingOffSeconds": "0"}, secrets_file=None) as env:
        logging.getLogger(os.environ.get("POWERTOOLS_SERVICE_NAME", "backout")).setLevel(env.log_level)
        stripe.api_base = env.stripe.url
        stripe.api_key = env.secrets["credentials"]["stripe_api_key"]
        if 2 in tables:
            from backout_dev.bench.saga import measure_paths, saga_table

            show(saga_table(measure_paths(env, counter), ack_rows))
        if 4 in tables:
            from backout_dev.bench.throughput import run_size, throughput_table

            show(throughput_table([run_size(env, n) for n in sizes.orders]))
