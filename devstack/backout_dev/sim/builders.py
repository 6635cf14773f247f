"""Scenario builders per platform/gateway pair (registered in ``scenarios.BUILDERS``).

WooCommerce + Stripe is wired end to end on the local stack: the order lives
at the fake store, the money at localstripe, the parcel at the fake carrier,
and every webhook is shaped on the samples in ``events/``.

Phases (deliveries are shuffled within a phase; the runner waits for the
inbox stream between phases, which stands for the hours or days between them):

0. the order is created (a cancel request sometimes overtakes it; the webhook
   of a refund made by hand may come first);
1. the order ships (store status ``completed`` + a carrier scan), a dispute opens;
2. the cancel request, or the authorization's expiry.

Reactions (after the stack went quiet): the carrier scans an intercepted or
delivered parcel, the return parcel comes back, Stripe reports the refunds
Backout created.
"""

from __future__ import annotations

import json
import random
import time
from datetime import datetime, timezone
from typing import Any

from backout_dev.sim.delivery import Delivery
from backout_dev.sim.scenarios import Scenario, register
from backout_dev.template import ROOT

EVENTS = ROOT / "events"


def _sample(name: str) -> dict[str, Any]:
    from backout_dev.sender import load_sample

    return load_sample(EVENTS / f"{name}.json")


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


