"""Table 4: throughput of the local stack, and how its time grows with the number of orders.

For N orders (paid in localstripe beforehand, untimed): N ``order.created``
webhooks are posted to the local HTTP API by a few concurrent senders
(acknowledged/s), the stream is drained (dispatched/s), then N cancel
requests are posted and the run waits until every saga has finished
(sagas completed/s, from the first cancel request to the last saga's end).
Everything runs in one process on the machine's cores, so the figures are
the local stack's, not AWS's; what matters is the growth from N to 10 N.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from backout_dev.bench.report import Table, verdict

#: Budget: time(10 N) / time(N) at most this many times 10 (linear growth, with some slack for noise).
LINEAR_SLACK = 1.3
SENDERS = 4


@dataclass
class Run:
    """One size's timings (seconds)."""

    orders: int
    ack_s: float
    dispatch_s: float
    saga_s: float
    completed: int

    @property
    def acks_per_s(self) -> float:
        return 2 * self.orders / self.ack_s  # order.created + cancel request

    @property
    def sagas_per_s(self) -> float:
        return self.completed / self.saga_s


def _timed_posts(send: Callable[[Any], None], items: list[Any]) -> float:
    start = time.perf_counter()
    with ThreadPoolExecutor(SENDERS) as pool:
        list(pool.map(send, items))
    return time.perf_counter() - start


def _statuses(before: set[str]) -> tuple[int, int]:
    """(succeeded, still running) executions not in ``before``, read from moto's memory.

    Polling ``ListExecutions`` through boto3 every 0.2 s costs time in proportion to every execution ever
    started; at 10,000 orders that polling alone would bend the growth curve it is measuring.
    """
    from backout_dev.stack import sfn_executions

    done = running = 0
    for ex, status in sfn_executions():
        if ex.execution_arn not in before:
            done += status == "SUCCEEDED"
            running += status in ("RUNNING", "")
    return done, running


def _existing() -> set[str]:
    from backout_dev.stack import sfn_executions

    return {ex.execution_arn for ex, _ in sfn_executions()}


def run_size(env: Any, orders: int, timeout: float = 3600.0) -> Run:
    """Place, acknowledge and cancel ``orders`` orders; time each phase."""
    from backout_dev.bench.orders import Shop

    shop = Shop(env)
    placed = [shop.new(True) for _ in range(orders)]
    before = _existing()
    ack_created = _timed_posts(shop.place, placed)
    start = time.perf_counter()
    env.stack.wait_idle(timeout=timeout)
    dispatch_s = time.perf_counter() - start
    start = time.perf_counter()
    ack_cancel = _timed_posts(shop.cancel, placed)
    deadline = time.monotonic() + timeout
    while True:
        done, running = _statuses(before)
        if done >= orders or (running == 0 and all(p.idle for p in env.stack.pollers)):
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"{orders} sagas not finished in {timeout}s ({done} done)")
        time.sleep(0.2)
    saga_s = time.perf_counter() - start
    return Run(orders, ack_created + ack_cancel, dispatch_s, saga_s, done)


def throughput_table(runs: list[Run]) -> Table:
    """Table 4 from two or more :func:`run_size` results (sizes growing ×10)."""
    table = Table("4. Throughput of the local stack (one process, in-process Lambdas on moto)",
                  ["orders", "acks/s", "dispatch s", "sagas done", "saga phase s", "sagas/s", "× time vs previous",
                   "× orders", "linear?"])
    held_all = True
    for i, run in enumerate(runs):
        if i == 0:
            table.rows.append([run.orders, run.acks_per_s, run.dispatch_s, run.completed, run.saga_s,
                               run.sagas_per_s, "-", "-", "-"])
            continue
        prev = runs[i - 1]
        growth = run.saga_s / prev.saga_s
        factor = run.orders / prev.orders
        held = growth <= factor * LINEAR_SLACK and run.completed == run.orders
        held_all &= held
        table.rows.append([run.orders, run.acks_per_s, run.dispatch_s, run.completed, run.saga_s, run.sagas_per_s,
                           round(growth, 2), round(factor, 1), verdict(held)])
    incomplete = [r.orders for r in runs if r.completed != r.orders]
    table.budget("linear growth", held_all and not incomplete,
                 f"saga-phase time grows at most {LINEAR_SLACK}× the order count's growth" if held_all and not incomplete
                 else ("not every saga finished at " + ", ".join(map(str, incomplete)) if incomplete else
                       "time grew faster than the order count: something scans (list/describe of all executions, "
                       "an unbounded Scan or a growing stream read); profile the larger run"))
    table.notes.append(f"acks/s counts both webhooks per order (order.created and the cancel request) from {SENDERS} "
                       "concurrent senders over HTTP; sagas/s is from the first cancel request to the last saga's end")
    return table
