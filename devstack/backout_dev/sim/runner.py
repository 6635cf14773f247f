"""Run a simulation on a running local environment and summarise it.

    with LocalEnvironment(parameters={"CoolingOffSeconds": "0"}) as env:
        report = run_simulation(env, SimConfig(orders=300, seed=7))
        print(report.table())
        assert report.ok
"""

from __future__ import annotations

import contextlib
import os
import random
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from backout_dev.sim.delivery import Delivery, Sender, schedule, send_phase
from backout_dev.sim.faults import FaultInjector, FaultPlan
from backout_dev.sim.invariants import Findings, RunRecord, check
from backout_dev.sim.scenarios import CUSTOM_SKUS, INITIAL_STOCK, SKUS, Scenario, enabled_builders, generate

#: Rounds of provider reactions (carrier scans, return scans, refund reports) after the main phases.
REACTION_ROUNDS = 4
#: Later passes (window, watchdog, reactions) while orders are still mid-cancellation and moving.
FINISH_ROUNDS = 3


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
    #: The cooling-off window of the run's sagas: withdrawals race it (0: every withdrawal comes too late).
    #: Long enough to outlast the stream's drain after the cancel phase, so "early" withdrawals land inside.
    cooling_off_seconds: int = 5


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
    watchdog_resumed: int = 0
    late_orders: int = 0  # still mid-cancellation after the reaction rounds (settled by the later rounds, or stuck)

    @property
    def ok(self) -> bool:
        """True when no invariant is violated."""
        return not self.findings.violations

    def table(self) -> str:
        """The summary table (plain text)."""
        kinds = Counter(k for sc in self.scenarios for k in sc.kinds())
        rows: list[tuple[str, Any]] = [
            ("platform+gateway pairs", ", ".join(self.pairs)),
            ("seed", self.config.seed),
            ("orders", len(self.scenarios)),
            ("  per pair", ", ".join(f"{k} {v}" for k, v in sorted(self.orders_per_pair().items()))),
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
            ("orders still mid-cancellation after the reactions", self.late_orders),
            ("waits resumed by the watchdog (webhook lost)", self.watchdog_resumed),
            ("final order states", ", ".join(f"{k} {v}" for k, v in sorted(self.findings.statuses.items()))),
        ]
        rows += [(f"  {pair}", ", ".join(f"{k} {v}" for k, v in sorted(states.items())))
                 for pair, states in sorted(self.findings.pair_statuses.items())]
        rows += [
            ("  held for an operator after faults", self.findings.held_after_faults),
            ("withdrawals: honoured / too late", f"{self.findings.withdrawals['honoured']} / "
                                                 f"{self.findings.withdrawals['too_late']}"),
            ("refunds checked at the gateways", self.findings.refunds_checked),
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

    def orders_per_pair(self) -> Counter[str]:
        """How many orders each platform+gateway pair got."""
        return Counter(f"{sc.platform}+{sc.gateway}" for sc in self.scenarios)


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
        noise = builders[_pair(sc)].noise(sc, rng)
        noise.copies = _copies(rng)
        deliveries.append(noise)
        posts += noise.copies


def _busy_executions(stack: Any) -> int:
    """Running executions not parked on a task token (read from moto directly: cheap for thousands)."""
    from backout_dev.stack import sfn_executions

    busy = 0
    for ex, status in sfn_executions():
        if status != "RUNNING":
            busy += status == ""  # being created: about to run
            continue
        env = getattr(ex.exec_worker, "env", None)  # None once the worker has finished (a race with the status)
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


def _settle(stack: Any, config: SimConfig) -> None:
    """Quiet, with every cooling-off window closed: a saga parked in its window looks quiet but is not done.

    Every saga started before the first wait returned is parked in its window at the latest;
    after the window's length they have all moved on, and the second wait lets them run.
    """
    wait_quiet(stack, config.quiet_timeout)
    if config.cooling_off_seconds > 0:
        time.sleep(config.cooling_off_seconds + 0.5)
        wait_quiet(stack, config.quiet_timeout)


@contextlib.contextmanager
def _cooling_off(seconds: int) -> Iterator[None]:
    """The window the dispatcher gives new sagas (``COOLING_OFF_SECONDS``, as ``backout demo`` sets it)."""
    saved = os.environ.get("COOLING_OFF_SECONDS")
    os.environ["COOLING_OFF_SECONDS"] = str(seconds)
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("COOLING_OFF_SECONDS", None)
        else:
            os.environ["COOLING_OFF_SECONDS"] = saved


def _lose_answers(scenarios: list[Scenario], by_pair: dict[str, Any], env: Any, injector: FaultInjector) -> None:
    """Arm the provider fakes to lose some answers (FaultPlan.provider_lost_response, per order)."""
    for sc in scenarios:
        if injector.draw(injector.plan.provider_lost_response) and by_pair[_pair(sc)].lose_answer(sc, env):
            injector.count(f"{sc.gateway if sc.gateway != 'platform' else sc.platform}_lost_response")


def _pair(sc: Scenario) -> str:
    return f"{sc.platform}+{sc.gateway}"


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
    started, cpu = time.monotonic(), time.process_time()
    injector = injector or FaultInjector(config.faults, seed=config.seed)
    injector.exempt_thread()
    injector.install(env.stack)
    try:
        with _cooling_off(config.cooling_off_seconds):
            report = _run(env, config, injector)
    finally:
        injector.uninstall()
    report.seconds, report.cpu_seconds = time.monotonic() - started, time.process_time() - cpu
    return report


def _run(env: Any, config: SimConfig, injector: FaultInjector) -> SimReport:
    """The run itself, with the faults installed and the cooling-off window set."""
    from backout.repo.inventory import InventoryRepository

    stack, rng = env.stack, random.Random(config.seed)
    by_pair = {f"{b.platform}+{b.gateway}": b for b in enabled_builders(env, config.builders)}
    inventory = InventoryRepository()
    for sku in SKUS:
        inventory.set_stock(sku, INITIAL_STOCK)
    for sku in CUSTOM_SKUS:
        inventory.set_stock(sku, 0)
    initial = {sku: inventory.stock(sku) for sku in SKUS + CUSTOM_SKUS}
    scenarios = generate(rng, config.orders, list(by_pair.values()))
    _in_pool(config.threads, injector, [lambda sc=sc: by_pair[_pair(sc)].prepare(sc, env) for sc in scenarios])
    _lose_answers(scenarios, by_pair, env, injector)
    deliveries: list[Delivery] = []
    for sc in scenarios:
        for d in by_pair[_pair(sc)].deliveries(sc, env):
            d.copies = _copies(rng)
            deliveries.append(d)
    _pad(deliveries, config.deliveries, scenarios, rng, by_pair)
    sender = Sender(env, rng, injector.exempt_thread, config.transport, injector.exposed)
    retries_before = sum(p.retries for p in stack.pollers)
    injector.armed = True
    for _, bursts in schedule(deliveries, rng).items():
        send_phase(sender, bursts, config.threads)
        wait_quiet(stack, config.quiet_timeout, sagas=False)
    _settle(stack, config)
    deliveries += _reaction_rounds(scenarios, by_pair, env, rng, config, injector, sender)
    injector.armed = False
    late, resumed = _mid_cancellation(scenarios), 0
    pending = late
    for _ in range(FINISH_ROUNDS):  # the days after: a late saga's window closes, the watchdog runs, providers answer
        if not pending:
            break
        time.sleep(config.cooling_off_seconds + 0.5)
        resumed += _watchdog(env)  # the hourly pass: waits whose webhook was lost are resumed from the provider
        wait_quiet(stack, config.quiet_timeout)
        deliveries += _reaction_rounds(scenarios, by_pair, env, rng, config, injector, sender)
        pending, before = _mid_cancellation(scenarios), pending
        if pending == before:
            break  # nothing moved: stuck for good, the checks say so
    wait_quiet(stack, config.quiet_timeout)
    dead_keys, dead = _dead_letter_keys(stack)
    record = RunRecord(scenarios, deliveries, sender.stats, initial, dead_keys, faults_on=_any_fault(config.faults))
    findings = check(record, env)
    return SimReport(config, scenarios, deliveries, findings, dict(injector.counts), sender.stats,
                     sum(p.retries for p in stack.pollers) - retries_before, dead, 0.0, sorted(by_pair),
                     watchdog_resumed=resumed, late_orders=len(late))


def _any_fault(plan: FaultPlan) -> bool:
    return any(v > 0 for k, v in vars(plan).items() if k != "retry_sleep_scale")


def _reaction_rounds(scenarios: list[Scenario], by_pair: dict[str, Any], env: Any, rng: random.Random,
                     config: SimConfig, injector: FaultInjector, sender: Sender) -> list[Delivery]:
    """Rounds of provider answers until nobody has anything left to say (at most REACTION_ROUNDS)."""
    sent: list[Delivery] = []
    for _ in range(REACTION_ROUNDS):
        reactions = _react(scenarios, by_pair, env, rng, config.threads, injector)
        if not reactions:
            break
        sent += reactions
        for _, bursts in schedule(reactions, rng).items():
            send_phase(sender, bursts, config.threads)
        wait_quiet(env.stack, config.quiet_timeout)
    return sent


def _mid_cancellation(scenarios: list[Scenario]) -> set[str]:
    """Ids of the run's orders still between a cancel request and its end (CANCEL_REQUESTED, CANCELLING)."""
    from backout.repo.orders import OrdersRepository

    repo = OrdersRepository()
    return {sc.order_id for sc in scenarios
            if str((repo.get_order(sc.order_id) or {}).get("status")) in ("CANCEL_REQUESTED", "CANCELLING")}


def _watchdog(env: Any) -> int:
    """One run of the WatchdogFunction; how many waits it resumed."""
    report, errored = env.stack.invoke("WatchdogFunction", {"source": "aws.events"})
    if errored:
        raise RuntimeError(f"the watchdog failed: {report}")
    return int((report or {}).get("completed") or 0)


def _react(scenarios: list[Scenario], by_pair: dict[str, Any], env: Any, rng: random.Random, threads: int,
           injector: FaultInjector) -> list[Delivery]:
    """The providers' answers to what Backout did since the last round."""
    out: list[Delivery] = []

    def one(sc: Scenario) -> None:
        found = by_pair[_pair(sc)].reactions(sc, env)
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
