"""The gateways' side of a story: taking the payment, refund settlements, disputes, one-shot faults.

Stripe's refund and dispute controls (``env.stripe.hold_refunds``, ``set_refund_status``,
``env.stripe_disputes.close_dispute``) are being added to the local stack; until they are,
the rules that need them are skipped with :data:`STRIPE_CONTROLS_MISSING` in the story.
"""

from __future__ import annotations

import json
from typing import Any

from backout_dev.sim.model.bodies import paypal_event, stripe_event
from backout_dev.sim.model.story import Story

STRIPE_CONTROLS_MISSING = "the local Stripe has no refund controls yet (env.stripe.hold_refunds missing)"
Sent = tuple[str, dict[str, Any], dict[str, Any], dict[str, str]]


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


def refund_webhook(env: Any, s: Story, refund: dict[str, Any], status: str) -> Sent | None:
    """The gateway settles (or fails, possibly after success) one refund and says so by webhook."""
    if s.gateway == "paypal":
        want = {"succeeded": "COMPLETED", "failed": "FAILED"}.get(status)
        pp = env.paypal
        if want:
            resource = pp.set_refund_status(refund["id"], want)
        else:
            with pp.lock:
                resource = pp._public(pp.refunds[refund["id"]])
        event, body, headers = paypal_event("PAYMENT.CAPTURE.REFUNDED", json.loads(json.dumps(resource)))
        return (f"paypal PAYMENT.CAPTURE.REFUNDED {resource['status']} ({refund['status']} before) of refund "
                f"{refund['amount']}", event, body, headers)
    import stripe

    if status == "as_is":
        obj = stripe.Refund.retrieve(refund["id"]).to_dict()
    elif not stripe_controls(env):
        return None
    else:
        obj = env.stripe.set_refund_status(refund["id"], status,
                                           failure_reason="expired_or_canceled_card" if status == "failed" else None)
    kind = "refund.failed" if obj.get("status") == "failed" else "refund.updated"
    event, body = stripe_event(kind, obj)
    return f"stripe {kind} {obj.get('status')} ({refund['status']} before) of refund {refund['amount']}", event, body, {}


def open_dispute(env: Any, s: Story) -> Sent:
    """The buyer disputes the captured money with their bank."""
    if s.gateway == "stripe":
        dp = env.stripe_disputes.open_dispute(s.ref, s.captured, s.currency, dispute_id=f"dp_model_{s.no}",
                                              charge=f"ch_model_{s.no}")
        s.dispute = {"id": dp, "state": "open", "amount": s.captured}
        obj = {"id": dp, "amount": s.captured, "currency": s.currency.lower(), "payment_intent": s.ref,
               "charge": f"ch_model_{s.no}", "status": "needs_response", "reason": "fraudulent"}
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
        fake = env.stripe_disputes
        if hasattr(fake, "close_dispute"):
            obj = fake.close_dispute(s.dispute["id"], outcome)
        else:  # until the helper's control lands: the same change, made on the fake's table
            with fake.lock:
                fake.disputes[s.dispute["id"]]["status"] = outcome
                obj = json.loads(json.dumps(fake.disputes[s.dispute["id"]]))
        return f"stripe charge.dispute.closed {outcome}", *stripe_event("charge.dispute.closed", obj), {}
    pp = env.paypal
    code = "RESOLVED_BUYER_FAVOUR" if outcome == "lost" else "RESOLVED_SELLER_FAVOUR"
    with pp.lock:
        d = pp.disputes[s.dispute["id"]]
        d.update(status="RESOLVED", dispute_outcome={"outcome_code": code})
        resource = json.loads(json.dumps(d))
    event, body, headers = paypal_event("CUSTOMER.DISPUTE.RESOLVED", resource)
    return f"paypal CUSTOMER.DISPUTE.RESOLVED {code}", event, body, headers


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
