"""Issue 4 acceptance: no double refund and no double restock when any task of any path
is retried after a crash at any point.

The checks are generated from the definition itself: every ``Task`` state of
``statemachines/cancellation.asl.json`` × every path below that runs it × two crash
points. A task added to the definition must be run by some path (a check says so), and
every path checks that it ran exactly the Task states it declares.

* ``before``: the invocation dies before the handler runs (the Lambda service failed);
* ``after``: the handler did all its work, then the response was lost (the function
  timed out on its way out), so the effect happened and Step Functions does not know.

The crash is raised once per task from the in-process Lambda hooks
(``LocalStack.lambdas.before`` / ``.after``) with an error name the task's own Retry
covers (read from the definition), so the definition's Retry runs the task again.
Each path runs as one order per crash point with every one of its tasks crashed once
(each task's exactly-once guard is its own), and all those orders run concurrently,
each on its own order id and SKUs. Waits are ended by webhooks (applied through the
dispatcher) and shortened through the execution input, never by editing the definition.
"""

from __future__ import annotations

import itertools
import json
import os
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import pytest
import stripe

from backout import aws
from backout.adapters.gateway import RefundRecord
from backout.adapters.stripe_gateway import StripeGateway
from backout.dispatch import Dispatcher, execution_name
from backout.domain.events import (
    CancelRequested,
    CancelWithdrawn,
    DisputeOpened,
    OrderPlaced,
    PlatformCancellationDecided,
    RefundSettled,
    ShipmentScanned,
    ShipmentStatus,
)
from backout.operator import decide
from backout.repo.inventory import InventoryRepository
from backout.repo.orders import OrdersRepository
from backout_dev.demo import _payment_intent
from backout_dev.template import ROOT

DEFINITION = ROOT / "statemachines" / "cancellation.asl.json"
POINTS = ("before", "after")
#: The error a crash surfaces as, per point, in order of preference; the first one the
#: task's Retry retries is used (a task that retries none of them is reported by a test).
CRASH_ERRORS = {"before": ("Lambda.ServiceException",), "after": ("Sandbox.Timedout", "Lambda.ServiceException")}
CASE_TIMEOUT = 45.0
_numbers = itertools.count(1)
_RUN = f"{int(time.time()) % 100000:05d}"
NOW = datetime.now(timezone.utc)


