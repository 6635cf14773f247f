"""Run a simulation on a running local environment and summarise it.

    with LocalEnvironment(parameters={"CoolingOffSeconds": "0"}) as env:
        report = run_simulation(env, SimConfig(orders=300, seed=7))
        print(report.table())
        assert report.ok
"""

from __future__ import annotations

import os
import random
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from backout_dev.sim.delivery import Delivery, Sender, schedule, send_phase
from backout_dev.sim.faults import FaultInjector, FaultPlan
from backout_dev.sim.invariants import Findings, RunRecord, check
from backout_dev.sim.scenarios import CUSTOM_SKUS, INITIAL_STOCK, SKUS, Scenario, enabled_builders, generate

#: Rounds of provider reactions (carrier scans, return scans, refund reports) after the main phases.
REACTION_ROUNDS = 4


@dataclass
class SimConfig:
    """How big, how random, how hostile."""

    orders: int = 200
    deliveries: int = 0  # target number of posts; 0: what the scenarios imply (1-3 copies each)
    seed: int = 1
    threads: int = 6
    faults: FaultPlan = field(default_factory=FaultPlan.default)
    builders: list[str] | None = None  # e.g. ["woocommerce+stripe"]; None: every enabled pair
    quiet_timeout: float = 600.0
    transport: str = "direct"  # "http": through the local HTTP API; "direct": the same event, no socket


