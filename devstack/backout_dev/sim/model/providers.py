"""The gateways' side of a story: taking the payment, refund settlements, disputes, one-shot faults.

Stripe's controls on the local stack are used throughout: ``env.stripe.hold_refunds`` (new refunds of
the PaymentIntent start ``pending``), ``env.stripe.set_refund_status`` (pending to succeeded / failed /
canceled, succeeded to failed), ``env.stripe_disputes.open_dispute`` / ``close_dispute``, and the
Event bodies of ``backout_dev.fakes.stripe_events`` (``refund.updated`` or its older name
``charge.refund.updated``, ``refund.failed``, ``charge.dispute.created`` / ``closed`` /
``funds_withdrawn``). PayPal's are the fake's ``refund_status`` and ``set_refund_status``.
"""

from __future__ import annotations

import json
from typing import Any

from backout_dev.sim.model.bodies import paypal_event, stripe_event
from backout_dev.sim.model.story import Story

STRIPE_CONTROLS_MISSING = "the local Stripe has no refund controls (env.stripe.hold_refunds missing)"
Sent = tuple[str, dict[str, Any], dict[str, Any], dict[str, str]]
#: The moves a gateway makes on a refund (https://docs.stripe.com/api/refunds/object): a pending one
#: settles any way; a succeeded one can still fail; a failed or canceled one never moves again.
MOVES = {"pending": ("succeeded", "failed", "canceled"), "succeeded": ("failed",)}
_PAYPAL = {"succeeded": "COMPLETED", "failed": "FAILED", "canceled": "CANCELLED"}
_FROM_PAYPAL = {"PENDING": "pending", "COMPLETED": "succeeded", "FAILED": "failed", "CANCELLED": "canceled"}


def stripe_controls(env: Any) -> bool:
    return hasattr(env.stripe, "hold_refunds")


