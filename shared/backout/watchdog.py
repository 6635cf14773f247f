"""The watchdog: keeps long saga waits alive and catches decisions whose webhook was lost.

Run on a schedule (template: WatchdogFunction, hourly). For every running
saga execution it reads the order's open task tokens (``TOKEN#<purpose>``
items without ``used_by``, of the execution's request) for the long waits:

1. ``SendTaskHeartbeat``. A token Step Functions no longer knows (the wait
   timed out or moved on) is stale and left alone.
2. The provider is asked where things stand, through the adapters: the
   platform's decision, the carrier's intercept, the gateway's refund. If it
   has already decided, the webhook that should have said so was lost: the
   watchdog builds the domain event that webhook would have carried and
   applies it through the dispatcher, so the wait resumes exactly as a
   webhook resumes it (timeline entry, ``WAKE#``, ``complete_token``,
   ``used_by``).

A wait nobody decides and nobody heartbeats ends in ``States.Timeout``
(``HeartbeatSecondsPath`` / ``TimeoutSecondsPath``), which the state machine
catches into HoldForOperator.

Each wait is checked on its own: a provider check (or an execution's read) that
raises is logged, counted in ``WatchReport.failed`` (the ``WatchdogWaitFailures``
metric, alarmed) and the pass goes on with the others. The same pass measures the
operator queue: the age of the oldest open operator wait (``OldestHoldAgeSeconds``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any

from backout import aws
from backout.adapters import stepfunctions
from backout.domain.events import (
    DomainEvent,
    PlatformCancellationDecided,
    RefundSettled,
    ShipmentScanned,
    ShipmentStatus,
)
from backout.repo.orders import OrdersRepository

#: Token purposes of the waits the state machine gives a heartbeat (the others are short or operator-bound).
WAITS = ("platform_decision", "carrier", "return", "refund_settlement")
STALE_CODES = stepfunctions.STALE_CODES
OPERATOR_WAIT = "operator"
log = logging.getLogger(__name__)
_INTERCEPT_SCANS = {"returned_to_sender": ShipmentStatus.RETURN_TO_SENDER, "delivered": ShipmentStatus.DELIVERED}


@dataclass
class WatchReport:
    """What one run did (returned by the Lambda and logged)."""

    executions: int = 0
    waits: int = 0
    heartbeats: int = 0
    completed: int = 0
    stale: int = 0
    failed: int = 0
    holds: int = 0
    oldest_hold_age_seconds: int = 0

    def as_dict(self) -> dict[str, int]:
        """The report as a plain dict."""
        return asdict(self)


@dataclass(frozen=True)
class OpenWait:
    """One saga step waiting on a task token."""

    order_id: str
    request_id: str
    purpose: str
    token: str


Probe = Callable[[OpenWait, OrdersRepository], DomainEvent | None]


class Watchdog:
    """Heartbeats and polls the open waits of the cancellation saga."""

    def __init__(self, repo: OrdersRepository | None = None, sfn: Any = None,
                 probes: dict[str, Probe] | None = None) -> None:
        self.repo = repo or OrdersRepository()
        self.sfn = sfn or aws.client("stepfunctions")
        self.probes = PROBES if probes is None else probes

    def run(self, now: datetime | None = None) -> WatchReport:
        """One pass over every running execution's open waits."""
        report = WatchReport()
        now = now or datetime.now(timezone.utc)
        for execution in self._running_executions():
            report.executions += 1
            try:
                waits, holds = self._open_waits(execution)
            except Exception as exc:  # noqa: BLE001 - one execution's fault must not abort the pass
                report.failed += 1
                log.warning("watchdog: execution %s could not be read: %r", execution.get("name"), exc)
                continue
            for saved_at in holds:
                report.holds += 1
                report.oldest_hold_age_seconds = max(report.oldest_hold_age_seconds, _age(saved_at, now))
            for wait in waits:
                report.waits += 1
                self._watch(wait, report)
        return report

    def _watch(self, wait: OpenWait, report: WatchReport) -> None:
        """One wait; a failing provider check is logged and counted, and never starves the other waits."""
        try:
            self._watch_one(wait, report)
        except Exception as exc:  # noqa: BLE001 - one order's fault must not abort the pass
            report.failed += 1
            log.warning("watchdog: wait %s of %s (request %s) failed: %r",
                        wait.purpose, wait.order_id, wait.request_id, exc)

    def _watch_one(self, wait: OpenWait, report: WatchReport) -> None:
        if not self._heartbeat(wait.token):
            report.stale += 1
            return
        report.heartbeats += 1
        probe = self.probes.get(wait.purpose)
        event = probe(wait, self.repo) if probe else None
        if event is not None:
            from backout.dispatch import Dispatcher

            Dispatcher(self.repo).apply(event)  # the same path the lost webhook would have taken
            report.completed += 1

    def _running_executions(self) -> Iterator[dict[str, Any]]:
        paginator = self.sfn.get_paginator("list_executions")
        for page in paginator.paginate(stateMachineArn=aws.env("CANCELLATION_STATE_MACHINE_ARN"),
                                       statusFilter="RUNNING"):
            yield from page.get("executions", [])

    def _open_waits(self, execution: dict[str, Any]) -> tuple[list[OpenWait], list[str]]:
        """The execution's long waits, and when each of its open operator waits began."""
        started = json.loads(self.sfn.describe_execution(executionArn=execution["executionArn"]).get("input") or "{}")
        order_id, request_id = started.get("order_id"), started.get("request_id")
        if not order_id or not request_id:
            return [], []
        waits, holds = [], []
        for item in self.repo.open_tokens(str(order_id)):
            purpose = str(item["purpose"])
            if item.get("request_id") != request_id:
                continue
            if purpose in WAITS:
                waits.append(OpenWait(str(order_id), str(request_id), purpose, str(item["token"])))
            elif purpose == OPERATOR_WAIT and item.get("saved_at"):
                holds.append(str(item["saved_at"]))
        return waits, holds

    def _heartbeat(self, token: str) -> bool:
        """SendTaskHeartbeat; False when the token no longer waits."""
        return stepfunctions.heartbeat(token, self.sfn)