@dataclass
class SimReport:
    """Everything the summary table shows."""

    config: SimConfig
    scenarios: list[Scenario]
    deliveries: list[Delivery]
    findings: Findings
    faults: dict[str, int]
    sender: Any
    stream_retries: int
    dead_lettered: int
    seconds: float
    pairs: list[str]
    cpu_seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when no invariant is violated."""
        return not self.findings.violations

    def table(self) -> str:
        """The summary table (plain text)."""
        from collections import Counter

        kinds = Counter(k for sc in self.scenarios for k in sc.kinds())
        rows: list[tuple[str, Any]] = [
            ("platform+gateway pairs", ", ".join(self.pairs)),
            ("seed", self.config.seed),
            ("orders", len(self.scenarios)),
            ("  scenario mix", ", ".join(f"{k} {v}" for k, v in sorted(kinds.items()))),
            ("webhooks (distinct dedupe keys)", len(self.deliveries)),
            ("deliveries (HTTP posts)", self.sender.posts),
            ("  answered duplicate", self.sender.duplicates),
            ("  forged sent / accepted", f"{sum(1 for d in self.deliveries if d.forgery)} / {len(self.sender.accepted_forged)}"),
            ("  answers by HTTP status", ", ".join(f"{k}: {v}" for k, v in sorted(self.sender.by_status.items()))),
            ("faults injected", sum(v for k, v in self.faults.items() if k != "sfn_task_retry")),
        ]
        rows += [(f"  {k}", v) for k, v in sorted(self.faults.items()) if k != "sfn_task_retry"]
        rows += [
            ("retries: Step Functions task", self.faults.get("sfn_task_retry", 0)),
            ("retries: stream batches", self.stream_retries),
            ("retries: provider re-sends after 5xx", self.sender.sender_retries),
            ("dead-lettered stream records", self.dead_lettered),
            ("final order states", ", ".join(f"{k} {v}" for k, v in sorted(self.findings.statuses.items()))),
            ("  held for an operator after faults", self.findings.held_after_faults),
            ("refunds checked at localstripe", self.findings.refunds_checked),
            ("invariant violations", len(self.findings.violations)),
        ]
        rows += [(f"  known finding {k} (xfail repro)", v)
                 for k, v in sorted(Counter(f.kind for f in self.findings.known).items())]
        rows += [(f"  {k}", v) for k, v in sorted(self.findings.by_kind().items())]
        rows.append(("wall time / process CPU time", f"{self.seconds:.1f} s / {self.cpu_seconds:.1f} s"))
        width = max(len(k) for k, _ in rows)
        lines = [f"{k:<{width}}  {v}" for k, v in rows]
        lines += [f"  ! {v.kind} {v.order_id}: {v.detail}" for v in self.findings.violations[:20]]
        return "\n".join(lines)


def _copies(rng: random.Random) -> int:
    return rng.choices([1, 2, 3], [45, 35, 20])[0]


def _pad(deliveries: list[Delivery], target: int, scenarios: list[Scenario], rng: random.Random,
         builders: dict[str, Any]) -> None:
    """Add harmless webhooks (order updates that change nothing Backout acts on) up to ``target`` posts."""
    posts = sum(d.copies for d in deliveries)
    serial = 0
    while posts < target:
        sc = scenarios[serial % len(scenarios)]
        serial += 1
        noise = builders[f"{sc.platform}+{sc.gateway}"].noise(sc, rng)
        noise.copies = _copies(rng)
        deliveries.append(noise)
        posts += noise.copies


def _busy_executions(stack: Any) -> int:
    """Running executions not parked on a task token (read from moto directly: cheap for thousands)."""
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    from backout_dev.stack import ACCOUNT, REGION

    busy = 0
    for ex in stepfunctions_parser_backends[ACCOUNT][REGION]._get_executions():
        if "RUNNING" not in str(ex.status):
            continue
        worker = ex.exec_worker
        env = getattr(worker, "env", None)  # None once the worker has finished (a race with the status)
        if env is None:
            continue
        history = env.event_manager.get_event_history()
        last = history[-1].get("type") if history else None
        if getattr(last, "value", last) != "TaskSubmitted":
            busy += 1
    return busy


def wait_quiet(stack: Any, timeout: float, sagas: bool = True) -> None:
    """Until the inbox stream is drained (and, with ``sagas``, no execution is working)."""
    if os.environ.get("BACKOUT_SIM_DEBUG"):
        print(f"[sim] {time.strftime('%X')} waiting (sagas={sagas})", file=sys.stderr, flush=True)
    deadline, quiet = time.monotonic() + timeout, 0
    while time.monotonic() < deadline:
        idle = all(p.idle for p in stack.pollers) and (not sagas or _busy_executions(stack) == 0)
        quiet = quiet + 1 if idle else 0
        if quiet >= 3:
            return
        time.sleep(0.1)
    raise TimeoutError(f"local stack still busy after {timeout:.0f}s")


def _dead_letter_keys(stack: Any) -> tuple[set[str], int]:
    """Inbox keys of the stream records the event source mapping gave up on."""
    import json

    sqs, url = stack.client("sqs"), stack.refs.get("DispatchDeadLetterQueue")
    keys: set[str] = set()
    if not url:
        return keys, 0
    n = 0
    while True:
        msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=600).get("Messages", [])
        if not msgs:
            return keys, n
        for m in msgs:
            for rec in json.loads(m["Body"]).get("records", []):
                n += 1
                keys.add(rec["dynamodb"].get("NewImage", {}).get("pk", {}).get("S", ""))


def run_simulation(env: Any, config: SimConfig, injector: FaultInjector | None = None) -> SimReport:
    """Generate, set up, deliver (with faults), react, then check every invariant."""
    from backout.repo.inventory import InventoryRepository

    started, cpu = time.monotonic(), time.process_time()
    stack = env.stack
    rng = random.Random(config.seed)
    injector = injector or FaultInjector(config.faults, seed=config.seed)
    injector.exempt_thread()
    injector.install(stack)
    try:
        builders = enabled_builders(env, config.builders)
        by_pair = {f"{b.platform}+{b.gateway}": b for b in builders}
        inventory = InventoryRepository()
        for sku in SKUS:
            inventory.set_stock(sku, INITIAL_STOCK)
        for sku in CUSTOM_SKUS:
            inventory.set_stock(sku, 0)
        initial = {sku: inventory.stock(sku) for sku in SKUS + CUSTOM_SKUS}
        scenarios = generate(rng, config.orders, builders)
        _in_pool(config.threads, injector, [lambda sc=sc: by_pair[f"{sc.platform}+{sc.gateway}"].prepare(sc, env)
                                            for sc in scenarios])
        deliveries: list[Delivery] = []
        for sc in scenarios:
            for d in by_pair[f"{sc.platform}+{sc.gateway}"].deliveries(sc, env):
                d.copies = _copies(rng)
                deliveries.append(d)
        _pad(deliveries, config.deliveries, scenarios, rng, by_pair)
        sender = Sender(env, rng, injector.exempt_thread, config.transport, injector.exposed)
        retries_before = sum(p.retries for p in stack.pollers)
        injector.armed = True
        for _, bursts in schedule(deliveries, rng).items():
            send_phase(sender, bursts, config.threads)
            wait_quiet(stack, config.quiet_timeout, sagas=False)
        wait_quiet(stack, config.quiet_timeout)
        for _ in range(REACTION_ROUNDS):
            reactions = _react(scenarios, by_pair, env, rng, config.threads, injector)
            if not reactions:
                break
            deliveries += reactions
            for _, bursts in schedule(reactions, rng).items():
                send_phase(sender, bursts, config.threads)
            wait_quiet(stack, config.quiet_timeout)
        injector.armed = False
        wait_quiet(stack, config.quiet_timeout)
        dead_keys, dead = _dead_letter_keys(stack)
        record = RunRecord(scenarios, deliveries, sender.stats, initial, dead_keys, faults_on=_any_fault(config.faults))
        findings = check(record, env)
        return SimReport(config, scenarios, deliveries, findings, dict(injector.counts), sender.stats,
                         sum(p.retries for p in stack.pollers) - retries_before, dead, time.monotonic() - started,
                         sorted(by_pair), time.process_time() - cpu)
    finally:
        injector.uninstall()


def _any_fault(plan: FaultPlan) -> bool:
    return any(v > 0 for k, v in vars(plan).items() if k != "retry_sleep_scale")


def _react(scenarios: list[Scenario], by_pair: dict[str, Any], env: Any, rng: random.Random, threads: int,
           injector: FaultInjector) -> list[Delivery]:
    """The providers' answers to what Backout did since the last round."""
    out: list[Delivery] = []

    def one(sc: Scenario) -> None:
        found = by_pair[f"{sc.platform}+{sc.gateway}"].reactions(sc, env)
        out.extend(found)

    _in_pool(threads, injector, [lambda sc=sc: one(sc) for sc in scenarios if sc.cancel])
    for d in out:
        d.copies = _copies(rng)
    return out


def _in_pool(threads: int, injector: FaultInjector, jobs: list[Any]) -> None:
    """Run set-up jobs on exempt worker threads."""
    def run(job: Any) -> None:
        injector.exempt_thread()
        job()

    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="sim-setup") as pool:
        for f in [pool.submit(run, j) for j in jobs]:
            f.result()
