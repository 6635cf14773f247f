"""Turn guardrail evaluations and audit runs into metrics and a loggable summary."""

from __future__ import annotations

from typing import Any

from backout import metric_names as names
from backout.ops.audit import AuditReport
from backout.ops.emit import MetricUnit, emit
from backout.ops.guardrails import Evaluation


def publish_evaluation(ev: Evaluation) -> dict[str, Any]:
    """Emit each guardrail's rate (skipped when no order was placed in its window) and the weekly check."""
    rates: dict[str, Any] = {}
    for rate in ev.rates:
        name = rate.guardrail.name
        rates[name] = {"percent": rate.percent, "cancelled": rate.cancelled, "placed": rate.placed,
                       "threshold_percent": rate.guardrail.threshold_percent, "breached": rate.breached}
        emit(names.CANCELLATION_RATE_THRESHOLD, rate.guardrail.threshold_percent, MetricUnit.Percent, guardrail=name)
        if rate.percent is not None:
            emit(names.CANCELLATION_RATE, rate.percent, MetricUnit.Percent, guardrail=name)
    weekly = ev.weekly
    emit(names.WEEKLY_CANCELLATIONS, weekly.cancellations)
    emit(names.WEEKLY_CANCELLATIONS_EXCEEDED, 1 if weekly.exceeded else 0)
    if weekly.limit is not None:
        emit(names.WEEKLY_CANCELLATIONS_LIMIT, weekly.limit)
    return {"day": ev.end.isoformat(), "rates": rates,
            "weekly": {"week": weekly.week.isoformat(), "cancellations": weekly.cancellations, "mean": weekly.mean,
                       "limit": weekly.limit, "exceeded": weekly.exceeded}}


def publish_audit(report: AuditReport) -> dict[str, Any]:
    """Emit the audit's error rate and counts; the summary lists every differing SKU."""
    emit(names.INVENTORY_ERROR_RATE, report.error_percent, MetricUnit.Percent)
    emit(names.INVENTORY_SKUS_AUDITED, len(report.findings))
    emit(names.INVENTORY_SKUS_DIFFERING, len(report.differing))
    return {"run_at": report.run_at, "skus_audited": len(report.findings), "error_percent": report.error_percent,
            "over_threshold": report.over_threshold, "platform_checked": report.platform_checked,
            "differing": [{"sku": f.sku, "on_hand": f.on_hand, "problems": list(f.problems)} for f in report.differing]}


# ---------------------------------------------------------------- saga functions


def saga_step(action: str, event: dict[str, Any], result: dict[str, Any]) -> None:
    """Saga outcomes, durations and operator holds, from one OrdersFunction step."""
    if action == "complete" and result.get("counted"):
        emit(names.SAGA_OUTCOMES, outcome="cancelled")
        if result.get("duration_seconds") is not None:
            emit(names.SAGA_DURATION, float(result["duration_seconds"]), MetricUnit.Seconds)
    elif action in ("withdraw", "reject"):
        emit(names.SAGA_OUTCOMES, outcome="withdrawn" if action == "withdraw" else "rejected")
    elif action == "hold":
        error = event.get("error") or {}
        reason = str(error.get("Error") or "unknown")[:64]
        emit(names.OPERATOR_HOLDS, reason=reason)
        if reason == "guardrail":
            emit(names.GUARDRAIL_HOLDS, guardrail=str((error.get("guardrail") or {}).get("guardrail", "unknown")))


def settled(result: dict[str, Any]) -> None:
    """Payments: the settlement outcome; refunds by count and amount, per currency (once per effect: a
    retried task that returns its recorded result emits nothing)."""
    if result.get("replayed"):
        return
    emit(names.PAYMENTS_SETTLED, outcome=str(result.get("outcome")))
    if str(result.get("outcome", "")).startswith("refund") and int(result.get("amount") or 0) > 0:
        currency = str(result.get("currency", "")).upper()
        emit(names.REFUNDS, currency=currency)
        emit(names.REFUNDED_AMOUNT, int(result["amount"]), MetricUnit.Count, currency=currency)


def restocked(result: dict[str, Any]) -> None:
    """Inventory: units put back and custom units left out."""
    emit(names.RESTOCKED_UNITS, int(result.get("moved_units", 0)))  # what this call moved, not the order's lines
    emit(names.RESTOCK_SKIPPED_UNITS, int(result.get("skipped_now_units", 0)))


def dispatched(provider: str, kinds: list[str]) -> None:
    """Dispatcher: one delivery handled; topics we do not act on are counted as ignored, by provider."""
    emit(names.DELIVERIES_DISPATCHED, provider=provider)
    if "ignored" in kinds:
        emit(names.WEBHOOKS_IGNORED, provider=provider)
