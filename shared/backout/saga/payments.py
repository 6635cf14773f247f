"""SettlePayment: give the money back through whoever took it, exactly once.

Order of operations, so that a crash anywhere is safe to retry:
1. the request must be recorded (rule 3) and the order moved to CANCELLING;
2. the intent is written before any call (FX#settle#<request>);
3. the gateway is asked for the payment's truth (authorized, captured, voided);
4. a refund is looked up by its effect key in metadata before one is created,
   and created with the same key as Stripe's Idempotency-Key;
5. the result is recorded; a retry after step 5 returns it unchanged.
"""

from __future__ import annotations

from typing import Any, Callable

from backout.adapters.gateway import PaymentGateway, gateway_for
from backout.domain.order import OrderStatus, refundable, require_request
from backout.errors import PaymentNotAllowed, RefundFailed
from backout.repo.orders import OrdersRepository


def effect_key(order_id: str, request_id: str) -> str:
    """The idempotency key of an order's settlement for one request (≤255 chars)."""
    return f"backout:settle:{order_id}:{request_id}"[:255]


def settle(
    order_id: str,
    request_id: str,
    repo: OrdersRepository,
    gateways: Callable[[str], PaymentGateway] = gateway_for,
) -> dict[str, Any]:
    """Void an authorized payment or refund a captured one; returns the outcome."""
    order = repo.require_order(order_id)
    require_request(repo.get_request(order_id, request_id), request_id)
    if order.get("disputed"):
        raise PaymentNotAllowed("a dispute is open on this payment: refunding it too would pay twice (rule 10)")
    repo.transition(order_id, OrderStatus.CANCELLING)
    effect_id = f"settle#{request_id}"
    fx = repo.record_intent(order_id, effect_id, "settle", gateway=order["gateway"], payment_ref=order.get("payment_ref"))
    if fx.get("status") == "done":
        return dict(fx["result"])
    if order["gateway"] == "platform":
        result = {"outcome": "platform_refunds", "amount": int(order["total"]), "currency": order["currency"]}
    else:
        result = _settle_with_gateway(order, effect_key(order_id, request_id), gateways(order["gateway"]))
    repo.record_result(order_id, effect_id, "done", result=result)
    repo.append_timeline(order_id, f"payment_{result['outcome']}", result)
    if result["outcome"] == "refunded":
        repo.add_refunded(order_id, int(result["amount"]))
    return result


def _settle_with_gateway(order: dict[str, Any], key: str, gateway: PaymentGateway) -> dict[str, Any]:
    ref = order.get("payment_ref")
    if not ref:
        raise PaymentNotAllowed(f"order {order['order_id']} has no payment reference")
    state = gateway.retrieve(ref)
    if state.disputed:
        raise PaymentNotAllowed("the payment is disputed: refunding it too would pay twice")
    if state.currency != str(order["currency"]).upper():
        raise PaymentNotAllowed(f"payment currency {state.currency} differs from order currency {order['currency']}")
    base = {"currency": state.currency, "payment_ref": ref, "gateway": gateway.name}
    if state.status == "authorized":
        gateway.void(ref, key)
        return {"outcome": "voided", "amount": state.authorized, **base}
    if state.status == "voided":
        return {"outcome": "voided", "amount": state.authorized, **base}
    if state.status != "captured":
        raise PaymentNotAllowed(f"payment is {state.status}; nothing safe to do automatically")
    refund = gateway.find_refund(ref, key)
    if refund is None:
        amount = refundable(state.captured, state.refunded)
        if amount == 0:
            return {"outcome": "already_refunded", "amount": 0, **base}
        refund = gateway.create_refund(
            ref, amount, key, {"backout_order_id": order["order_id"], "backout_request_id": key.rsplit(":", 1)[-1]}
        )
    if refund.status in ("failed", "canceled"):
        raise RefundFailed(f"refund {refund.refund_id} {refund.status}")
    outcome = "refunded" if refund.status == "succeeded" else "refund_pending"
    return {"outcome": outcome, "amount": refund.amount, "refund_id": refund.refund_id, **base}
