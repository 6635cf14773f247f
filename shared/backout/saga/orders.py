"""Saga steps on the order record itself: begin, cooling-off, withdraw, complete, hold."""

from __future__ import annotations

from typing import Any

from backout.domain import rules
from backout.domain.order import OrderStatus, can_transition, require_request
from backout.errors import RefundFailed
from backout.repo.orders import OrdersRepository
from backout.repo.snapshot import Snapshot
from backout.saga import waits
from backout.saga.start import start_queued
from backout.saga.waits import COOLING_OFF, OPERATOR


#: Channels where the marketplace, not the seller, decides a cancellation.
PLATFORM_DECIDES = frozenset({"ozon", "tiktok", "shopify"})
#: Marketplaces that also decide a shipped order's request themselves (Backout rejects it on their path);
#: a Shopify order that shipped goes through the carrier like any store's (rule 2).
DECIDES_SHIPPED = frozenset({"ozon", "tiktok"})


def choose_path(order: dict[str, Any], request: dict[str, Any], guardrail: object | None = None) -> str:
    """Which branch of the saga this cancellation takes.

    * ``revenue_at_risk``: the authorization expired but the parcel shipped (rule 9);
    * ``guardrail``: a seller-initiated cancellation would take a cancellation rate within
      the margin of its threshold (rule 11; ``guardrail`` is the crossing found); an operator
      decides, and an approval continues on the path chosen without it;
    * ``shipped``: no direct cancel - intercept, else return (rule 2);
    * ``platform``: the marketplace approves the cancellation (rule 5);
    * ``direct``: independent site, the seller's own gateway (rule 1).
    """
    if request.get("initiator") == "system" and request.get("reason") == "authorization_expired":
        return "revenue_at_risk" if order.get("shipped") else "direct"
    if guardrail is not None:
        return "guardrail"
    if order.get("shipped"):
        return "shipped"
    if order.get("channel") in PLATFORM_DECIDES:
        return "platform"
    return "direct"


def begin(order_id: str, request_id: str, execution_id: str, repo: OrdersRepository,
          remedy: dict[str, Any] | None = None) -> dict[str, Any]:
    """Check the saga has a recorded request for a known order; choose its path.

    ``remedy``: the saga was started again for a request whose refund failed after the order was
    cancelled; it goes straight to the operator with the amount still owed.
    """
    result = decide(order_id, request_id, repo, remedy)
    repo.append_timeline(order_id, "saga_started", {"request_id": request_id, "path": result["path"],
                                                    "execution": execution_id, **({"remedy": remedy} if remedy else {})})
    if result["guardrail"]:
        repo.append_timeline(order_id, "guardrail_hold", {"request_id": request_id, **result["guardrail"]})
    return result


def redecide(order_id: str, request_id: str, repo: OrdersRepository) -> dict[str, Any]:
    """A step found what the path was chosen on changed (the parcel left during the cooling-off): choose again."""
    result = decide(order_id, request_id, repo)
    repo.append_timeline(order_id, "saga_path_changed", {"request_id": request_id, "path": result["path"]})
    return result


def decide(order_id: str, request_id: str, repo: OrdersRepository,
           remedy: dict[str, Any] | None = None) -> dict[str, Any]:
    """The request's path from the ledger as it stands now (also run again when a step finds it changed)."""
    from backout.saga.platforms import has_shipped

    snap = repo.snapshot(order_id)
    order = snap.require_order()
    request = snap.requests.get(request_id)
    require_request(request, request_id)
    assert request is not None
    if remedy:
        return {"gateway": order["gateway"], "currency": order["currency"], "status": order["status"],
                "path": "remedy", "guarded_path": "remedy", "guardrail": {}}
    from backout.ops.guardrails import check_hold

    if order.get("channel") not in DECIDES_SHIPPED:  # Ozon and TikTok decide a shipped order on their own path
        order = {**order, "shipped": has_shipped(order, repo, snap.facts())}
    hold = check_hold(repo, order, request)
    path, guarded = choose_path(order, request, hold), choose_path(order, request)
    return {"gateway": order["gateway"], "currency": order["currency"], "status": order["status"], "path": path,
            "guarded_path": guarded, "guardrail": hold.as_detail() if hold else {}}


def await_event(order_id: str, request_id: str, purpose: str, task_token: str, repo: OrdersRepository,
                **about: Any) -> dict[str, Any]:
    """Wait for what ends ``purpose`` for this request (backout.saga.waits); at once if the ledger has it.

    The refund settlement waits for the refunds this request's settlement made, named one by one.
    """
    if purpose == waits.REFUND_SETTLEMENT and "refund_ids" not in about:
        about["refund_ids"] = _refunds_made(repo.snapshot(order_id), request_id)
    return waits.begin_wait(repo, order_id, request_id, purpose, task_token, **about)


def _refunds_made(snap: Snapshot, request_id: str) -> list[str]:
    """The refunds the request's latest settlement attempt made (an earlier attempt's failed refund is
    what the operator approved a new attempt for; it must not fail the new one)."""
    from backout.saga.payments import attempt_of

    attempt = attempt_of(snap.facts(), request_id)
    fx = snap.effects.get(f"settle#{request_id}" + (f"#a{attempt}" if attempt else "")) or {}
    return [str(r) for r in (fx.get("result") or {}).get("refund_ids") or []]


