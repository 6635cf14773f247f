"""SettlePayment: give the money back through whoever took it, exactly once.

Order of operations, so that a crash anywhere is safe to retry:
1. the request must be recorded (rule 3) and the order moved to CANCELLING;
2. the intent is written before any call (FX#settle#<request>);
3. the gateway is asked for the payment's truth (authorized, captured, voided);
4. a refund is looked up by its effect key in metadata before one is created,
   and created with the same key as Stripe's Idempotency-Key;
5. the result is recorded; a retry after step 5 returns it unchanged.

Several captures (PayPal: an authorization captured per shipment) are refunded
one by one, each for what is left on it, under its own effect key
(``<key>#<capture id>``); together they come to captured minus refunded. What
was refunded outside Backout (a partial refund in the gateway's dashboard) is
counted by the gateway and not refunded again.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from backout.adapters.gateway import CaptureState, PaymentGateway, PaymentState, RefundRecord, gateway_for
from backout.domain.ledger import Fact, FactKind, Ledger
from backout.domain.order import OrderStatus, refundable, require_request
from backout.domain.rules import approvals, in_dispute, lost_to_chargeback, needs_operator_for_value, operator_approved
from backout.errors import OperatorRequired, PathChanged, PaymentNotAllowed, RefundFailed
from backout.repo.orders import OrdersRepository
from backout.saga.guards import high_value_threshold


def effect_key(order_id: str, request_id: str) -> str:
    """The idempotency key of an order's settlement for one request (≤255 chars)."""
    return f"backout:settle:{order_id}:{request_id}"[:255]


def refund_plan(state: PaymentState, key: str) -> list[tuple[str | None, str, int]]:
    """``(capture id or None, effect key, amount left)`` for each capture of a captured payment.

    One capture keeps the settlement's own key (and None: "the payment's capture");
    several get one key each. Amounts follow the domain rule per capture: never
    more than captured minus already refunded. A capture with nothing left is
    still listed: a refund of ours may already be there (found by its key).
    """
    captures: Sequence[CaptureState] = state.captures or (CaptureState(state.payment_ref, state.captured, state.refunded),)
    if len(captures) == 1:
        return [(None, key, refundable(captures[0].captured, captures[0].refunded))]
    return [(c.capture_id, f"{key}#{c.capture_id}"[:255], refundable(c.captured, c.refunded)) for c in captures]


def attempt_of(ledger: Ledger, request_id: str) -> int:
    """Which settlement attempt this is: one more after each operator approval (a failed refund is not
    found again under a new attempt's key, so an approval after a failure refunds anew)."""
    return approvals(ledger, request_id)


def settle(
    order_id: str,
    request_id: str,
    repo: OrdersRepository,
    gateways: Callable[[str], PaymentGateway] = gateway_for,
    path: str = "",
) -> dict[str, Any]:
    """Void an authorized payment or refund a captured one; returns the outcome.

    Re-decided from the ledger first: an open dispute holds it (rule 10), a parcel that left while
    the saga was on the direct path sends it back to choose again (``PathChanged``, rule 2).
    """
    snap = repo.snapshot(order_id)
    order, ledger = snap.require_order(), snap.facts()
    require_request(snap.requests.get(request_id), request_id)
    attempt = attempt_of(ledger, request_id)
    effect_id = f"settle#{request_id}" + (f"#a{attempt}" if attempt else "")
    fx = snap.effects.get(effect_id)
    if fx is not None and fx.get("status") == "done":  # a retry: the recorded result, counted nothing twice
        return {**dict(fx["result"]), "replayed": True}
    if order.get("disputed") or in_dispute(ledger):
        raise PaymentNotAllowed("a dispute is open on this payment: refunding it too would pay twice (rule 10)")
    if path == "direct":
        from backout.saga.platforms import has_shipped

        if has_shipped(order, repo, ledger):
            raise PathChanged("the parcel left the seller after the path was chosen: intercept or return first")
    repo.transition(order_id, OrderStatus.CANCELLING, current=order)
    fx = fx or repo.record_intent(order_id, effect_id, "settle", gateway=order["gateway"],
                                  payment_ref=order.get("payment_ref"), request_id=request_id)
    if fx.get("status") == "done":  # a retry: the recorded result, marked so that nothing is counted twice
        return {**dict(fx["result"]), "replayed": True}
    if order["gateway"] == "platform":
        result = _settle_on_platform(order, request_id, repo)
    else:
        key = effect_key(order_id, request_id) + (f"#a{attempt}" if attempt else "")
        guard = Guard(lost=lost_to_chargeback(ledger), approved=operator_approved(ledger, request_id),
                      threshold=high_value_threshold(str(order["currency"])))
        result = _settle_with_gateway(order, key, gateways(order["gateway"]), guard, repo)
    if result["outcome"] == "refunded":  # counted before "done": a crash in between must not lose it
        repo.add_refunded(order_id, int(result["amount"]), effect_id)
    repo.record_result(order_id, effect_id, "done", result=result)
    repo.append_timeline(order_id, f"payment_{result['outcome']}", result)
    return result


