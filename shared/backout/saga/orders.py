"""Saga steps on the order record itself: begin, cooling-off, withdraw, complete, hold."""

from __future__ import annotations

from typing import Any

from backout.domain.order import OrderStatus, can_transition, require_request
from backout.repo.orders import OrdersRepository

COOLING_OFF = "cooling_off"


#: Channels where the marketplace, not the seller, decides a cancellation.
PLATFORM_DECIDES = frozenset({"ozon", "tiktok", "shopify"})


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


def begin(order_id: str, request_id: str, execution_id: str, repo: OrdersRepository) -> dict[str, Any]:
    """Check the saga has a recorded request for a known order; choose its path."""
    order = repo.require_order(order_id)
    request = repo.get_request(order_id, request_id)
    require_request(request, request_id)
    assert request is not None
    from backout.ops.guardrails import check_hold

    hold = check_hold(repo, order, request)
    path, guarded = choose_path(order, request, hold), choose_path(order, request)
    repo.append_timeline(order_id, "saga_started", {"request_id": request_id, "path": path, "execution": execution_id})
    result = {"gateway": order["gateway"], "currency": order["currency"], "status": order["status"], "path": path,
              "guarded_path": guarded, "guardrail": hold.as_detail() if hold else {}}
    if hold is not None:
        repo.append_timeline(order_id, "guardrail_hold", {"request_id": request_id, **hold.as_detail()})
    return result


def await_event(order_id: str, request_id: str, purpose: str, task_token: str, repo: OrdersRepository) -> dict[str, Any]:
    """Park the saga's token until a webhook for ``purpose`` resumes it.

    If that webhook already came (it often outruns the saga), resume at once.
    """
    repo.save_token(order_id, purpose, task_token, request_id)
    repo.append_timeline(order_id, f"waiting_for_{purpose}", {"request_id": request_id})
    wake = repo.get_wake(order_id, purpose)
    if wake is not None:
        from backout.dispatch import complete_token

        complete_token(task_token, dict(wake["output"]), wake.get("failure") or None)
        repo.mark_token_used(order_id, purpose, "early-webhook")
    return {}


def reject(order_id: str, request_id: str, decision: dict[str, Any], repo: OrdersRepository) -> dict[str, Any]:
    """The platform or an operator refused the cancellation: the order stays open."""
    order = repo.require_order(order_id)
    if _replayed(order, request_id, OrderStatus.OPEN):
        return {}
    if can_transition(OrderStatus(order["status"]), OrderStatus.OPEN):
        repo.transition(order_id, OrderStatus.OPEN, active_request_id="")
    repo.append_timeline(order_id, "cancellation_rejected", {"request_id": request_id, **decision})
    return {}


def open_cooling_off(order_id: str, request_id: str, task_token: str, repo: OrdersRepository) -> dict[str, Any]:
    """Park the saga's token so a withdrawal webhook can end the window."""
    repo.save_token(order_id, COOLING_OFF, task_token, request_id)
    repo.append_timeline(order_id, "cooling_off_opened", {"request_id": request_id})
    return {}


def withdraw(order_id: str, request_id: str, repo: OrdersRepository) -> dict[str, Any]:
    """The customer withdrew within the window: the order is open again."""
    if _replayed(repo.require_order(order_id), request_id, OrderStatus.OPEN):
        return {}
    repo.transition(order_id, OrderStatus.OPEN, active_request_id="")
    repo.append_timeline(order_id, "cancel_withdrawn", {"request_id": request_id})
    return {}


def complete(order_id: str, request_id: str, payment: dict[str, Any], stock: dict[str, Any],
             repo: OrdersRepository) -> dict[str, Any]:
    """Money and stock are back: the order is cancelled."""
    if _replayed(repo.require_order(order_id), request_id, OrderStatus.CANCELLED):
        return {"counted": False}
    if payment.get("outcome") == "refund_pending":  # it settled (the saga waited for that): count it, once per effect
        repo.add_refunded(order_id, int(payment.get("amount") or 0), f"settle#{request_id}")
    order = repo.transition(order_id, OrderStatus.CANCELLED)
    from backout.ops.counters import count_cancelled, seconds_since

    request = repo.get_request(order_id, request_id) or {}
    counted = count_cancelled(repo, order, str(request.get("initiator", "")))
    repo.append_timeline(order_id, "cancelled", {"request_id": request_id, "payment": payment, "stock": stock})
    # for the function's metrics only (the state machine discards it): first completion, channel, initiator
    return {"counted": counted, "channel": order.get("channel", ""), "initiator": request.get("initiator", ""),
            "duration_seconds": seconds_since(str(request.get("recorded_at", "")))}


def _replayed(order: dict[str, Any], request_id: str, outcome: OrderStatus) -> bool:
    """True when this request's closing step already ran (a retry after its response was lost).

    The step then records nothing twice. An OPEN order whose active request is another
    one is not this request's to reopen either.
    """
    if order["status"] == outcome.value:
        return True
    active = order.get("active_request_id")
    return outcome == OrderStatus.OPEN and bool(active) and active != request_id


OPERATOR = "operator"


def hold(order_id: str, request_id: str, error: dict[str, Any], repo: OrdersRepository,
         task_token: str | None = None) -> dict[str, Any]:
    """Put the order on the operator queue with the error that stopped the saga."""
    order = repo.get_order(order_id)
    if order is None:
        return {}
    if can_transition(OrderStatus(order["status"]), OrderStatus.ON_HOLD):
        repo.transition(order_id, OrderStatus.ON_HOLD, hold_reason=str(error.get("Error", "unknown")))
    if task_token:
        repo.save_token(order_id, OPERATOR, task_token, request_id)
    repo.append_timeline(order_id, "held_for_operator", {"request_id": request_id, "error": error})
    return {}