def reject(order_id: str, request_id: str, decision: dict[str, Any], repo: OrdersRepository) -> dict[str, Any]:
    """The platform or an operator refused the cancellation: the order stays open."""
    order = repo.require_order(order_id)
    if _replayed(order, request_id, OrderStatus.OPEN):
        start_queued(repo, order_id)  # a retry: what the first run may not have got to
        return {}
    if order.get("reopened") and order["status"] == OrderStatus.ON_HOLD.value:
        repo.transition(order_id, OrderStatus.CANCELLED, current=order, reopened=False)  # it stays cancelled
    elif can_transition(OrderStatus(order["status"]), OrderStatus.OPEN):
        repo.transition(order_id, OrderStatus.OPEN, current=order, active_request_id="")
    repo.append_timeline(order_id, "cancellation_rejected", {"request_id": request_id, **decision})
    start_queued(repo, order_id)
    return {}


def open_cooling_off(order_id: str, request_id: str, task_token: str, repo: OrdersRepository,
                     window_seconds: int = 0) -> dict[str, Any]:
    """Open the request's window: a withdrawal of this request (already in the ledger, or later) ends it."""
    repo.append_timeline(order_id, "cooling_off_opened", {"request_id": request_id})
    repo.save_token(order_id, COOLING_OFF, task_token, request_id, window_seconds=window_seconds)
    waits.wake(repo, order_id, "ledger", only=(COOLING_OFF, request_id))
    return {}


def withdraw(order_id: str, request_id: str, repo: OrdersRepository) -> dict[str, Any]:
    """The customer withdrew within the window: the order is open again."""
    order = repo.require_order(order_id)
    if _replayed(order, request_id, OrderStatus.OPEN):
        start_queued(repo, order_id)  # a retry: what the first run may not have got to
        return {}
    repo.transition(order_id, OrderStatus.OPEN, current=order, active_request_id="")
    repo.append_timeline(order_id, "cancel_withdrawn", {"request_id": request_id})
    start_queued(repo, order_id)
    return {}


def complete(order_id: str, request_id: str, payment: dict[str, Any], stock: dict[str, Any],
             repo: OrdersRepository) -> dict[str, Any]:
    """Money and stock are back: the order is cancelled."""
    snap = repo.snapshot(order_id)
    if _replayed(snap.require_order(), request_id, OrderStatus.CANCELLED):
        return {"counted": False}
    _no_refund_failed(snap, request_id)
    if payment.get("outcome") == "refund_pending":  # it settled (the saga waited for that): count it, once per effect
        repo.add_refunded(order_id, int(payment.get("amount") or 0), f"settle#{request_id}")
    order = repo.transition(order_id, OrderStatus.CANCELLED, current=snap.order)
    from backout.ops.counters import count_cancelled, seconds_since

    request = snap.requests.get(request_id) or {}
    counted = count_cancelled(repo, order, str(request.get("initiator", "")))
    repo.append_timeline(order_id, "cancelled", {"request_id": request_id, "payment": payment, "stock": stock})
    # for the function's metrics only (the state machine discards it): first completion, channel, initiator
    return {"counted": counted, "channel": order.get("channel", ""), "initiator": request.get("initiator", ""),
            "duration_seconds": seconds_since(str(request.get("recorded_at", "")))}


def _no_refund_failed(snap: Snapshot, request_id: str) -> None:
    """Re-decided before the order is closed: a refund of this request that failed meanwhile stops it."""
    made = _refunds_made(snap, request_id)
    states = rules.refund_states(snap.facts(), made) if made else {}
    if rules.settlement(states) == "failed":
        raise RefundFailed(f"a refund of request {request_id} failed before the order was closed: {states}")


def _replayed(order: dict[str, Any], request_id: str, outcome: OrderStatus) -> bool:
    """True when this request's closing step already ran (a retry after its response was lost).

    The step then records nothing twice. An OPEN order whose active request is another
    one is not this request's to reopen either.
    """
    if order["status"] == outcome.value:
        return True
    active = order.get("active_request_id")
    return outcome == OrderStatus.OPEN and bool(active) and active != request_id



def hold(order_id: str, request_id: str, error: dict[str, Any], repo: OrdersRepository,
         task_token: str | None = None) -> dict[str, Any]:
    """Put the order on the operator queue with the error that stopped the saga."""
    order = repo.get_order(order_id)
    if order is None:
        return {}
    reason = str(error.get("Error", "unknown"))
    fields: dict[str, Any] = {"hold_reason": reason, "hold_request_id": request_id}
    if order["status"] == OrderStatus.CANCELLED.value:
        fields["reopened"] = True  # cancelled, then money turned out owed: a reject closes it again
    if can_transition(OrderStatus(order["status"]), OrderStatus.ON_HOLD):
        repo.transition(order_id, OrderStatus.ON_HOLD, **fields)
    if task_token:
        repo.save_token(order_id, OPERATOR, task_token, request_id, reason=reason,
                        cause=str(error.get("Cause") or "")[:1000])
    repo.append_timeline(order_id, "held_for_operator", {"request_id": request_id, "error": error})
    return {}