@dataclass(frozen=True)
class Guard:
    """What the ledger says before money moves: lost to a chargeback, a person's approval, the threshold."""

    lost: int = 0
    approved: bool = False
    threshold: int = 0


def _settle_on_platform(order: dict[str, Any], request_id: str, repo: OrdersRepository) -> dict[str, Any]:
    """The platform holds the money. Asked to cancel on the platform path, it refunds as part of that;
    on the shipped path nobody asked it yet, so it is asked now (cancel with refund, once: the settle
    effect records the result and the platform's cancel is idempotent)."""
    from backout.saga import platforms, providers

    result: dict[str, Any] = {"outcome": "platform_refunds", "amount": int(order["total"]),
                              "currency": order["currency"], "refund_ids": []}
    if repo.get_effect(str(order["order_id"]), platforms.platform_effect_id(request_id)) is None:
        request = repo.get_request(str(order["order_id"]), request_id) or {}
        result["asked"] = providers.refund_on_platform(order, request, f"backout:{order['order_id']}:{request_id}")
    return result


def _settle_with_gateway(order: dict[str, Any], key: str, gateway: PaymentGateway, guard: Guard,
                         repo: OrdersRepository) -> dict[str, Any]:
    ref = order.get("payment_ref")
    if not ref:
        raise PaymentNotAllowed(f"order {order['order_id']} has no payment reference")
    state = gateway.retrieve(ref)
    if state.disputed and not guard.lost:  # the ledger knows of no dispute lost: an unknown one is open
        raise PaymentNotAllowed("the payment is disputed: refunding it too would pay twice")
    if state.currency != str(order["currency"]).upper():
        raise PaymentNotAllowed(f"payment currency {state.currency} differs from order currency {order['currency']}")
    base = {"currency": state.currency, "payment_ref": ref, "gateway": gateway.name, "refund_ids": []}
    if state.status == "authorized":
        gateway.void(ref, key)
        return {"outcome": "voided", "amount": state.authorized, **base}
    if state.status == "voided":
        return {"outcome": "voided", "amount": state.authorized, **base}
    if state.status != "captured":
        raise PaymentNotAllowed(f"payment is {state.status}; nothing safe to do automatically")
    for capture in state.captures:
        repo.link_payment(capture.capture_id, str(order["order_id"]))  # its refunds' webhooks name it
    refunds = _refund_each_capture(order, state, key, gateway, guard)
    released = 0
    if state.held:  # a partly captured authorization: the rest is released, not left on the card
        gateway.void(ref, key)
        released = state.held
    for refund in refunds:
        repo.record_fact(str(order["order_id"]), _refund_fact(refund, ref, key))
    if not refunds:
        return {"outcome": "already_refunded", "amount": 0, "released": released, **base}
    settled = all(r.status == "succeeded" for r in refunds)
    return {**base, "outcome": "refunded" if settled else "refund_pending", "amount": sum(r.amount for r in refunds),
            "refund_id": refunds[0].refund_id, "refund_ids": [r.refund_id for r in refunds], "released": released}


def _refund_fact(refund: RefundRecord, payment_ref: str, key: str) -> Fact:
    """What the gateway answered when Backout made the refund (any webhook about it is newer)."""
    return Fact(kind=FactKind.REFUND, object_id=refund.refund_id, state=refund.status, at=_MADE,
                amount=refund.amount, currency=refund.currency, payment_ref=payment_ref, effect_key=key,
                source_id="backout")


#: The version of a fact Backout recorded itself: older than anything a provider reports.
_MADE = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _refund_each_capture(order: dict[str, Any], state: PaymentState, key: str,
                         gateway: PaymentGateway, guard: Guard) -> list[RefundRecord]:
    """Find or create one refund per capture with something left; a failed one stops here.

    What a lost dispute already gave back is not refunded again (it counts as returned), and a
    refund at or above the high-value threshold waits for a person's approval first.
    """
    # the key ends with the whole request id (which may hold '#'), then an attempt suffix "#a<n>" after approvals
    request_id = re.sub(r"#a\d+$", "", key.removeprefix(effect_key(str(order["order_id"]), "")))
    metadata = {"backout_order_id": str(order["order_id"]), "backout_request_id": request_id}
    plan, lost = refund_plan(state, key), guard.lost
    owed = []
    for capture_id, capture_key, left in plan:
        cut = min(left, lost)
        lost -= cut
        owed.append((capture_id, capture_key, left - cut))
    found = [(c, k, left, gateway.find_refund(state.payment_ref, k, c)) for c, k, left in owed]
    to_make = sum(left for _, _, left, refund in found if refund is None)
    if needs_operator_for_value(to_make, guard.threshold, guard.approved):
        raise OperatorRequired(f"refund of {to_make} {state.currency} (minor units) is at or above the "
                               f"high-value threshold {guard.threshold}: an operator approves it first")
    refunds: list[RefundRecord] = []
    for capture_id, capture_key, left, refund in found:
        if refund is None and left > 0:
            refund = gateway.create_refund(state.payment_ref, left, capture_key, metadata, capture_id)
        if refund is None:
            continue
        if refund.status in ("failed", "canceled"):
            raise RefundFailed(f"refund {refund.refund_id} {refund.status}")
        refunds.append(refund)
    return refunds