class WooStripe:
    """WooCommerce orders paid through Stripe (localstripe), shipped with the fake carrier."""

    platform = "woocommerce"
    gateway = "stripe"

    def __init__(self) -> None:
        self.samples = {name: _sample(name) for name in (
            "woocommerce/order.created", "woocommerce/order.cancel-request", "stripe/refund.updated",
            "stripe/charge.dispute.created", "stripe/payment_intent.canceled", "stripe/charge.expired",
            "aftership/tracking_update.Delivered")}
        self.template = json.loads(self.samples["woocommerce/order.created"]["body"])
        self.base = time.time()
        self.rng = random.Random(0)

    def available(self, env: Any) -> bool:
        """Always: this pair is what the local stack was built around."""
        return env.stripe is not None and env.woo is not None

    # ------------------------------------------------------------ set-up at the fakes
    def prepare(self, sc: Scenario, env: Any) -> None:
        """PaymentIntent (captured or authorized), hand refund, expiry, store order, parcel."""
        import stripe

        from backout_dev.demo import _payment_intent

        sc.payment_ref = _payment_intent(sc.total, sc.currency, sc.captured, sc.no)
        if sc.prerefund:
            sc.extra["prerefund_id"] = stripe.Refund.create(payment_intent=sc.payment_ref, amount=sc.prerefund).id
        if sc.expiry:
            stripe.PaymentIntent.cancel(sc.payment_ref)  # Stripe lets an authorization lapse by itself
        if sc.dispute:  # the dispute exists at Stripe before its webhook names it (evidence is submitted to it)
            env.stripe_disputes.open_dispute(sc.payment_ref, sc.total - sc.prerefund, sc.currency,
                                             dispute_id=f"dp_sim_{sc.no}", charge=f"ch_sim_{sc.no}")
        env.woo.orders[str(sc.no)] = {"id": sc.no, "status": "processing"}
        if sc.shipped:
            sc.tracking = f"SIMTRK{sc.no}"
            env.carrier.add_shipment(sc.tracking, "in_transit", sc.intercept)

    # ------------------------------------------------------------ webhooks
    def _woo(self, sc: Scenario, status: str, offset: float, phase: int, label: str,
              topic: str = "order.updated") -> Delivery:
        from backout_dev.demo import _line, order_body
        from backout.money import to_decimal_string

        lines = [_line(line.line_id, line.sku, line.qty, to_decimal_string(line.minor, sc.currency), line.custom)
                 for line in sc.lines]
        body = order_body(self.template, sc.no, status, sc.currency, to_decimal_string(sc.total, sc.currency),
                          sc.payment_ref, lines, _iso(self.base + offset))
        sample = self.samples["woocommerce/order.created" if topic == "order.created" else "woocommerce/order.cancel-request"]
        return Delivery("woocommerce", sample, body, phase, sc.index, label,
                        key=f"woocommerce:{sc.no}:{topic}:{body['date_modified_gmt']}")

    def _stripe(self, sc: Scenario, name: str, obj: dict[str, Any], phase: int, event_id: str) -> Delivery:
        sample = self.samples[f"stripe/{name}"]
        body = json.loads(sample["body"])
        body["id"] = event_id
        body["created"] = int(self.base)
        body["data"]["object"].update(obj)
        return Delivery("stripe", sample, body, phase, sc.index, name, key=f"stripe:{event_id}")

    def _scan(self, sc: Scenario, tracking: str, tag: str, subtag: str, phase: int, n: str) -> Delivery:
        sample = self.samples["aftership/tracking_update.Delivered"]
        body = json.loads(sample["body"])
        event_id = f"sim-{sc.no}-{n}"
        body.update({"event_id": event_id, "ts": int(self.base)})
        body["msg"].update({"tracking_number": tracking, "tag": tag, "subtag": subtag, "slug": "dhl",
                            "order_number": sc.order_id})
        return Delivery("aftership", sample, body, phase, sc.index, f"aftership {tag}", key=f"aftership:{event_id}")

    def deliveries(self, sc: Scenario, env: Any) -> list[Delivery]:
        """Every webhook the story implies, genuine and forged, with 1-3 copies each."""
        out = [self._woo(sc, "processing", -900, 0, "order.created", topic="order.created")]
        if sc.prerefund:
            refund = {"id": sc.extra["prerefund_id"], "amount": sc.prerefund, "currency": sc.currency.lower(),
                      "payment_intent": sc.payment_ref, "metadata": {}, "status": "succeeded"}
            out.append(self._stripe(sc, "refund.updated", refund, 0, f"evt_sim_{sc.no}_prerefund"))
        if sc.shipped:
            out.append(self._woo(sc, "completed", -600, 1, "order.updated completed"))
            out.append(self._scan(sc, sc.tracking, "InTransit", "InTransit_001", 1, "transit"))
        if sc.dispute:
            dispute = {"id": f"dp_sim_{sc.no}", "amount": sc.total - sc.prerefund, "currency": sc.currency.lower(),
                       "payment_intent": sc.payment_ref, "charge": f"ch_sim_{sc.no}"}
            out.append(self._stripe(sc, "charge.dispute.created", dispute, 1, f"evt_sim_{sc.no}_dispute"))
        if sc.cancel:
            out.append(self._woo(sc, "cancel-request", -60, 0 if sc.cancel_first else 2, "order.updated cancel-request"))
        if sc.expiry:
            pi = {"id": sc.payment_ref, "cancellation_reason": "automatic", "metadata": {"order_id": str(sc.no)},
                  "amount": sc.total, "currency": sc.currency.lower()}
            out.append(self._stripe(sc, "payment_intent.canceled", pi, 2, f"evt_sim_{sc.no}_expired"))
        if sc.forged_cancel:
            forged = self._woo(sc, "cancel-request", -30, 2, "forged cancel-request")
            forged.forgery = self.rng.choice(["wrong_secret", "tampered", "unsigned"])
            stale = self._stripe(sc, "charge.dispute.created", {"payment_intent": sc.payment_ref}, 2,
                                 f"evt_sim_{sc.no}_forged")
            stale.forgery, stale.label = "stale", "forged stale charge.dispute.created"
            out += [forged, stale]
        return out

    def noise(self, sc: Scenario, rng: random.Random) -> Delivery:
        """An order.updated that changes nothing Backout acts on (status processing, between creation and
        shipping: often stale by the time it arrives)."""
        return self._woo(sc, "processing", rng.randint(-880, -620), rng.randint(0, 2), "order.updated processing")

    def reactions(self, sc: Scenario, env: Any) -> list[Delivery]:
        """The carrier's scans for a parcel Backout asked about, and Stripe's refund.updated for its refunds."""
        from backout.repo.orders import OrdersRepository

        repo = OrdersRepository()
        order = repo.get_order(sc.order_id) or {}
        out: list[Delivery] = []
        if sc.intercept and "returned" not in sc.extra:
            out += self._carrier_reactions(sc, order, {s["step"] for s in repo.timeline(sc.order_id)})
        if sc.captured and order.get("status") == "CANCELLED" and "refunds_reported" not in sc.extra:
            sc.extra["refunds_reported"] = True
            out += [self._stripe(sc, "refund.updated", r, 0, f"evt_sim_{sc.no}_{r['id']}")
                    for r in _backout_refunds(sc.payment_ref)]
        return out

    def _carrier_reactions(self, sc: Scenario, order: dict[str, Any], steps: set[str]) -> list[Delivery]:
        """Intercepted parcel: back to the sender (or delivered anyway); a return parcel: delivered back."""
        if "waiting_for_carrier" in steps and "carrier_scanned" not in sc.extra:
            sc.extra["carrier_scanned"] = True
            if sc.intercept == "succeed":
                sc.extra["returned"] = True
                return [self._scan(sc, sc.tracking, "Exception", "Exception_011", 0, "intercept")]
            return [self._scan(sc, sc.tracking, "Delivered", "Delivered_001", 0, "intercept")]
        if "waiting_for_return" in steps and order.get("return_tracking_number"):
            sc.extra["returned"] = True
            return [self._scan(sc, str(order["return_tracking_number"]), "Delivered", "Delivered_001", 0, "return")]
        return []


def _backout_refunds(payment_ref: str) -> list[dict[str, Any]]:
    """Refunds Backout created on a PaymentIntent (as Stripe's webhook would describe them)."""
    import stripe

    out = []
    for r in stripe.Refund.list(payment_intent=payment_ref, limit=100).auto_paging_iter():
        data = r.to_dict()
        if (data.get("metadata") or {}).get("backout_effect"):
            out.append({k: data.get(k) for k in ("id", "amount", "currency", "payment_intent", "metadata", "status")})
    return out


register(WooStripe())
