"""WooCommerce + Stripe, and what every WooCommerce pair shares (:class:`WooBase`).

The order lives at the fake store, the money at localstripe, the parcel at
the fake carrier, and every webhook is shaped on the samples in ``events/``.
The other pairs are in ``builders_paypal.py`` (WooCommerce + PayPal),
``builders_shopify.py`` and ``builders_ozon.py``; each registers itself in
``scenarios.BUILDERS``.

Phases (deliveries are shuffled within a phase; the runner waits for the
inbox stream between phases, which stands for the hours or days between them):

0. the order is created (a cancel request sometimes overtakes it; the webhook
   of a refund made by hand may come first);
1. the order ships (store status ``completed`` + a carrier scan), a dispute opens;
2. the cancel request, or the authorization's expiry;
3. the buyer's withdrawal of the request (or in phase 2, racing it; or, "late",
   as a reaction once every cooling-off window closed).

Reactions (after the stack went quiet): a late withdrawal, the carrier scans
an intercepted or delivered parcel, the return parcel comes back, the gateway
reports the refunds Backout created.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from backout_dev.sim.delivery import Delivery, forgeries
from backout_dev.sim.scenarios import Scenario, register
from backout_dev.template import ROOT

EVENTS = ROOT / "events"


def event_sample(name: str) -> dict[str, Any]:
    """The API Gateway event ``events/<name>.json`` (its path and headers; the body is replaced)."""
    from backout_dev.sender import load_sample

    return load_sample(EVENTS / f"{name}.json")


def iso_utc(ts: float) -> str:
    """A UTC timestamp without zone (WooCommerce's ``*_gmt``; the other providers append ``Z``)."""
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


class Parcel:
    """The fake carrier's side of a shipped order (any pair that ships with it): the parcel, its AfterShip
    scans, and the carrier's answers to an intercept and to a return label."""

    def __init__(self, base: float) -> None:
        self.sample = event_sample("aftership/tracking_update.Delivered")
        self.base = base

    @staticmethod
    def prepare(sc: Scenario, env: Any) -> None:
        """The parcel at the carrier, and how an intercept of it would end."""
        sc.tracking = f"SIMTRK{sc.no}"
        env.carrier.add_shipment(sc.tracking, "in_transit", sc.intercept)

    def scan(self, sc: Scenario, tracking: str, tag: str, subtag: str, phase: int, n: str) -> Delivery:
        """An AfterShip tracking update for one of the order's parcels."""
        body = json.loads(self.sample["body"])
        event_id = f"sim-{sc.no}-{n}"
        body.update({"event_id": event_id, "ts": int(self.base)})
        body["msg"].update({"tracking_number": tracking, "tag": tag, "subtag": subtag, "slug": "dhl",
                            "order_number": sc.order_id})
        return Delivery("aftership", self.sample, body, phase, sc.index, f"aftership {tag}",
                        key=f"aftership:{event_id}")

    def reactions(self, sc: Scenario, order: dict[str, Any], steps: set[str]) -> list[Delivery]:
        """Intercepted parcel: back to the sender (or delivered anyway); a return parcel: delivered back."""
        if not sc.intercept or "returned" in sc.extra:
            return []
        if "waiting_for_carrier" in steps and "carrier_scanned" not in sc.extra:
            sc.extra["carrier_scanned"] = True
            if sc.intercept == "succeed":
                sc.extra["returned"] = True
                return [self.scan(sc, sc.tracking, "Exception", "Exception_011", 0, "intercept")]
            return [self.scan(sc, sc.tracking, "Delivered", "Delivered_001", 0, "intercept")]
        if "waiting_for_return" in steps and order.get("return_tracking_number"):
            sc.extra["returned"] = True
            return [self.scan(sc, str(order["return_tracking_number"]), "Delivered", "Delivered_001", 0, "return")]
        return []


class WooBase:
    """What every WooCommerce pair shares: the store's order webhooks, the carrier's parcel and scans.

    A subclass names its gateway and adds the gateway's side: how the payment is
    taken at prepare time, the gateway's webhooks, and its answer to Backout's refunds.
    """

    platform = "woocommerce"
    gateway = ""
    features = frozenset({"authorized", "shipped", "intercept", "expiry", "dispute", "prerefund", "custom",
                          "cancel_first", "forged", "withdrawal"})
    currencies: tuple[str, ...] = ()
    gateway_samples: tuple[str, ...] = ()

    def __init__(self) -> None:
        names = ("woocommerce/order.created", "woocommerce/order.cancel-request", *self.gateway_samples)
        self.samples = {name: event_sample(name) for name in names}
        self.template = json.loads(self.samples["woocommerce/order.created"]["body"])
        self.base = time.time()
        self.parcel = Parcel(self.base)
        self.rng = random.Random(0)

    # ------------------------------------------------------------ the gateway's side (subclasses)
    def payment_fields(self, sc: Scenario) -> dict[str, Any]:
        """Fields of the store order that name the payment (method, transaction id, meta)."""
        raise NotImplementedError

    def gateway_deliveries(self, sc: Scenario, env: Any) -> list[Delivery]:
        """The gateway's webhooks of the story: hand refund, dispute, expiry."""
        raise NotImplementedError

    def forged_gateway(self, sc: Scenario) -> Delivery:
        """A gateway webhook that could hurt the order if it were believed (sent forged)."""
        raise NotImplementedError

    def refund_reports(self, sc: Scenario, env: Any) -> list[Delivery]:
        """The gateway's webhooks about the refunds Backout made (once the order is cancelled)."""
        raise NotImplementedError

    # ------------------------------------------------------------ the store's webhooks
    def _woo(self, sc: Scenario, status: str, offset: float, phase: int, label: str,
             topic: str = "order.updated", meta: tuple[tuple[str, str], ...] = ()) -> Delivery:
        from backout.money import to_decimal_string
        from backout_dev.demo import _line, order_body

        lines = [_line(line.line_id, line.sku, line.qty, to_decimal_string(line.minor, sc.currency), line.custom)
                 for line in sc.lines]
        body = order_body(self.template, sc.no, status, sc.currency, to_decimal_string(sc.total, sc.currency),
                          sc.payment_ref, lines, iso_utc(self.base + offset))
        body.update(self.payment_fields(sc))
        body["meta_data"] = body["meta_data"] + [{"id": 90 + i, "key": k, "value": v} for i, (k, v) in enumerate(meta)]
        name = "order.created" if topic == "order.created" else "order.cancel-request"
        sample = self.samples[f"woocommerce/{name}"]
        return Delivery("woocommerce", sample, body, phase, sc.index, label,
                        key=f"woocommerce:{sc.no}:{topic}:{body['date_modified_gmt']}")

    def prepare_store(self, sc: Scenario, env: Any) -> None:
        """The order at the fake store, and its parcel at the carrier."""
        env.woo.orders[str(sc.no)] = {"id": sc.no, "status": "processing"}
        if sc.shipped:
            self.parcel.prepare(sc, env)

    def deliveries(self, sc: Scenario, env: Any) -> list[Delivery]:
        """Every webhook the story implies, genuine and forged (copies are set by the runner)."""
        out = [self._woo(sc, "processing", -900, 0, "order.created", topic="order.created")]
        if sc.shipped:
            out.append(self._woo(sc, "completed", -600, 1, "order.updated completed"))
            out.append(self.parcel.scan(sc, sc.tracking, "InTransit", "InTransit_001", 1, "transit"))
        out += self.gateway_deliveries(sc, env)
        if sc.cancel:
            cancel = self._woo(sc, "cancel-request", -60, 0 if sc.cancel_first else 2, "order.updated cancel-request")
            cancel.role = "cancel"
            out.append(cancel)
            if sc.withdrawal and sc.withdrawal_at != "late":
                out.append(self._withdrawal(sc, cancel.phase + (sc.withdrawal_at == "early")))
        if sc.forged_cancel:
            forged = self._woo(sc, "cancel-request", -30, 2, "forged cancel-request")
            forged.forgery = self.rng.choice(forgeries("woocommerce"))
            stale = self.forged_gateway(sc)
            stale.forgery, stale.label = "stale", f"forged stale {stale.label}"
            out += [forged, stale]
        return out

    def _withdrawal(self, sc: Scenario, phase: int) -> Delivery:
        """The buyer takes the request back: status processing again, ``_backout_cancel_withdrawn``."""
        withdrawn = self._woo(sc, "processing", -45, phase, "order.updated cancel-withdrawn",
                              meta=(("_backout_cancel_withdrawn", "yes"),))
        withdrawn.role = "withdraw"
        return withdrawn

    def noise(self, sc: Scenario, rng: random.Random) -> Delivery:
        """An order.updated that changes nothing Backout acts on (status processing, between creation and
        shipping: often stale by the time it arrives)."""
        return self._woo(sc, "processing", rng.randint(-880, -620), rng.randint(0, 2), "order.updated processing")

    # ------------------------------------------------------------ reactions
    def reactions(self, sc: Scenario, env: Any) -> list[Delivery]:
        """A late withdrawal; the carrier's scans for a parcel Backout asked about; the gateway's reports
        of its refunds."""
        from backout.repo.orders import OrdersRepository

        repo = OrdersRepository()
        order = repo.get_order(sc.order_id) or {}
        out = late_withdrawal(sc, lambda: self._withdrawal(sc, 0))
        out += self.parcel.reactions(sc, order, {s["step"] for s in repo.timeline(sc.order_id)})
        if sc.captured and order.get("status") == "CANCELLED" and "refunds_reported" not in sc.extra:
            sc.extra["refunds_reported"] = True
            out += self.refund_reports(sc, env)
        return out


class WooStripe(WooBase):
    """WooCommerce orders paid through Stripe (localstripe), shipped with the fake carrier."""

    gateway = "stripe"
    gateway_samples = ("stripe/refund.updated", "stripe/charge.dispute.created", "stripe/payment_intent.canceled")

    def available(self, env: Any) -> bool:
        """Always: this pair is what the local stack was built around."""
        return env.stripe is not None and env.woo is not None

    def prepare(self, sc: Scenario, env: Any) -> None:
        """PaymentIntent (captured or authorized), hand refund, expiry, dispute, store order, parcel."""
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
        self.prepare_store(sc, env)

    def lose_answer(self, sc: Scenario, env: Any) -> bool:
        """No fake to arm: localstripe's lost answers come from the stripe SDK wrapper (faults.py)."""
        return False

    def payment_fields(self, sc: Scenario) -> dict[str, Any]:
        """``order_body`` already names the PaymentIntent (method stripe, ``_stripe_intent_id``)."""
        return {}

    def _stripe(self, sc: Scenario, name: str, obj: dict[str, Any], phase: int, event_id: str) -> Delivery:
        sample = self.samples[f"stripe/{name}"]
        body = json.loads(sample["body"])
        body["id"] = event_id
        body["created"] = int(self.base)
        body["data"]["object"].update(obj)
        return Delivery("stripe", sample, body, phase, sc.index, name, key=f"stripe:{event_id}")

    def gateway_deliveries(self, sc: Scenario, env: Any) -> list[Delivery]:
        """refund.updated of the hand refund, charge.dispute.created, payment_intent.canceled (the expiry)."""
        out: list[Delivery] = []
        if sc.prerefund:
            refund = {"id": sc.extra["prerefund_id"], "amount": sc.prerefund, "currency": sc.currency.lower(),
                      "payment_intent": sc.payment_ref, "metadata": {}, "status": "succeeded"}
            out.append(self._stripe(sc, "refund.updated", refund, 0, f"evt_sim_{sc.no}_prerefund"))
        if sc.dispute:
            dispute = {"id": f"dp_sim_{sc.no}", "amount": sc.total - sc.prerefund, "currency": sc.currency.lower(),
                       "payment_intent": sc.payment_ref, "charge": f"ch_sim_{sc.no}"}
            out.append(self._stripe(sc, "charge.dispute.created", dispute, 1, f"evt_sim_{sc.no}_dispute"))
        if sc.expiry:
            pi = {"id": sc.payment_ref, "cancellation_reason": "automatic", "metadata": {"order_id": str(sc.no)},
                  "amount": sc.total, "currency": sc.currency.lower()}
            expired = self._stripe(sc, "payment_intent.canceled", pi, 2, f"evt_sim_{sc.no}_expired")
            expired.role = "cancel"
            out.append(expired)
        return out

    def forged_gateway(self, sc: Scenario) -> Delivery:
        """A dispute on the order's payment (it would freeze the refund)."""
        return self._stripe(sc, "charge.dispute.created", {"payment_intent": sc.payment_ref}, 2,
                            f"evt_sim_{sc.no}_forged")

    def refund_reports(self, sc: Scenario, env: Any) -> list[Delivery]:
        """Stripe's refund.updated for each refund Backout created."""
        return [self._stripe(sc, "refund.updated", r, 0, f"evt_sim_{sc.no}_{r['id']}")
                for r in _backout_refunds(sc.payment_ref)]


def late_withdrawal(sc: Scenario, make: Callable[[], Delivery]) -> list[Delivery]:
    """The withdrawal of a story whose buyer withdraws after every window closed (sent once, as a reaction)."""
    if not sc.withdrawal or sc.withdrawal_at != "late" or "withdrawal_sent" in sc.extra:
        return []
    sc.extra["withdrawal_sent"] = True
    return [make()]


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
