"""How the model touches the stack: signed webhooks, the operator route, the watchdog, one-shot faults, quiescence.

Nothing here reads Backout's tables for the money; the only Backout reads are the
order's status and hold reason (for the "decided or queued" check) and the stock counts.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from typing import Any

from backout_dev.sigv4 import local_request
from backout_dev.sim.faults import FaultInjector, FaultPlan
from backout_dev.template import ROOT

EVENTS = ROOT / "events"
#: A provider retries a 5xx (a crashed receiver) like this many times.
SEND_ATTEMPTS = 6


def sample(name: str) -> dict[str, Any]:
    """The API Gateway event ``events/<name>.json`` (path and headers; the body is replaced)."""
    from backout_dev.sender import load_sample

    return load_sample(EVENTS / f"{name}.json")


def post_signed(env: Any, event: dict[str, Any], body: dict[str, Any], headers: dict[str, str] | None = None
                ) -> tuple[int, dict[str, Any]]:
    """Sign ``body`` with this run's secrets (fresh timestamps) and post it, retrying 5xx like a provider."""
    from backout_dev.sender import post, provider_of, sign

    provider = provider_of(event)
    raw = json.dumps(body, separators=(",", ":")).encode()
    base = {k: v for k, v in {**dict(event.get("headers") or {}), **(headers or {})}.items()
            if k not in ("content-length", "host")}
    status, answer = 599, {}
    for attempt in range(SEND_ATTEMPTS):
        signed = sign(provider, raw, base, env.secrets)
        signed.setdefault("content-type", "application/json")
        try:
            status, answer = post(env.url + event["rawPath"], raw, signed, timeout=30)
        except OSError as exc:
            status, answer = 599, {"error": str(exc)}
        if status < 500:
            break
        time.sleep(0.1 * (attempt + 1))
    return status, answer


def operator_decision(env: Any, order_id: str, decision: str) -> tuple[int, str]:
    """``POST /operator/orders/{id}/decision`` on the local HTTP API (as ``backout approve|reject``)."""
    url = f"{env.url}/operator/orders/{order_id}/decision"
    data = json.dumps({"decision": decision, "note": "model-based run"}).encode()
    req = local_request(url, data=data, method="POST", headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 - loopback
            return int(resp.status), resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def watchdog(env: Any) -> dict[str, Any]:
    """One scheduled run of WatchdogFunction (the EventBridge event the template schedules)."""
    report, errored = env.stack.invoke("WatchdogFunction", {"source": "aws.events"})
    return {"errored": errored, **(report or {})}


def wait_quiet(env: Any, timeout: float = 120.0) -> None:
    """The stack is quiescent: the inbox stream drained and every execution finished or parked on a token
    (the existing simulation's definition: ``backout_dev.sim.runner.wait_quiet``)."""
    from backout_dev.sim.runner import wait_quiet as sim_wait_quiet

    sim_wait_quiet(env.stack, timeout)


class OneShotFaults(FaultInjector):
    """The simulation's fault seams, armed one fault at a time by the model's rules.

    ``arm("stripe_lost_response")``: the next Stripe POST reaches localstripe and its answer is lost;
    ``arm("lambda_crash", function)``: the next invocation of ``function`` dies at its ``k``-th AWS/Stripe call.
    Step Functions retry sleeps are scaled as in the simulation (a failed refund's backoff is 1+2+4+8 s).
    """

    def __init__(self) -> None:
        super().__init__(FaultPlan.none(), seed=0)
        self.crash_next: dict[str, int] = {}

    def arm(self, kind: str, function: str = "", k: int = 1) -> None:
        if kind == "lambda_crash":
            self.crash_next[function] = k
        else:
            setattr(self.plan, kind, 1.0)

    def count(self, kind: str, n: int = 1) -> None:
        super().count(kind, n)
        if kind != "sfn_task_retry" and hasattr(self.plan, kind):
            setattr(self.plan, kind, 0.0)  # one shot

    def _before_invoke(self, function_name: str, payload: Any) -> None:
        state = self._local
        state.calls, state.crash_after = 0, None
        for name, k in list(self.crash_next.items()):
            if name in function_name:
                del self.crash_next[name]
                state.crash_after = k


def new_id(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:16]}"
