"""Fault injection at the seams the local stack runs through, counted by kind.

* **DynamoDB** (botocore ``before-call`` / ``after-call`` hooks on the cached
  ``backout.aws.client("dynamodb")``): throttling
  (``ProvisionedThroughputExceededException``), a timeout before the write
  reached the table, a timeout *after* it was applied (the response is lost,
  so a retry races its own conditional write), and a short delay before a
  conditional write that widens the window two racing deliveries meet in.
* **Step Functions API** (same hooks on ``aws.client("stepfunctions")``):
  throttling of StartExecution / SendTask*.
* **Stripe** (a wrapper around the stripe SDK's HTTP client, between the code
  and localstripe): 429, 500, a connect timeout, and "succeeded at Stripe but
  the response was lost" (the request reaches localstripe, the caller gets a
  connection error).
* **Lambda crash mid-task** (``InProcessLambdas.before``): an invocation is
  doomed to die after its k-th AWS or Stripe call, whatever that call was.
* **Provider fakes** (PayPal, Shopify, Ozon): per order, at set-up, the fake
  is armed to lose its answer to Backout's first refund, void or decision
  call (``drop_next_response``: the effect happens, a 500 comes back).
* **Step Functions task retries**: moto's retrier really sleeps
  ``IntervalSeconds``; the sleep is scaled down and every retry counted.

Only the stack's own threads get faults: the simulator's threads (setup,
deliveries, invariant queries) are exempt (:meth:`FaultInjector.exempt`).
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

#: Conditional writes: the operations whose race the delay fault widens.
_CONDITIONAL = ("PutItem", "UpdateItem", "TransactWriteItems")


@dataclass
class FaultPlan:
    """Per-call probabilities of each fault kind (0 disables it)."""

    ddb_throttle: float = 0.0
    ddb_timeout: float = 0.0
    ddb_lost_response: float = 0.0
    ddb_race_delay: float = 0.0
    sfn_throttle: float = 0.0
    stripe_429: float = 0.0
    stripe_5xx: float = 0.0
    stripe_timeout: float = 0.0
    stripe_lost_response: float = 0.0
    lambda_crash: float = 0.0
    #: Per order, at set-up: the fake PayPal / Shopify / Ozon is armed to lose its answer to Backout's
    #: first refund, void or decision call for the order (the effect happens, a 500 comes back).
    provider_lost_response: float = 0.0
    #: Step Functions retry sleeps are multiplied by this (moto sleeps for real).
    retry_sleep_scale: float = 0.02

    @classmethod
    def none(cls) -> "FaultPlan":
        """No faults at all (retry sleeps still scaled)."""
        return cls()

    @classmethod
    def default(cls, scale: float = 1.0) -> "FaultPlan":
        """The rates the default run and the soak use; ``scale`` multiplies every rate."""
        # DynamoDB failures are rarer than the saga's provider faults: a stream batch that keeps failing goes to the
        # dead-letter queue after MaximumRetryAttempts, and then waits for an operator's replay
        return cls(ddb_throttle=0.003 * scale, ddb_timeout=0.0015 * scale, ddb_lost_response=0.0015 * scale,
                   ddb_race_delay=0.02 * scale, sfn_throttle=0.01 * scale, stripe_429=0.03 * scale,
                   stripe_5xx=0.03 * scale, stripe_timeout=0.02 * scale, stripe_lost_response=0.05 * scale,
                   lambda_crash=0.04 * scale, provider_lost_response=0.15 * scale)


class LambdaCrash(RuntimeError):
    """The simulated death of a Lambda invocation in the middle of its work."""


class _ThreadState(threading.local):
    """Per thread: exempt from faults? doomed to crash after how many calls?"""

    exempt = False
    crash_after: int | None = None
    calls = 0


@dataclass
class FaultInjector:
    """Installs the hooks, decides each fault with a seeded RNG, counts what it did."""

    plan: FaultPlan
    seed: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    armed: bool = False

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed ^ 0x5EED)
        self._lock = threading.Lock()
        self._local = _ThreadState()
        self._undo: list[Any] = []

    # ------------------------------------------------------------ decisions
    def _roll(self, rate: float) -> bool:
        if rate <= 0 or not self.armed or self._local.exempt:
            return False
        with self._lock:
            return self._rng.random() < rate

    def draw(self, rate: float) -> bool:
        """A seeded decision taken while the run is set up (on the simulator's own, exempt thread)."""
        with self._lock:
            return rate > 0 and self._rng.random() < rate

    def count(self, kind: str, n: int = 1) -> None:
        """Count one event of ``kind`` (faults, retries)."""
        with self._lock:
            self.counts[kind] += n

    @contextmanager
    def exempt(self) -> Iterator[None]:
        """No faults for calls made by this thread inside the block (the simulator's own calls)."""
        before = self._local.exempt
        self._local.exempt = True
        try:
            yield
        finally:
            self._local.exempt = before

    @contextmanager
    def exposed(self) -> Iterator[None]:
        """Faults again for this thread inside the block (a receiver invoked straight from a sender thread)."""
        before = self._local.exempt
        self._local.exempt = False
        try:
            yield
        finally:
            self._local.exempt = before

    def exempt_thread(self) -> None:
        """Mark the calling thread (a simulator worker) as exempt for good."""
        self._local.exempt = True

    def _tick_crash(self, where: str) -> None:
        """Count one external call of the current invocation; die if this is the doomed one."""
        state = self._local
        if state.crash_after is None or state.exempt:
            return
        state.calls += 1
        if state.calls >= state.crash_after:
            state.crash_after = None
            self.count("lambda_crash")
            raise LambdaCrash(f"simulated crash of the Lambda invocation at {where}")

    # ------------------------------------------------------------ install
    def install(self, stack: Any) -> "FaultInjector":
        """Hook the stack's clients, Lambda invocations, moto's retrier and the Stripe HTTP client."""
        from backout import aws

        for service in ("dynamodb", "stepfunctions"):
            events = aws.client(service).meta.events
            sid = "dynamodb" if service == "dynamodb" else "sfn"
            events.register(f"before-call.{sid}", self._before_call)
            events.register(f"after-call.{sid}", self._after_call)
            self._undo.append(lambda e=events, s=sid: (e.unregister(f"before-call.{s}", self._before_call),
                                                       e.unregister(f"after-call.{s}", self._after_call)))
        stack.lambdas.before.append(self._before_invoke)
        self._undo.append(lambda: stack.lambdas.before.remove(self._before_invoke))
        self._install_retry_clock()
        self._install_stripe()
        return self

    def uninstall(self) -> None:
        """Remove every hook (in reverse order)."""
        self.armed = False
        while self._undo:
            self._undo.pop()()

    # ------------------------------------------------------------ AWS hooks
    def _before_call(self, model: Any, params: dict[str, Any], **_: Any) -> Any:
        op = model.name
        self._tick_crash(f"{model.service_model.service_name}.{op}")
        if model.service_model.service_name == "stepfunctions":
            if op in ("StartExecution", "SendTaskSuccess", "SendTaskFailure") and self._roll(self.plan.sfn_throttle):
                self.count("sfn_throttle")
                return _error_response("ThrottlingException", 400)
            return None
        if self._roll(self.plan.ddb_throttle):
            self.count("ddb_throttle")
            return _error_response("ProvisionedThroughputExceededException", 400)
        if self._roll(self.plan.ddb_timeout):
            self.count("ddb_timeout")
            from botocore.exceptions import ConnectTimeoutError

            raise ConnectTimeoutError(endpoint_url="https://dynamodb.local (simulated)")
        if op in _CONDITIONAL and "ConditionExpression" in str(params) and self._roll(self.plan.ddb_race_delay):
            self.count("ddb_race_delay")
            time.sleep(self._rng.uniform(0.001, 0.02))
        return None

    def _after_call(self, model: Any, http_response: Any, **_: Any) -> None:
        service = model.service_model.service_name
        if service != "dynamodb" or model.name not in _CONDITIONAL or getattr(http_response, "status_code", 500) >= 300:
            return
        if self._roll(self.plan.ddb_lost_response):
            self.count("ddb_lost_response")
            from botocore.exceptions import ReadTimeoutError

            raise ReadTimeoutError(endpoint_url="https://dynamodb.local (simulated: applied, response lost)")

    # ------------------------------------------------------------ Lambda
    def _before_invoke(self, function_name: str, payload: Any) -> None:
        state = self._local
        state.calls, state.crash_after = 0, None
        if self._roll(self.plan.lambda_crash):
            with self._lock:
                state.crash_after = self._rng.randint(1, 10)

    # ------------------------------------------------------------ Step Functions retries
    def _install_retry_clock(self) -> None:
        from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

        injector, real = self, retrier_decl.time

        class _Clock:
            def __getattr__(self, name: str) -> Any:
                return getattr(real, name)

            @staticmethod
            def sleep(seconds: float) -> None:
                injector.count("sfn_task_retry")
                real.sleep(seconds * injector.plan.retry_sleep_scale)

        retrier_decl.time = _Clock()  # type: ignore[assignment]
        self._undo.append(lambda: setattr(retrier_decl, "time", real))

    # ------------------------------------------------------------ Stripe
    def _install_stripe(self) -> None:
        import stripe
        from stripe._http_client import HTTPClient, new_default_http_client

        injector = self
        inner = new_default_http_client()
        saved = stripe.default_http_client

        class FaultyStripeHTTP(HTTPClient):  # type: ignore[misc]
            """Between the stripe SDK and localstripe: injects 429, 5xx, timeouts and lost responses."""

            name = "sim-faulty"

            def request(self, method: str, url: str, headers: Any, post_data: Any = None, **kw: Any) -> Any:
                injector._tick_crash(f"stripe {method.upper()} {url.split('/v1/')[-1][:40]}")
                plan = injector.plan
                if injector._roll(plan.stripe_429):
                    injector.count("stripe_429")
                    return ('{"error":{"type":"rate_limit_error","message":"simulated 429"}}', 429, {})
                if injector._roll(plan.stripe_5xx):
                    injector.count("stripe_5xx")
                    return ('{"error":{"type":"api_error","message":"simulated 500"}}', 500, {})
                if injector._roll(plan.stripe_timeout):
                    injector.count("stripe_timeout")
                    raise stripe.APIConnectionError("simulated timeout before the request reached Stripe")
                response = inner.request(method, url, headers, post_data)
                if method.lower() == "post" and response[1] < 300 and injector._roll(plan.stripe_lost_response):
                    injector.count("stripe_lost_response")
                    raise stripe.APIConnectionError("simulated: Stripe applied the request, the response was lost")
                return response

            def close(self) -> None:
                inner.close()

        stripe.default_http_client = FaultyStripeHTTP()
        self._undo.append(lambda: setattr(stripe, "default_http_client", saved))


def _error_response(code: str, status: int) -> tuple[Any, dict[str, Any]]:
    """What a ``before-call`` handler returns to short-circuit a call with an AWS error."""
    from botocore.awsrequest import AWSResponse

    http = AWSResponse("https://local.simulated", status, {}, None)
    parsed = {"Error": {"Code": code, "Message": f"simulated {code}"},
              "ResponseMetadata": {"HTTPStatusCode": status, "RequestId": "simulated"}}
    return http, parsed
