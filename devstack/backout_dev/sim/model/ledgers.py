"""The providers' own records of one order's money, goods and platform state (never Backout's order table).

* Stripe: localstripe through the stripe SDK (the PaymentIntent, its refunds), the disputes fake;
* PayPal: the fake's authorizations, captures, refunds and disputes tables;
* WooCommerce: the fake store's order status; the carrier: intercepts and return labels;
* stock: the stock counts (InventoryRepository), per SKU.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: PayPal's dispute outcome codes in the buyer's favour (the money went back through the dispute).
PAYPAL_LOST = ("RESOLVED_BUYER_FAVOUR",)


@dataclass
class Money:
    """Where the order's money stands at the gateway, in minor units."""

    captured: int = 0
    held: int = 0  # still authorized on the card (Stripe requires_capture, PayPal auth remainder)
    voided: int = 0  # authorization released by a void
    refunded: int = 0  # refunds that succeeded
    pending: int = 0  # refunds not settled yet
    failed: int = 0  # refunds that failed
    lost: int = 0  # disputes lost: the money went back through the card network
    refunds: list[dict[str, Any]] = field(default_factory=list)  # id, amount, status, tag

    @property
    def returned(self) -> int:
        """What the buyer got back: succeeded refunds, voided authorizations, lost disputes."""
        return self.refunded + self.voided + self.lost


def stripe_money(env: Any, pi_id: str) -> Money:
    """The PaymentIntent at localstripe, its refunds, and the disputes fake's lost disputes."""
    import stripe

    pi = stripe.PaymentIntent.retrieve(pi_id).to_dict()
    m = Money()
    if pi["status"] == "requires_capture":
        m.held = int(pi["amount"])
    elif pi["status"] == "canceled":
        m.voided = int(pi["amount"])
    elif pi["status"] == "succeeded":
        m.captured = int(pi.get("amount_received") or pi["amount"])
    for r in stripe.Refund.list(payment_intent=pi_id, limit=100).auto_paging_iter():
        d = r.to_dict()
        status = str(d.get("status"))
        m.refunds.append({"id": d["id"], "amount": int(d["amount"]), "status": status,
                          "tag": (d.get("metadata") or {}).get("backout_effect")})
        if status == "succeeded":
            m.refunded += int(d["amount"])
        elif status == "failed" or status == "canceled":
            m.failed += int(d["amount"])
        else:
            m.pending += int(d["amount"])
    disputes = env.stripe_disputes
    if hasattr(disputes, "lost_minor"):
        m.lost = int(disputes.lost_minor(pi_id))
    else:
        with disputes.lock:
            m.lost = sum(int(d["amount"]) for d in disputes.disputes.values()
                         if d["payment_intent"] == pi_id and d["status"] == "lost")
    return m


def paypal_money(env: Any, ref: str, currency: str) -> Money:
    """The fake PayPal's tables for an authorization (with its captures) or a bare capture."""
    from backout.money import to_minor

    pp = env.paypal
    m = Money()
    with pp.lock:
        if ref in pp.authorizations:
            auth = pp.authorizations[ref]
            captures = [cid for cid, c in pp.captures.items()
                        if c["supplementary_data"]["related_ids"].get("authorization_id") == ref]
            m.captured = sum(to_minor(pp.captures[c]["amount"]["value"], currency) for c in captures)
            rest = to_minor(auth["amount"]["value"], currency) - m.captured
            if auth["status"] in ("CREATED", "PARTIALLY_CAPTURED") and rest > 0:
                m.held = rest
            elif auth["status"] == "VOIDED":
                m.voided = rest
        else:
            captures = [ref]
            m.captured = to_minor(pp.captures[ref]["amount"]["value"], currency)
        for rid, r in pp.refunds.items():
            if r["capture_id"] not in captures:
                continue
            amount = to_minor(r["amount"]["value"], currency)
            m.refunds.append({"id": rid, "amount": amount, "status": r["status"], "tag": r.get("invoice_id")})
            if r["status"] == "COMPLETED":
                m.refunded += amount
            elif r["status"] == "PENDING":
                m.pending += amount
            else:
                m.failed += amount
        for d in pp.disputes.values():
            tx = (d.get("disputed_transactions") or [{}])[0]
            outcome = (d.get("dispute_outcome") or {}).get("outcome_code")
            if tx.get("seller_transaction_id") in captures and outcome in PAYPAL_LOST:
                m.lost += to_minor(d["dispute_amount"]["value"], currency)
    return m


def money(env: Any, gateway: str, ref: str, currency: str) -> Money:
    return stripe_money(env, ref) if gateway == "stripe" else paypal_money(env, ref, currency)


def store_status(env: Any, no: int) -> str:
    """The order's status at the fake WooCommerce store."""
    return str((env.woo.orders.get(str(no)) or {}).get("status"))


def stock(skus: list[str]) -> dict[str, int]:
    from backout.repo.inventory import InventoryRepository

    inv = InventoryRepository()
    return {sku: int(inv.stock(sku)) for sku in skus}


def carrier_state(env: Any, tracking: str, order_id: str) -> dict[str, Any]:
    """The carrier's intercepts of the parcel and the return labels made for the order."""
    c = env.carrier
    with c.lock:
        intercepts = [dict(i) for i in c.intercepts.values() if i["tracking_number"] == tracking]
        labels = [dict(lb) for lb in c.labels.values() if lb["order_id"] == order_id]
    return {"intercepts": intercepts, "labels": labels}


def backout_status(order_id: str) -> tuple[str, str]:
    """Backout's order status and hold reason (only for the "decided or queued" check, never for money)."""
    from backout.repo.orders import OrdersRepository

    order = OrdersRepository().get_order(order_id) or {}
    return str(order.get("status")), str(order.get("hold_reason") or "")