def take_payment(env: Any, s: Story) -> None:
    """The money at the gateway before the store's first webhook (capture, authorization, partial captures)."""
    from backout.money import to_decimal_string

    if s.gateway == "stripe":
        from backout_dev.demo import _payment_intent

        s.ref = _payment_intent(s.total, s.currency, s.shape == "captured", s.no)
        s.captured = s.total if s.shape == "captured" else 0
        return
    pp = env.paypal

    def money(minor: int) -> str:
        return to_decimal_string(minor, s.currency)

    if s.shape == "captured":
        s.ref = pp.charge(money(s.total), s.currency)
        s.capture_ids, s.captured = [s.ref], s.total
        return
    s.ref = pp.authorize(money(s.total), s.currency)
    parts = {"authorized": [], "auth_1capture": [s.total * 6 // 10], "auth_2captures": [s.total * 3 // 10] * 2}[s.shape]
    s.capture_ids = [pp.capture(s.ref, money(p)) for p in parts]
    s.captured = sum(parts)


def hold_refunds(env: Any, s: Story, hold: bool) -> str:
    """New refunds stay pending at the gateway (an eCheck or a bank that settles later), or settle at once."""
    if s.gateway == "paypal":
        env.paypal.refund_status = "PENDING" if hold else "COMPLETED"
        return f"paypal: new refunds {'PENDING' if hold else 'COMPLETED'} from now on"
    if not stripe_controls(env):
        return f"stripe hold_refunds: skipped ({STRIPE_CONTROLS_MISSING})"
    env.stripe.hold_refunds(s.ref, hold=hold)
    return f"stripe: new refunds {'pending' if hold else 'succeed'} from now on"


def refund_webhook(env: Any, s: Story, refund: dict[str, Any], status: str, name: str = "refund.updated"
                   ) -> Sent | None:
    """The gateway settles (or fails, also after success, or cancels) one refund and says so by webhook.

    ``status`` is ``as_is`` (report it as it stands) or a move; a move the gateway would not make
    (see :data:`MOVES`) reports the refund as it stands. ``name``: Stripe's event type for a refund
    that did not fail (``refund.updated`` or ``charge.refund.updated``)."""
    before = _FROM_PAYPAL.get(refund["status"], refund["status"])
    move = status if status in MOVES.get(before, ()) else None
    if s.gateway == "paypal":
        pp = env.paypal
        if move:
            resource = pp.set_refund_status(refund["id"], _PAYPAL[move])
        else:
            with pp.lock:
                resource = pp._public(pp.refunds[refund["id"]])
        event, body, headers = paypal_event("PAYMENT.CAPTURE.REFUNDED", json.loads(json.dumps(resource)))
        return (f"paypal PAYMENT.CAPTURE.REFUNDED {resource['status']} ({refund['status']} before) of refund "
                f"{refund['amount']}", event, body, headers)
    if move and not stripe_controls(env):
        return None
    if move:
        obj = env.stripe.set_refund_status(refund["id"], move,
                                           failure_reason="expired_or_canceled_card" if move == "failed" else None)
    else:
        import stripe

        obj = stripe.Refund.retrieve(refund["id"]).to_dict()
    kind = "refund.failed" if obj.get("status") == "failed" else name
    event, body = stripe_event(kind, obj, previous_status=before)
    return f"stripe {kind} {obj.get('status')} ({before} before) of refund {refund['amount']}", event, body, {}


def open_dispute(env: Any, s: Story) -> Sent:
    """The buyer disputes the captured money with their bank."""
    if s.gateway == "stripe":
        dp = env.stripe_disputes.open_dispute(s.ref, s.captured, s.currency, dispute_id=f"dp_model_{s.no}",
                                              charge=f"ch_model_{s.no}")
        s.dispute = {"id": dp, "state": "open", "amount": s.captured}
        with env.stripe_disputes.lock:
            obj = json.loads(json.dumps(env.stripe_disputes.disputes[dp]))
        return f"stripe charge.dispute.created ({s.captured})", *stripe_event("charge.dispute.created", obj), {}
    pp = env.paypal
    dp = pp.open_dispute(s.capture_ids[0], custom=str(s.no))
    with pp.lock:
        resource = json.loads(json.dumps(pp.disputes[dp]))
    s.dispute = {"id": dp, "state": "open", "amount": 0}
    event, body, headers = paypal_event("CUSTOMER.DISPUTE.CREATED", resource)
    return f"paypal CUSTOMER.DISPUTE.CREATED on the first capture ({resource['dispute_amount']['value']})", \
        event, body, headers


def close_dispute(env: Any, s: Story, outcome: str) -> Sent:
    """The bank decides the dispute: won (the merchant keeps the money) or lost (it goes back to the buyer)."""
    assert s.dispute is not None
    s.dispute["state"] = outcome
    if s.gateway == "stripe":
        obj = json.loads(json.dumps(env.stripe_disputes.close_dispute(s.dispute["id"], outcome)))
        return f"stripe charge.dispute.closed {obj['status']}", *stripe_event("charge.dispute.closed", obj), {}
    pp = env.paypal
    code = "RESOLVED_BUYER_FAVOUR" if outcome == "lost" else "RESOLVED_SELLER_FAVOUR"
    with pp.lock:
        d = pp.disputes[s.dispute["id"]]
        d.update(status="RESOLVED", dispute_outcome={"outcome_code": code})
        resource = json.loads(json.dumps(d))
    event, body, headers = paypal_event("CUSTOMER.DISPUTE.RESOLVED", resource)
    return f"paypal CUSTOMER.DISPUTE.RESOLVED {code}", event, body, headers


def funds_withdrawn(env: Any, s: Story) -> Sent:
    """Stripe's ``charge.dispute.funds_withdrawn`` for the order's dispute (Backout acknowledges it, nothing more)."""
    assert s.dispute is not None
    with env.stripe_disputes.lock:
        obj = json.loads(json.dumps(env.stripe_disputes.disputes[s.dispute["id"]]))
    return "stripe charge.dispute.funds_withdrawn", *stripe_event("charge.dispute.funds_withdrawn", obj), {}


def arm_fault(env: Any, s: Story, faults: Any, kind: str, k: int) -> str:
    """Arm one fault for what comes next: a gateway's lost answer, or a crashed Lambda."""
    if kind == "lost_answer":
        if s.gateway == "paypal":
            env.paypal.drop_next_response(method="POST", path_contains="/v2/payments/")
            return "fault armed: PayPal's next refund/void answer is lost (the effect happens, a 500 comes back)"
        faults.arm("stripe_lost_response")
        return "fault armed: Stripe's next POST answer is lost (the effect happens, a connection error comes back)"
    function = {"crash_payments": "PaymentsFunction", "crash_inventory": "InventoryFunction"}[kind]
    faults.arm("lambda_crash", function, k)
    return f"fault armed: the next {function} invocation dies at its call #{k}"


def reset(env: Any, faults: Any) -> None:
    """Leave the shared fakes as an example found them."""
    env.paypal.refund_status = "COMPLETED"
    env.paypal.clear_faults()
    if faults is not None:
        faults.crash_next.clear()
        faults.plan.stripe_lost_response = 0.0