def _age(saved_at: str, now: datetime) -> int:
    """Whole seconds since an ISO timestamp (0 when it cannot be read or lies in the future)."""
    try:
        then = datetime.fromisoformat(saved_at.replace("Z", "+00:00"))
    except ValueError:
        return 0
    if then.tzinfo is None:
        then = then.replace(tzinfo=timezone.utc)
    return max(0, int((now - then).total_seconds()))


# ------------------------------------------------------------------ probes: has the provider decided?
def _common(wait: OpenWait, provider: str) -> dict[str, Any]:
    """Fields of an event the watchdog makes in place of a lost webhook (traceable by its source id)."""
    return {"provider": provider, "source_id": f"watchdog:{wait.order_id}:{wait.request_id}:{wait.purpose}",
            "occurred_at": datetime.now(timezone.utc), "order_id": wait.order_id}


def _effect_result(repo: OrdersRepository, wait: OpenWait, effect_id: str) -> dict[str, Any]:
    return dict((repo.get_effect(wait.order_id, effect_id) or {}).get("result") or {})


def probe_platform(wait: OpenWait, repo: OrdersRepository) -> DomainEvent | None:
    """The marketplace's decision on what Backout asked for this request."""
    from backout.saga import providers
    from backout.saga.platforms import platform_effect_id

    order = repo.require_order(wait.order_id)
    request = repo.get_request(wait.order_id, wait.request_id) or {}
    asked = _effect_result(repo, wait, platform_effect_id(wait.request_id))
    decision = providers.platform_decision(order, request, asked)
    if decision is None:
        return None
    cancellation_id = asked.get("platform_cancellation_id") or request.get("platform_cancellation_id")
    return PlatformCancellationDecided(**_common(wait, str(order["channel"])), decision=decision,
                                       platform_cancellation_id=str(cancellation_id) if cancellation_id else None)


def probe_carrier(wait: OpenWait, repo: OrdersRepository) -> DomainEvent | None:
    """The carrier's outcome of the intercept requested for this request."""
    from backout.saga import providers
    from backout.saga.platforms import intercept_effect_id

    intercept = _effect_result(repo, wait, intercept_effect_id(wait.request_id))
    if not intercept.get("intercept_id"):
        return None
    outcome = providers.intercept_outcome(str(intercept["intercept_id"]))
    if outcome not in _INTERCEPT_SCANS:
        return None
    return ShipmentScanned(**_common(wait, "carrier"), tracking_number=intercept.get("tracking_number"),
                           status=_INTERCEPT_SCANS[outcome], raw_status=f"intercept:{outcome}")


def probe_refund(wait: OpenWait, repo: OrdersRepository) -> DomainEvent | None:
    """The gateway's status of the refund made for this request."""
    from backout.adapters.gateway import gateway_for
    from backout.saga.payments import attempt_of, effect_key

    order = repo.require_order(wait.order_id)
    attempt = attempt_of(repo.ledger(wait.order_id), wait.request_id)
    suffix = f"#a{attempt}" if attempt else ""
    settled = _effect_result(repo, wait, f"settle#{wait.request_id}{suffix}")
    if not settled.get("refund_id") or len(settled.get("refund_ids") or []) > 1 or not order.get("payment_ref"):
        return None  # several captures: each refund's own webhook settles it (the wait names them all)
    refund = gateway_for(str(order["gateway"])).find_refund(str(order["payment_ref"]),
                                                           effect_key(wait.order_id, wait.request_id) + suffix)
    if refund is None or refund.status not in ("succeeded", "failed", "canceled"):
        return None
    return RefundSettled(**_common(wait, str(order["gateway"])), payment_ref=str(order["payment_ref"]),
                         refund_id=refund.refund_id, status=refund.status, amount=refund.amount,
                         currency=refund.currency, failure_reason=None)


#: What the watchdog asks per wait; the return scan has no carrier status to poll, so it is only heartbeated.
PROBES: dict[str, Probe] = {"platform_decision": probe_platform, "carrier": probe_carrier,
                            "refund_settlement": probe_refund}
