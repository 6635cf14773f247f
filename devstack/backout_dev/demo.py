"""`backout demo`: two WooCommerce orders paid through Stripe, both cancelled.

* order 1001: captured payment; the cancel request is delivered three times;
  Backout refunds it once, in full, and restocks its standard lines once
  (the engraved tag is custom-made and stays out of stock, as rule 6 says).
* order 1002: authorization only; Backout voids it and restocks.

The demo checks its own outcome against localstripe and the stock table
and exits non-zero if anything is off.
"""

from __future__ import annotations

import copy
import json
import sys
import time
from datetime import datetime, timezone
from typing import Any, TextIO

import stripe

from backout_dev.env import LocalEnvironment
from backout_dev.sender import load_sample, send_event
from backout_dev.template import ROOT

EVENTS = ROOT / "events" / "woocommerce"
STOCK = {"MUG-CER-01": 10, "TEE-RED-M": 4, "TAG-ENG-CUSTOM": 0}


def _line(line_id: int, sku: str, qty: int, total: str, custom: bool = False) -> dict[str, Any]:
    meta = [{"id": line_id * 10, "key": "_backout_custom", "value": "yes"}] if custom else []
    return {"id": line_id, "name": sku, "product_id": line_id, "quantity": qty, "total": total,
            "subtotal": total, "sku": sku, "meta_data": meta}


def order_body(template: dict[str, Any], order_no: int, status: str, currency: str, total: str,
               payment_ref: str, lines: list[dict[str, Any]], modified: str) -> dict[str, Any]:
    """A WooCommerce order body built on the sample's shape."""
    body = copy.deepcopy(template)
    body.update({"id": order_no, "status": status, "currency": currency, "total": total, "shipping_total": "0.00",
                 "payment_method": "stripe", "transaction_id": payment_ref, "date_modified_gmt": modified,
                 "line_items": lines, "shipping_lines": [],
                 "meta_data": [{"id": 1, "key": "_stripe_intent_id", "value": payment_ref}]})
    return body


def _payment_intent(amount: int, currency: str, capture: bool, order_no: int) -> str:
    pm = stripe.PaymentMethod.create(type="card", card={"number": "4242424242424242", "exp_month": 12,
                                                        "exp_year": 2030, "cvc": "123"})
    pi = stripe.PaymentIntent.create(amount=amount, currency=currency.lower(), payment_method=pm.id, confirm=True,
                                     capture_method="automatic" if capture else "manual",
                                     metadata={"order_id": str(order_no)})
    return str(pi.id)


def run_demo(out: TextIO = sys.stdout, cooling_off_seconds: int = 2) -> int:
    """Run the demo; 0 when every check holds."""
    started = time.monotonic()
    with LocalEnvironment(parameters={"CoolingOffSeconds": str(cooling_off_seconds)}) as env:
        assert env.stack is not None
        stripe.api_base = env.stripe.url
        stripe.api_key = env.secrets["credentials"]["stripe_api_key"]
        from backout.repo.inventory import InventoryRepository
        from backout.repo.orders import OrdersRepository

        inventory = InventoryRepository()
        for sku, count in STOCK.items():
            inventory.set_stock(sku, count)

        created = load_sample(EVENTS / "order.created.json")
        cancel = load_sample(EVENTS / "order.cancel-request.json")
        template = json.loads(created["body"])
        now = datetime.now(timezone.utc).replace(microsecond=0)
        t1 = now.strftime("%Y-%m-%dT%H:%M:%S")
        t0 = datetime.fromtimestamp(now.timestamp() - 60, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")

        captured_pi = _payment_intent(7996, "USD", True, 1001)
        authorized_pi = _payment_intent(2500, "EUR", False, 1002)
        orders = {
            1001: ("USD", "79.96", captured_pi, [_line(11, "MUG-CER-01", 2, "39.98"), _line(12, "TEE-RED-M", 1, "19.99"),
                                                 _line(13, "TAG-ENG-CUSTOM", 1, "19.99", custom=True)]),
            1002: ("EUR", "25.00", authorized_pi, [_line(21, "MUG-CER-01", 1, "25.00")]),
        }
        out.write(f"Backout local stack up: API {env.url}, localstripe {env.stripe.url}, store {env.woo.url}\n")
        for no, (cur, total, pi, lines) in orders.items():
            env.woo.orders[str(no)] = {"id": no, "status": "processing"}
            status, answer = send_event(env.url, created, env.secrets,
                                        order_body(template, no, "processing", cur, total, pi, lines, t0))
            out.write(f"  order.created {no}: HTTP {status} {answer}\n")
        env.stack.wait_idle()
        for no, (cur, total, pi, lines) in orders.items():
            body = order_body(template, no, "cancel-request", cur, total, pi, lines, t1)
            times = 3 if no == 1001 else 1
            for _ in range(times):
                status, answer = send_event(env.url, cancel, env.secrets, body)
                out.write(f"  cancel-request {no}: HTTP {status} duplicate={answer.get('duplicate')}\n")
        env.stack.wait_idle(timeout=120)

        repo = OrdersRepository()
        ok = True
        for no in orders:
            ok &= print_timeline(repo, f"woocommerce:{no}", out)
        refunds = stripe.Refund.list(payment_intent=captured_pi).data
        voided = stripe.PaymentIntent.retrieve(authorized_pi).status
        out.write("\nlocalstripe: refunds on the captured order's PaymentIntent: "
                  + ", ".join(f"{r.id} {r.amount} {r.currency.upper()} {r.status}" for r in refunds) + "\n")
        out.write(f"localstripe: authorized PaymentIntent is now {voided}\n")
        stock = {sku: inventory.stock(sku) for sku in STOCK}
        out.write("stock before -> after: " + ", ".join(f"{s} {STOCK[s]}->{stock[s]}" for s in STOCK) + "\n")
        checks = {
            "captured order refunded once, in full (7996 USD)": len(refunds) == 1 and refunds[0].amount == 7996,
            "authorized order voided": voided == "canceled",
            "stock restored once (MUG +3, TEE +1, custom tag untouched)":
                stock == {"MUG-CER-01": 13, "TEE-RED-M": 5, "TAG-ENG-CUSTOM": 0},
            "both orders cancelled on the store": all(env.woo.orders[str(n)]["status"] == "cancelled" for n in orders),
        }
        for name, passed in checks.items():
            out.write(f"  [{'ok' if passed else 'FAILED'}] {name}\n")
            ok &= passed
        out.write(f"demo {'passed' if ok else 'FAILED'} in {time.monotonic() - started:.1f}s\n")
        return 0 if ok else 1


def print_timeline(repo: Any, order_id: str, out: TextIO) -> bool:
    """Print an order's status and timeline; True when it ended cancelled."""
    order = repo.get_order(order_id) or {}
    out.write(f"\n== {order_id}  status={order.get('status')}  total={order.get('total')} {order.get('currency')}"
              f"  gateway={order.get('gateway')}\n")
    for step in repo.timeline(order_id):
        detail = {k: v for k, v in (step.get("detail") or {}).items() if k not in ("execution",)}
        out.write(f"  {step['at'][11:23]}  {step['step']:<24} {json.dumps(detail, default=str)[:150]}\n")
    return order.get("status") == "CANCELLED"
