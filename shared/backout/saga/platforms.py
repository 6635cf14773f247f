"""Saga tasks that talk to sales platforms and carriers: ask, then wait for the answer; tell the platform at the end."""

from __future__ import annotations

from typing import Any

from backout.adapters import stepfunctions
from backout.domain import rules
from backout.domain.ledger import Ledger
from backout.repo.orders import OrdersRepository
from backout.saga import waits
from backout.saga.waits import PLATFORM_DECISION


def platform_effect_id(request_id: str) -> str:
    """The effect id under which the call to the platform for one request is recorded."""
    return f"platform_request#{request_id}"


def has_shipped(order: dict[str, Any], repo: OrdersRepository, ledger: Ledger | None = None) -> bool:
    """Shipped per the order record, or per a parcel scan in the ledger (marketplace pushes such as Ozon's
    TYPE_STATE_CHANGED arrive as scans and do not mark the order record shipped)."""
    if order.get("shipped"):
        return True
    ledger = ledger if ledger is not None else repo.ledger(str(order["order_id"]))
    return rules.has_left(ledger, str(order.get("return_tracking_number") or ""))


def intercept_effect_id(request_id: str) -> str:
    """The effect id of the carrier intercept for one request."""
    return f"intercept#{request_id}"


def confirm_cancelled(order_id: str, request_id: str, repo: OrdersRepository) -> dict[str, Any]:
    """Mark the order cancelled on its platform, once (effect recorded around the call)."""
    order = repo.require_order(order_id)
    result = _effect_once(repo, order_id, f"platform_cancel#{request_id}", "platform_notified",
                          lambda: {"channel": order["channel"], "outcome": _set_cancelled_on_platform(order)})
    return {"channel": order["channel"], "status": result.get("outcome")}


def _set_cancelled_on_platform(order: dict[str, Any]) -> str:
    """WooCommerce gets its status set; a marketplace cancelled the order itself when it approved."""
    from backout.saga.orders import PLATFORM_DECIDES

    if order["channel"] in PLATFORM_DECIDES:
        return "cancelled_by_platform"
    if order["channel"] != "woocommerce":
        return "not_supported_yet"
    from backout.saga import providers

    providers.woocommerce().set_status(str(order["external_id"]), "cancelled",
                                       "Cancelled by Backout on the customer's request")
    return "status_set_cancelled"


def _effect_once(repo: OrdersRepository, order_id: str, effect_id: str, kind: str, call: Any) -> dict[str, Any]:
    """Record the intent, make the call once, record its result; a retry returns the recorded result."""
    fx = repo.record_intent(order_id, effect_id, kind)
    if fx.get("status") == "done":
        return dict(fx.get("result") or {})
    result = dict(call())
    repo.record_result(order_id, effect_id, "done", result=result)
    repo.append_timeline(order_id, kind, result)
    return result


def request_cancellation(order_id: str, request_id: str, task_token: str, repo: OrdersRepository) -> dict[str, Any]:
    """Ask the marketplace to cancel (or approve the buyer's request), then wait for its decision webhook."""
    from backout.errors import PathChanged
    from backout.saga import providers
    from backout.saga.orders import DECIDES_SHIPPED

    snap = repo.snapshot(order_id)  # the order, its request, effects and ledger in one read
    ledger = snap.facts()
    order = snap.require_order()
    order = {**order, "shipped": has_shipped(order, repo, ledger)}
    asked_before = platform_effect_id(request_id) in snap.effects
    if order["shipped"] and order["channel"] not in DECIDES_SHIPPED and not asked_before:
        # the parcel left during the cooling-off window, after the platform's path was chosen (rule 2)
        raise PathChanged("the parcel left the seller after the path was chosen: intercept or return first")
    request = snap.requests.get(request_id) or {}
    if not order["shipped"] and not asked_before:
        _guard_high_value(order, request_id, ledger)
    asked = _effect_once(repo, order_id, platform_effect_id(request_id), "platform_cancellation_requested",
                         lambda: providers.request_platform_cancellation(order, request,
                                                                         f"backout:{order_id}:{request_id}"))
    cancellation = str(asked.get("platform_cancellation_id") or request.get("platform_cancellation_id") or "")
    waiting = waits.begin_wait(repo, order_id, request_id, PLATFORM_DECISION, task_token,
                               platform_cancellation_id=cancellation)
    if asked.get("decision"):  # Backout decided on the spot (e.g. rejected a shipped order's request)
        _resume_now(repo, order_id, task_token, {"decision": asked["decision"], "by": "backout",
                                                 "request_id": request_id},
                    f"backout:{asked.get('call')}")
    return waiting


def _guard_high_value(order: dict[str, Any], request_id: str, ledger: Ledger) -> None:
    """The marketplace refunds the buyer when it approves: a high-value order waits for a person before
    the platform is asked (a shipped order's request is refused on the spot, and moves no money)."""
    from backout.errors import OperatorRequired
    from backout.saga.guards import high_value_threshold

    amount, currency = int(order.get("total") or 0), str(order.get("currency") or "")
    threshold = high_value_threshold(currency)
    if rules.needs_operator_for_value(amount, threshold, rules.operator_approved(ledger, request_id)):
        raise OperatorRequired(f"the platform would refund {amount} {currency} (minor units), at or above the "
                               f"high-value threshold {threshold}: an operator approves it first")


def _resume_now(repo: OrdersRepository, order_id: str, task_token: str, output: dict[str, Any], by: str) -> None:
    """Complete the platform wait at once, unless an early webhook already did."""
    request_id = str(output.get("request_id") or "")
    token = repo.get_token(order_id, PLATFORM_DECISION, request_id) or {}
    if token.get("token") != task_token or token.get("used_by"):
        return
    stepfunctions.complete(task_token, output, None)
    repo.mark_token_used(order_id, PLATFORM_DECISION, request_id, by)


def request_intercept(order_id: str, request_id: str, task_token: str, repo: OrdersRepository) -> dict[str, Any]:
    """Shipped: ask the carrier to intercept (cost recorded), then wait for its scans."""
    from backout.saga import providers

    order = repo.require_order(order_id)
    asked = _effect_once(repo, order_id, intercept_effect_id(request_id), "intercept_requested",
                         lambda: providers.request_intercept(order, f"backout:intercept:{order_id}:{request_id}"))
    tracking = str(asked.get("tracking_number") or order.get("tracking_number") or "")
    return waits.begin_wait(repo, order_id, request_id, waits.CARRIER, task_token, tracking_number=tracking,
                            return_tracking_number=str(order.get("return_tracking_number") or ""))


def issue_return_label(order_id: str, request_id: str, task_token: str, repo: OrdersRepository) -> dict[str, Any]:
    """Delivered despite the cancel: a prepaid return label, then wait for the return scan."""
    from backout.saga import providers

    order = repo.require_order(order_id)
    label = _effect_once(repo, order_id, f"return_label#{request_id}", "return_label_issued",
                         lambda: providers.create_return_label(order, f"backout:return:{order_id}:{request_id}"))
    if label.get("return_tracking_number"):
        repo.set_flag(order_id, "return_tracking_number", str(label["return_tracking_number"]))
        repo.link_tracking(str(label["return_tracking_number"]), order_id)  # its scans may name only the parcel
    return waits.begin_wait(repo, order_id, request_id, waits.RETURN, task_token,
                            return_tracking_number=str(label.get("return_tracking_number") or ""))