# ---------------------------------------------------------------------------- the definition
def task_states(states: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every Task state of a definition, nested Parallel branches and Map processors included."""
    found: dict[str, dict[str, Any]] = {}
    for name, state in states.items():
        if state["Type"] == "Task":
            found[name] = state
        for branch in state.get("Branches", []):
            found |= task_states(branch["States"])
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if processor:
            found |= task_states(processor["States"])
    return found


TASKS = task_states(json.loads(DEFINITION.read_text())["States"])


def action_of(task: str) -> str:
    """The ``action`` a task sends its function: how a hook recognises the task's invocation."""
    return str(TASKS[task]["Parameters"]["Payload"]["action"])


def retries(task: str, error: str) -> bool:
    """Whether the task's Retry (first matching retrier) tries ``error`` again."""
    for retrier in TASKS[task].get("Retry", []):
        names = retrier["ErrorEquals"]
        if error in names or "States.ALL" in names:
            return int(retrier.get("MaxAttempts", 3)) > 0
    return False


def crash_error(task: str, point: str) -> str | None:
    """The error name a crash of ``task`` at ``point`` is raised as (None: the task retries no crash)."""
    return next((e for e in CRASH_ERRORS[point] if retries(task, e)), None)


# ---------------------------------------------------------------------------- crash plans
@dataclass
class Crash:
    """One crash to inject, once, into one order's invocations of one task."""

    task: str
    point: str
    fired: int = 0
    invocations: int = 0

    def hit(self, point: str) -> None:
        if point == "before":
            self.invocations += 1
        if point == self.point and not self.fired:
            self.fired += 1
            error = crash_error(self.task, self.point) or "Sandbox.Timedout"
            raise type(error, (RuntimeError,), {})(f"simulated crash {self.point} {self.task}")


class Crashes:
    """Hooks on the local stack's in-process Lambdas: per order id, the crash of each task (by its action)."""

    def __init__(self) -> None:
        self.plans: dict[str, dict[str, Crash]] = {}

    def before(self, function: str, payload: Any) -> None:
        self._hit(payload, "before")

    def after(self, function: str, payload: Any, result: Any) -> None:
        self._hit(payload, "after")

    def _hit(self, payload: Any, point: str) -> None:
        if isinstance(payload, dict):
            crash = self.plans.get(str(payload.get("order_id")), {}).get(str(payload.get("action")))
            if crash is not None:
                crash.hit(point)


class PendingRefunds:
    """Gateway stand-in: refunds of the registered payments are reported ``pending`` (settled by webhook)."""

    def __init__(self) -> None:
        self.payments: set[str] = set()
        self.original = StripeGateway.create_refund

    def create_refund(self, gateway: StripeGateway, payment_ref: str, *args: Any, **kwargs: Any) -> RefundRecord:
        record = self.original(gateway, payment_ref, *args, **kwargs)
        if payment_ref in self.payments:
            return RefundRecord(record.refund_id, record.amount, record.currency, "pending")
        return record


# ---------------------------------------------------------------------------- one order
@dataclass
class Case:
    """One order driven down one path, every one of ``tasks`` crashed once at ``point``."""

    path: str
    point: str
    tasks: tuple[str, ...]
    env: Any
    pending: PendingRefunds
    no: int = field(default_factory=lambda: next(_numbers))
    pi: str | None = None
    tracking: str = ""
    platform_cancellation_id: str | None = None

    @property
    def order_id(self) -> str:
        channel = "ozon" if self.path == "platform" else "woocommerce"
        return f"{channel}:crash{_RUN}{self.no:03d}"

    @property
    def request_id(self) -> str:
        return f"req-{self.no}"

    @property
    def sku(self) -> str:
        return f"CRASH-{_RUN}-{self.no}"

    @property
    def custom_sku(self) -> str:
        return f"CRASH-{_RUN}-{self.no}-CUSTOM"


_START = threading.Lock()
REPO = OrdersRepository
TOTAL = 4200  # minor units: 2 × 15.00 standard + 1 × 12.00 custom


def apply(event: Any) -> None:
    """A webhook, as the dispatcher applies it (the code the inbox stream runs)."""
    Dispatcher().apply(event)


def until(check: Callable[[], Any], what: str, timeout: float = CASE_TIMEOUT) -> Any:
    """Poll ``check`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise TimeoutError(f"not reached: {what}")


def steps(order_id: str) -> list[str]:
    return [s["step"] for s in REPO().timeline(order_id)]


def wait_for_step(case: Case, step: str) -> None:
    """Wait until the saga parked on ``step`` (twice when its task was crashed after the handler ran)."""
    times = 2 if case.point == "after" and any(_WAIT_STEP.get(t) == step for t in case.tasks) else 1
    until(lambda: steps(case.order_id).count(step) >= times, f"{case.order_id} {step} ×{times}")


#: The timeline step a waiting task writes (a crash after it writes it twice).
_WAIT_STEP = {"CoolingOff": "cooling_off_opened", "AwaitPlatformDecision": "waiting_for_platform_decision",
              "AwaitIntercept": "waiting_for_carrier", "AwaitReturn": "waiting_for_return",
              "AwaitRefundSettlement": "waiting_for_refund_settlement", "HoldForOperator": "held_for_operator"}


def place(case: Case, *, capture: bool = True, shipped: bool = False) -> None:
    """Record the order (two standard units, one custom unit) with its payment."""
    inventory = InventoryRepository()
    inventory.set_stock(case.sku, 1)
    inventory.set_stock(case.custom_sku, 0)
    platform = case.path == "platform"
    ozon = getattr(case.env, "ozon", None)  # the fake Ozon Seller API, where the local stack has one
    if platform and ozon is not None:
        case.platform_cancellation_id = str(ozon.add_cancellation(case.order_id.split(":")[1]))
    if not platform:
        case.pi = _payment_intent(TOTAL, "USD", capture, case.no)
        case.env.woo.orders[case.order_id.split(":")[1]] = {"id": case.no, "status": "processing"}
    lines = ({"line_id": "1", "sku": case.sku, "quantity": 2, "unit_price": 1500},
             {"line_id": "2", "sku": case.custom_sku, "quantity": 1, "unit_price": 1200, "custom": True})
    apply(OrderPlaced(provider="woocommerce", source_id=f"placed-{case.order_id}", occurred_at=NOW,
                      order_id=case.order_id, payment_ref=case.pi, channel=case.order_id.split(":")[0],
                      external_id=case.order_id.split(":")[1], currency="USD", total=TOTAL,
                      gateway="platform" if platform else "stripe", lines=lines, shipped=shipped))


def request_cancellation(case: Case, cooling_off: int = 0) -> None:
    """The customer's formal request; the dispatcher starts the saga (cooling-off from its environment)."""
    event = CancelRequested(provider="woocommerce", source_id=f"cancel-{case.order_id}", occurred_at=NOW,
                            order_id=case.order_id, request_id=case.request_id, initiator="buyer",
                            platform_cancellation_id=case.platform_cancellation_id)
    with _START:  # one process, one environment: the window is read while the saga starts
        saved = os.environ.get("COOLING_OFF_SECONDS")
        os.environ["COOLING_OFF_SECONDS"] = str(cooling_off)
        try:
            apply(event)
        finally:
            os.environ["COOLING_OFF_SECONDS"] = saved or "0"


def scan(case: Case, tracking: str, status: ShipmentStatus, n: int) -> None:
    apply(ShipmentScanned(provider="aftership", source_id=f"as-{case.order_id}-{n}", occurred_at=NOW,
                          order_id=case.order_id, tracking_number=tracking, carrier="dhl", status=status))


# ---------------------------------------------------------------------------- the paths
def drive_direct(case: Case) -> None:
    request_cancellation(case)


def drive_shipped(case: Case, outcome: str) -> None:
    case.tracking = f"TRK-{_RUN}-{case.no}"
    case.env.carrier.add_shipment(case.tracking, "in_transit", outcome)
    scan(case, case.tracking, ShipmentStatus.IN_TRANSIT, 1)  # the order learns its tracking number
    request_cancellation(case)
    wait_for_step(case, "waiting_for_carrier")
    if outcome == "succeed":
        scan(case, case.tracking, ShipmentStatus.RETURN_TO_SENDER, 2)
        return
    scan(case, case.tracking, ShipmentStatus.DELIVERED, 2)
    wait_for_step(case, "waiting_for_return")
    label = REPO().require_order(case.order_id)["return_tracking_number"]
    scan(case, label, ShipmentStatus.DELIVERED, 3)  # the return parcel back at the seller


def drive_withdrawal(case: Case) -> None:
    request_cancellation(case, cooling_off=60)
    wait_for_step(case, "cooling_off_opened")
    apply(CancelWithdrawn(provider="woocommerce", source_id=f"withdraw-{case.order_id}", occurred_at=NOW,
                          order_id=case.order_id, request_id=case.request_id))


def drive_shipped_in_window(case: Case) -> None:
    """The parcel ships during the cooling-off window: settling finds it gone and the path is decided again."""
    case.tracking = f"TRK-{_RUN}-{case.no}"
    case.env.carrier.add_shipment(case.tracking, "in_transit", "succeed")
    request_cancellation(case, cooling_off=3)
    wait_for_step(case, "cooling_off_opened")
    scan(case, case.tracking, ShipmentStatus.IN_TRANSIT, 1)
    wait_for_step(case, "waiting_for_carrier")
    scan(case, case.tracking, ShipmentStatus.RETURN_TO_SENDER, 2)


def drive_platform(case: Case) -> None:
    request_cancellation(case)
    wait_for_step(case, "waiting_for_platform_decision")
    apply(PlatformCancellationDecided(provider="ozon", source_id=f"ozon-{case.order_id}", occurred_at=NOW,
                                      order_id=case.order_id, decision="approved"))


def drive_pending_refund(case: Case) -> None:
    assert case.pi
    case.pending.payments.add(case.pi)
    request_cancellation(case)
    wait_for_step(case, "waiting_for_refund_settlement")
    refund = stripe.Refund.list(payment_intent=case.pi).data[0]
    apply(RefundSettled(provider="stripe", source_id=f"evt-{refund.id}", occurred_at=NOW, order_id=case.order_id,
                        payment_ref=case.pi, refund_id=refund.id, status="succeeded", amount=refund.amount,
                        currency="USD"))


def drive_dispute_held(case: Case) -> None:
    assert case.pi
    case.env.stripe_disputes.open_dispute(case.pi, TOTAL, "usd", dispute_id=f"dp_{case.no}")  # Stripe's side
    apply(DisputeOpened(provider="stripe", source_id=f"dp-{case.order_id}", occurred_at=NOW, order_id=case.order_id,
                        payment_ref=case.pi, dispute_id=f"dp_{case.no}", amount=TOTAL, currency="USD"))
    request_cancellation(case)
    wait_for_step(case, "held_for_operator")
    # the hold's token is saved by the attempt that succeeded: wait until the saga is parked on it
    until(lambda: _parked(case), f"{case.order_id} parked on the operator")
    decide(case.order_id, "reject", "crash-test", "disputed: keep the order", REPO())


@dataclass(frozen=True)
class Path:
    """A way through the saga: how to drive it, the Task states it runs, how it must end."""

    drive: Callable[[Case], None]
    visits: tuple[str, ...]  # every Task state it runs, in order
    not_crashed: tuple[str, ...] = ()  # tasks that cannot crash "after" here (they end in an error)
    capture: bool = True
    shipped: bool = False
    refunded: bool = True  # one refund of the whole captured amount (else: none)
    voided: bool = False
    restocked: bool = True
    status: str = "CANCELLED"

    @property
    def crash_at(self) -> tuple[str, ...]:
        return tuple(t for t in self.visits if t not in self.not_crashed)


_DIRECT = ("BeginCancellation", "SettlePayment", "RestockItems", "NotifyPlatform", "CompleteCancellation")
_TAIL = _DIRECT[1:]

PATHS: dict[str, Path] = {
    "direct_captured": Path(drive_direct, _DIRECT),
    "direct_authorized": Path(drive_direct, _DIRECT, capture=False, refunded=False, voided=True),
    "shipped_intercept": Path(lambda c: drive_shipped(c, "succeed"), ("BeginCancellation", "AwaitIntercept", *_TAIL),
                              shipped=True),
    "shipped_return": Path(lambda c: drive_shipped(c, "fail"),
                           ("BeginCancellation", "AwaitIntercept", "AwaitReturn", *_TAIL), shipped=True),
    # settling is tried, finds the parcel gone (PathChanged), the path is decided again: intercept, then settle
    "shipped_in_window": Path(drive_shipped_in_window, ("BeginCancellation", "CoolingOff", "SettlePayment",
                                                        "Redecide", "AwaitIntercept", *_TAIL)),
    "cooling_off_withdrawn": Path(drive_withdrawal, ("BeginCancellation", "CoolingOff", "RecordWithdrawal"),
                                  refunded=False, restocked=False, status="OPEN"),
    "platform": Path(drive_platform, ("BeginCancellation", "AwaitPlatformDecision", *_TAIL), refunded=False),
    "refund_pending": Path(drive_pending_refund, ("BeginCancellation", "SettlePayment", "AwaitRefundSettlement",
                                                  *_TAIL[1:])),
    # SettlePayment refuses (a dispute is open), so only a crash before it can be retried into the hold
    "dispute_held_rejected": Path(drive_dispute_held, ("BeginCancellation", "SettlePayment", "HoldForOperator",
                                                      "RecordRejection"), refunded=False, restocked=False,
                                  status="OPEN"),
}

#: One parametrised check per Task state × path that runs it × crash point.
CASES = [(path, task, point) for task in TASKS for path, p in PATHS.items() if task in p.visits for point in POINTS
         if not (point == "after" and task == "SettlePayment" and path == "dispute_held_rejected")]


# ---------------------------------------------------------------------------- running
def _execution_arn(case: Case) -> str:
    machine = os.environ["CANCELLATION_STATE_MACHINE_ARN"]
    return machine.replace(":stateMachine:", ":execution:") + ":" + execution_name(case.order_id, case.request_id)


def _history(case: Case) -> list[dict[str, Any]]:
    sfn = aws.client("stepfunctions")
    return list(sfn.get_execution_history(executionArn=_execution_arn(case), maxResults=1000)["events"])


def _parked(case: Case) -> bool:
    events = _history(case)
    return bool(events) and events[-1]["type"] == "TaskSubmitted"


def _status(case: Case) -> str:
    sfn = aws.client("stepfunctions")
    return str(sfn.describe_execution(executionArn=_execution_arn(case))["status"])


@dataclass
class Outcome:
    """What one order left behind, for its checks to judge."""

    crashes: dict[str, Crash]
    error: str | None = None
    execution: str = ""
    tasks_run: list[str] = field(default_factory=list)


def run_case(case: Case, crashes: Crashes) -> Outcome:
    """Place the order, arm its crashes and drive it to the end of its saga."""
    path = PATHS[case.path]
    out = Outcome({task: Crash(task, case.point) for task in case.tasks})
    crashes.plans[case.order_id] = {action_of(task): crash for task, crash in out.crashes.items()}
    try:
        place(case, capture=path.capture, shipped=path.shipped)
        path.drive(case)
        out.execution = until(lambda: _status(case) != "RUNNING" and _status(case), f"{case.order_id} ends")
        out.tasks_run = [e["stateEnteredEventDetails"]["name"] for e in _history(case)
                         if e["type"] == "TaskStateEntered"]
    except Exception as exc:  # reported by every check of the order
        out.error = "".join(traceback.format_exception(exc)[-12:])
    return out


def _selected(session: pytest.Session) -> list[tuple[str, str, str]]:
    """The cases of this module that this pytest run will actually run."""
    wanted = []
    for item in session.items:
        spec = getattr(item, "callspec", None)
        if getattr(item, "module", None) is not None and item.module.__name__ == __name__ and spec is not None \
                and "case" in spec.params:
            wanted.append(spec.params["case"])
    return wanted


Outcomes = dict[tuple[str, str], tuple[Case, Outcome]]


@pytest.fixture(scope="module")
def outcomes(local_env: Any, request: pytest.FixtureRequest) -> Iterator[Outcomes]:
    """One order per (path, crash point), each task of it crashed once; all orders run concurrently.

    Each task's idempotency is its own, so crashing every task of an order once tests each
    of them as a crash of that task alone would, at a fraction of the orders.
    """
    crashes, pending = Crashes(), PendingRefunds()
    groups: dict[tuple[str, str], list[str]] = {}
    for path, task, point in _selected(request.session):
        groups.setdefault((path, point), []).append(task)
    cases = {key: Case(key[0], key[1], tuple(tasks), env=local_env, pending=pending) for key, tasks in groups.items()}
    lambdas = local_env.stack.lambdas
    lambdas.before.append(crashes.before)
    lambdas.after.append(crashes.after)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(StripeGateway, "create_refund", lambda gw, *a, **kw: pending.create_refund(gw, *a, **kw))
        try:
            with ThreadPoolExecutor(max_workers=len(cases) or 1) as pool:
                results = dict(zip(cases, pool.map(lambda c: run_case(c, crashes), cases.values())))
        finally:
            lambdas.before.remove(crashes.before)
            lambdas.after.remove(crashes.after)
    yield {key: (cases[key], results[key]) for key in cases}


# ---------------------------------------------------------------------------- the checks
def test_every_task_of_the_definition_runs_on_some_path() -> None:
    uncovered = [t for t in TASKS if not any(t in p.visits for p in PATHS.values())]
    assert not uncovered, f"add a path that runs {uncovered}"
    assert all(set(p.visits) <= set(TASKS) for p in PATHS.values())


@pytest.mark.parametrize("task", list(TASKS))
def test_every_task_retries_a_crashed_invocation(task: str) -> None:
    """A crash before or after the handler is something every task's Retry covers."""
    assert all(crash_error(task, point) for point in POINTS), f"{task} does not retry a crashed Lambda"


def _count(order_id: str, step: str) -> int:
    return steps(order_id).count(step)


@pytest.mark.parametrize("case", CASES, ids=["-".join(c) for c in CASES])
def test_a_crashed_task_is_retried_without_a_double_effect(case: tuple[str, str, str], outcomes: Outcomes) -> None:
    path_name, task, point = case
    run, out = outcomes[(path_name, point)]
    path = PATHS[path_name]
    assert out.error is None, out.error
    # the crash happened once and the definition's Retry ran the task again
    crash = out.crashes[task]
    assert crash.fired == 1, f"{task} never ran on {path_name}"
    assert crash.invocations >= 2
    assert out.execution == "SUCCEEDED"
    assert out.tasks_run == list(path.visits), f"{path_name} ran {out.tasks_run}, declared {path.visits}"
    order = REPO().require_order(run.order_id)
    assert order["status"] == path.status
    _assert_money_once(run, path, order)
    _assert_stock_once(run, path)
    _assert_other_effects_once(run, path)


def _assert_money_once(run: Case, path: Path, order: dict[str, Any]) -> None:
    """Exactly one refund of the captured amount (found by our metadata), or a void, or nothing."""
    refunds = list(stripe.Refund.list(payment_intent=run.pi).data) if run.pi else []
    ours = [r for r in refunds if (r.to_dict().get("metadata") or {}).get("backout_order_id") == run.order_id]
    assert len(refunds) == len(ours) == (1 if path.refunded and run.pi else 0)
    assert sum(r.amount for r in ours) == (TOTAL if ours else 0)
    if run.pi:
        expected = "canceled" if path.voided else ("succeeded" if path.capture else "requires_capture")
        assert stripe.PaymentIntent.retrieve(run.pi).status == expected
    settled = [s for s in steps(run.order_id) if s.startswith("payment_")]  # payment_<outcome>, once
    assert len(settled) == (1 if path.status == "CANCELLED" else 0), settled
    if run.path != "refund_pending":  # a pending refund is not counted by the saga (see the report)
        assert order.get("refunded_total", 0) == (TOTAL if ours else 0)


def _assert_stock_once(run: Case, path: Path) -> None:
    """The standard line back once, through one ledger entry; the custom line never."""
    inventory = InventoryRepository()
    assert inventory.stock(run.sku) == (3 if path.restocked else 1)
    assert (inventory.ledger_entry(run.sku, run.order_id, "1") is not None) == path.restocked
    assert inventory.stock(run.custom_sku) == 0
    assert inventory.ledger_entry(run.custom_sku, run.order_id, "2") is None
    assert _count(run.order_id, "stock_restored") == (1 if path.restocked else 0)
    assert _count(run.order_id, "restock_skipped_custom") == (1 if path.restocked else 0)


def _assert_other_effects_once(run: Case, path: Path) -> None:
    """Platform, carrier and closing steps: each once."""
    if path.status == "CANCELLED":
        assert _count(run.order_id, "platform_notified") == 1
        assert _count(run.order_id, "cancelled") == 1
    if run.tracking:
        intercepts = [e for e in run.env.carrier.effects("intercept") if e["tracking_number"] == run.tracking]
        assert len(intercepts) == 1 and _count(run.order_id, "intercept_requested") == 1
    if "AwaitReturn" in path.visits:
        labels = [e for e in run.env.carrier.effects("label") if e["order_id"] == run.order_id]
        assert len(labels) == 1 and _count(run.order_id, "return_label_issued") == 1
    if run.path == "cooling_off_withdrawn":
        assert _count(run.order_id, "cancel_withdrawn") == 1
    if run.path == "dispute_held_rejected":
        assert _count(run.order_id, "cancellation_rejected") == 1
