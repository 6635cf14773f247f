"""Table 2: AWS calls per saga path, Step Functions state transitions, and the AWS cost per 1,000 cancellations.

Every path runs on the local stack (template on moto, real handlers, real
state machine). Calls are counted through botocore hooks and attributed to
the function whose handler made them; Lambda invocations and their
in-process durations come from the stack's Lambda seam; transitions are the
``*StateEntered`` events of the path's executions (what Step Functions
Standard bills, beside the start).
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from backout_dev.bench.awscalls import AwsCallCounter
from backout_dev.bench.report import Table, verdict
from backout_dev.template import load_template, resources_of

#: Budget: state transitions on the unshipped happy path (direct, captured).
HAPPY_PATH_TRANSITIONS_BUDGET = 10
#: Public list prices, us-east-1 (arm64 Lambda, DynamoDB on-demand, Step Functions Standard), USD.
PRICES = {
    "lambda_gb_second_arm64": 0.0000133334,
    "lambda_request": 0.20 / 1_000_000,
    "dynamodb_write_request_unit": 0.625 / 1_000_000,
    "dynamodb_read_request_unit": 0.125 / 1_000_000,
    "sfn_state_transition": 0.025 / 1_000,
    "secrets_manager_api_call": 0.05 / 10_000,
}
PRICES_AS_OF = ("AWS pricing pages for us-east-1 as published in 2025 (DynamoDB on-demand after the November 2024 "
                "reduction); not re-checked online on the run date (the benchmark has no network)")
#: Request units per item, by DynamoDB operation (items up to 1 KB written / 4 KB read; a transaction costs double).
_WRITE_UNITS = {"PutItem": 1, "UpdateItem": 1, "DeleteItem": 1, "BatchWriteItem": 1, "TransactWriteItems": 2}
_READ_UNITS = {"GetItem": 1, "Query": 1, "Scan": 1, "BatchGetItem": 1, "TransactGetItems": 2}


@dataclass
class PathResult:
    """What one saga path cost."""

    name: str
    outcome: str
    calls: Counter[str] = field(default_factory=Counter)
    invocations: Counter[str] = field(default_factory=Counter)
    gb_seconds: float = 0.0
    transitions: int = 0
    write_units: int = 0
    read_units: int = 0

    @property
    def aws_calls(self) -> int:
        return sum(self.calls.values())

    def cost(self) -> float:
        """USD for one cancellation on this path."""
        return (self.gb_seconds * PRICES["lambda_gb_second_arm64"]
                + sum(self.invocations.values()) * PRICES["lambda_request"]
                + self.write_units * PRICES["dynamodb_write_request_unit"]
                + self.read_units * PRICES["dynamodb_read_request_unit"]
                + self.transitions * PRICES["sfn_state_transition"]
                + self.calls.get("secrets-manager.GetSecretValue", 0) * PRICES["secrets_manager_api_call"])


class Meter:
    """Attributes AWS calls to functions and records each invocation's duration and memory."""

    def __init__(self, env: Any, counter: AwsCallCounter) -> None:
        self.counter = counter
        self.lock = threading.Lock()
        self.invocations: Counter[str] = Counter()
        self.gb_seconds = 0.0
        memory = {logical: int(res["Properties"].get("MemorySize") or
                               load_template()["Globals"]["Function"]["MemorySize"])
                  for logical, res in resources_of(load_template(), "AWS::Serverless::Function").items()}
        self.lambdas = lambdas = env.stack.lambdas
        inner = lambdas.invoke

        def invoke(function_name: str, arn: str, event: Any) -> tuple[str, bool, str]:
            start = time.perf_counter()
            with counter.caller(function_name):
                try:
                    return inner(function_name, arn, event)
                finally:
                    billed_ms = max(1.0, -(-(time.perf_counter() - start) * 1000 // 1))  # per ms, rounded up
                    with self.lock:
                        self.invocations[function_name] += 1
                        self.gb_seconds += billed_ms / 1000 * memory.get(function_name, 512) / 1024

        lambdas.invoke = invoke  # the moto seam calls registry.invoke: this instance attribute wins

    def close(self) -> None:
        """Stop metering (the stack's own invoke is used again)."""
        self.lambdas.__dict__.pop("invoke", None)

    @contextmanager
    def measure(self, result: PathResult) -> Iterator[None]:
        """Count everything that happens in the block into ``result``."""
        calls0, items0 = self.counter.snapshot(), self.counter.snapshot(items=True)
        inv0, gbs0 = Counter(self.invocations), self.gb_seconds
        yield
        result.calls.update(AwsCallCounter.by_operation(self.counter.snapshot() - calls0, "*"))
        items = AwsCallCounter.by_operation(self.counter.snapshot(items=True) - items0, "*")
        result.invocations.update(Counter(self.invocations) - inv0)
        result.gb_seconds += self.gb_seconds - gbs0
        for op, n in items.items():
            service, name = op.split(".", 1)
            if service == "dynamodb":
                result.write_units += _WRITE_UNITS.get(name, 0) * n
                result.read_units += _READ_UNITS.get(name, 0) * n


def transitions(sfn: Any, execution_arns: list[str]) -> int:
    """State transitions of the given executions (entered states, as billed)."""
    total = 0
    for arn in execution_arns:
        events, token = [], None
        while True:
            page = sfn.get_execution_history(executionArn=arn, maxResults=1000, **({"nextToken": token} if token else {}))
            events += page["events"]
            token = page.get("nextToken")
            if not token:
                break
        total += sum(1 for e in events if e["type"].endswith("StateEntered"))
    return total


# --------------------------------------------------------------------------
# the paths


def _wait(check: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError("saga path did not reach its state")
        time.sleep(0.05)


def _status(order_id: str) -> str:
    from backout.repo.orders import OrdersRepository

    return str((OrdersRepository().get_order(order_id) or {}).get("status"))


def _steps(order_id: str) -> list[str]:
    from backout.repo.orders import OrdersRepository

    return [str(s["step"]) for s in OrdersRepository().timeline(order_id)]


def execution_arns(sfn: Any) -> set[str]:
    """Every execution of every state machine."""
    out: set[str] = set()
    for machine in sfn.list_state_machines()["stateMachines"]:
        for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=machine["stateMachineArn"]):
            out.update(e["executionArn"] for e in page["executions"])
    return out


def _scan(meter: Meter, order: Any, tracking: str, status: Any, n: int) -> None:
    """A carrier scan, applied through the dispatcher as its webhook would be (counted as the dispatcher's)."""
    from backout.dispatch import Dispatcher
    from backout.domain.events import ShipmentScanned

    with meter.counter.caller("DispatcherFunction"):
        Dispatcher().apply(ShipmentScanned(provider="aftership", source_id=f"bench_{tracking}_{n}",
                                           occurred_at=datetime.now(UTC), order_id=order.order_id,
                                           tracking_number=tracking, carrier="dhl", status=status))


def _shipped(env: Any, shop: Any, meter: Meter, outcome: str) -> Any:
    from backout.domain.events import ShipmentStatus

    order = shop.new(True, sku=f"BENCH-SHIP-{outcome}")
    tracking = f"TRK-BENCH-{order.no}"
    shop.place(order)
    assert shop.send(order, "completed", offset=-30) == 200
    env.carrier.add_shipment(tracking, "in_transit", outcome)
    env.stack.wait_idle()
    _scan(meter, order, tracking, ShipmentStatus.IN_TRANSIT, 1)
    order.tracking = tracking
    return order


def _path_direct(capture: bool) -> Callable[[Any, Any, Meter, PathResult], None]:
    def run(env: Any, shop: Any, meter: Meter, result: PathResult) -> None:
        order = shop.new(capture)
        shop.place(order)
        env.stack.wait_idle()
        with meter.measure(result):
            shop.cancel(order)
            _wait(lambda: _status(order.order_id) == "CANCELLED")
            env.stack.wait_idle()
        result.outcome = _status(order.order_id)

    return run


def _path_withdrawal(env: Any, shop: Any, meter: Meter, result: PathResult) -> None:
    order = shop.new(True)
    shop.place(order)
    env.stack.wait_idle()
    saved = os.environ.get("COOLING_OFF_SECONDS")
    os.environ["COOLING_OFF_SECONDS"] = "60"
    try:
        with meter.measure(result):
            shop.cancel(order)
            _wait(lambda: "cooling_off_opened" in _steps(order.order_id))
            body = shop.body(order, "processing", offset=5)
            body["meta_data"].append({"id": 99, "key": "_backout_cancel_withdrawn", "value": "yes"})
            assert shop.send(order, "processing", body=body) == 200
            _wait(lambda: "cancel_withdrawn" in _steps(order.order_id))
            env.stack.wait_idle()
    finally:
        os.environ.pop("COOLING_OFF_SECONDS") if saved is None else os.environ.update(COOLING_OFF_SECONDS=saved)
    result.outcome = _status(order.order_id)


def _path_intercept(env: Any, shop: Any, meter: Meter, result: PathResult) -> None:
    from backout.domain.events import ShipmentStatus

    order = _shipped(env, shop, meter, "succeed")
    with meter.measure(result):
        shop.cancel(order)
        _wait(lambda: "waiting_for_carrier" in _steps(order.order_id))
        _scan(meter, order, order.tracking, ShipmentStatus.RETURN_TO_SENDER, 2)
        _wait(lambda: _status(order.order_id) == "CANCELLED")
        env.stack.wait_idle()
    result.outcome = _status(order.order_id)


def _path_return(env: Any, shop: Any, meter: Meter, result: PathResult) -> None:
    from backout.domain.events import ShipmentStatus
    from backout.repo.orders import OrdersRepository

    order = _shipped(env, shop, meter, "fail")
    with meter.measure(result):
        shop.cancel(order)
        _wait(lambda: "waiting_for_carrier" in _steps(order.order_id))
        _scan(meter, order, order.tracking, ShipmentStatus.DELIVERED, 2)
        _wait(lambda: "waiting_for_return" in _steps(order.order_id))
        label = str(OrdersRepository().get_order(order.order_id)["return_tracking_number"])
        _scan(meter, order, label, ShipmentStatus.DELIVERED, 3)
        _wait(lambda: _status(order.order_id) == "CANCELLED")
        env.stack.wait_idle()
    result.outcome = _status(order.order_id)


PATHS: dict[str, Callable[[Any, Any, Meter, PathResult], None]] = {
    "direct, captured (refund)": _path_direct(True),
    "direct, authorized (void)": _path_direct(False),
    "withdrawn in cooling-off": _path_withdrawal,
    "shipped, intercepted": _path_intercept,
    "shipped, returned": _path_return,
}
HAPPY_PATH = "direct, captured (refund)"


def measure_paths(env: Any, counter: AwsCallCounter, names: tuple[str, ...] = tuple(PATHS)) -> list[PathResult]:
    """Run each path once on ``env`` (a started LocalEnvironment) and measure it."""
    from backout_dev.bench.endpoint import forget_clients
    from backout_dev.bench.orders import Shop

    forget_clients()  # clients made before the counter was installed would not be counted
    meter = Meter(env, counter)
    shop = Shop(env)
    sfn = env.stack.client("stepfunctions")
    results = []
    try:
        for name in names:
            result = PathResult(name, "")
            before = execution_arns(sfn)
            PATHS[name](env, shop, meter, result)
            result.transitions = transitions(sfn, sorted(execution_arns(sfn) - before))
            results.append(result)
    finally:
        meter.close()
    return results


def saga_table(paths: list[PathResult], ack_rows: list[list[Any]]) -> Table:
    """Table 2: AWS calls per acknowledgement and per path, transitions, and cost per 1,000 cancellations."""
    table = Table("2. AWS calls, Step Functions transitions and cost per 1,000 cancellations",
                  ["what", "AWS calls", "by operation", "transitions", "$ / 1,000", "budget"])
    table.rows += ack_rows
    for p in paths:
        ops = ", ".join(f"{op} {n}" for op, n in sorted(p.calls.items()))
        invoked = sum(p.invocations.values())
        held = "-" if p.name != HAPPY_PATH else verdict(p.transitions <= HAPPY_PATH_TRANSITIONS_BUDGET)
        table.rows.append([f"saga: {p.name} -> {p.outcome}", p.aws_calls, f"{ops}; Lambda invocations {invoked}",
                           p.transitions, round(p.cost() * 1000, 4), held])
    acks_ok = all(row[-1] == "ok" for row in ack_rows)
    table.budget("1 AWS call per acknowledgement", acks_ok,
                 "one conditional PutItem per delivery once the secret is cached" if acks_ok else
                 "a receiver made more than one call per delivery (see the row)")
    happy = next((p for p in paths if p.name == HAPPY_PATH), None)
    if happy is not None:
        table.budget(f"≤ {HAPPY_PATH_TRANSITIONS_BUDGET} transitions on the unshipped happy path",
                     happy.transitions <= HAPPY_PATH_TRANSITIONS_BUDGET,
                     f"{happy.transitions} states entered on '{happy.name}'"
                     + ("" if happy.transitions <= HAPPY_PATH_TRANSITIONS_BUDGET else
                        ": fold the Choice states into their predecessors' ResultSelector/Choice or merge "
                        "RestockItems and NotifyPlatform into one task"))
    table.notes += [
        "per path: from the cancel request to the end, every AWS call our functions made (the ack PutItem, the "
        "dispatcher, the saga's tasks), by operation; carrier scans are applied through the dispatcher (their "
        "acknowledgement, 1 PutItem each, is not in the row)",
        "cost = Lambda GB-s (in-process duration rounded up to 1 ms, × MemorySize from the template, arm64) + "
        "Lambda requests + DynamoDB request units (1 per item written/read, 2 in a transaction; items ≤ 1 KB assumed) "
        "+ Step Functions Standard transitions + Secrets Manager calls; stream reads by Lambda are free",
        "prices (USD): Lambda arm64 $0.0000133334/GB-s, $0.20/1M requests; DynamoDB on-demand $0.625/1M WRU, "
        "$0.125/1M RRU; Step Functions Standard $0.025/1,000 transitions; Secrets Manager $0.05/10,000 calls; "
        + PRICES_AS_OF,
    ]
    return table
