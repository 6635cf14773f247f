"""WooCommerce + PayPal: store orders paid through the fake PayPal REST API.

The payment is taken at prepare time: a capture (intent CAPTURE), an
authorization, or an authorization captured in two parts (two shipments; the
order's payment reference is then the authorization, and Backout refunds each
capture what is left on it). The store order carries PayPal's bare id as
``transaction_id`` with method ``ppcp-gateway``, as the WooCommerce PayPal
Payments plugin stores it.

PayPal's webhooks, signed by the local fake CA: ``PAYMENT.CAPTURE.REFUNDED`` for
a refund made by hand in PayPal's dashboard (phase 0) and for each refund
Backout made (a reaction), ``CUSTOMER.DISPUTE.CREATED`` (phase 1) and
``PAYMENT.AUTHORIZATION.VOIDED`` of an authorization that lapsed (phase 2, the
expiry). The store's webhooks and the parcel are :class:`WooBase`'s.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from backout_dev.sim.builders import WooBase, iso_utc
from backout_dev.sim.delivery import Delivery
from backout_dev.sim.scenarios import Scenario, register


class WooPayPal(WooBase):
    """WooCommerce orders paid through PayPal, shipped with the fake carrier."""

    gateway = "paypal"
    features = WooBase.features | {"multi_capture"}
    gateway_samples = ("paypal/PAYMENT.CAPTURE.REFUNDED", "paypal/CUSTOMER.DISPUTE.CREATED",
                       "paypal/PAYMENT.AUTHORIZATION.VOIDED")

    def available(self, env: Any) -> bool:
        """When the local environment runs the fake PayPal next to the store."""
        return getattr(env, "paypal", None) is not None and env.woo is not None

    # ------------------------------------------------------------ set-up at the fakes
    def prepare(self, sc: Scenario, env: Any) -> None:
        """Authorization, capture(s), hand refund, lapse, dispute; then the store order and parcel."""
        from backout.money import to_decimal_string

        paypal = env.paypal

        def money(minor: int) -> str:
            return to_decimal_string(minor, sc.currency)

        if not sc.captured or sc.captures:
            sc.payment_ref = paypal.authorize(money(sc.total), sc.currency)
            sc.extra["capture_ids"] = [paypal.capture(sc.payment_ref, money(part)) for part in sc.captures]
        else:
            sc.payment_ref = paypal.charge(money(sc.total), sc.currency)
            sc.extra["capture_ids"] = [sc.payment_ref]
        if sc.prerefund:
            sc.extra["prerefund_id"] = self._refund_by_hand(env, sc.extra["capture_ids"][0], money(sc.prerefund),
                                                            sc.currency)
        if sc.expiry:
            paypal.set_authorization_status(sc.payment_ref, "EXPIRED")  # PayPal lets it lapse by itself
        if sc.dispute:
            sc.extra["dispute_id"] = paypal.open_dispute(sc.extra["capture_ids"][0], custom=str(sc.no))
        self.prepare_store(sc, env)

    @staticmethod
    def _refund_by_hand(env: Any, capture_id: str, value: str, currency: str) -> str:
        """A partial refund the merchant made in PayPal's dashboard (no Backout tag); returns its id."""
        from backout.adapters.paypal_gateway import PayPalGateway

        creds = env.secrets["credentials"]
        merchant = PayPalGateway(env.paypal.url, creds["paypal_client_id"], creds["paypal_client_secret"])
        status, answer = merchant._api("POST", f"/v2/payments/captures/{capture_id}/refund",
                                       body={"amount": {"value": value, "currency_code": currency}})
        if status != 201:
            raise RuntimeError(f"hand refund of {capture_id} refused: HTTP {status} {answer}")
        return str(answer["id"])

    def lose_answer(self, sc: Scenario, env: Any) -> bool:
        """PayPal voids or refunds, and its answer is lost: the retry must find the effect, not repeat it."""
        if not sc.cancel or sc.dispute:
            return False  # no void or refund call would come
        if sc.captured:
            path = f"/captures/{sc.extra['capture_ids'][0]}/refund"
        else:
            path = f"/authorizations/{sc.payment_ref}/void"
        env.paypal.drop_next_response(method="POST", path_contains=path)
        return True

    def payment_fields(self, sc: Scenario) -> dict[str, Any]:
        """Method ``ppcp-gateway``, PayPal's id as ``transaction_id`` (set by ``order_body``), no Stripe meta."""
        return {"payment_method": "ppcp-gateway", "payment_method_title": "PayPal", "meta_data": []}

    # ------------------------------------------------------------ PayPal's webhooks
    def _event(self, sc: Scenario, name: str, resource: dict[str, Any], phase: int, tag: str) -> Delivery:
        sample = self.samples[f"paypal/{name}"]
        body = json.loads(sample["body"])
        event_id = f"WH-SIM-{sc.no}-{tag}".upper()
        body.update(id=event_id, create_time=iso_utc(self.base) + "Z", resource=resource)
        transmission = str(uuid.uuid5(uuid.NAMESPACE_URL, event_id))  # one transmission per event, re-signed per post
        return Delivery("paypal", sample, body, phase, sc.index, name, key=f"paypal:{event_id}",
                        headers={"paypal-transmission-id": transmission})

    def _refund_event(self, sc: Scenario, env: Any, refund_id: str, phase: int) -> Delivery:
        with env.paypal.lock:
            resource = {k: v for k, v in env.paypal.refunds[refund_id].items() if k != "capture_id"}
        resource["update_time"] = iso_utc(self.base) + "Z"
        return self._event(sc, "PAYMENT.CAPTURE.REFUNDED", resource, phase, refund_id)

    def gateway_deliveries(self, sc: Scenario, env: Any) -> list[Delivery]:
        """The hand refund's report, the dispute, the lapsed authorization (an expiry is a cancel request)."""
        out: list[Delivery] = []
        if sc.prerefund:
            out.append(self._refund_event(sc, env, sc.extra["prerefund_id"], 0))
        if sc.dispute:
            with env.paypal.lock:
                dispute = json.loads(json.dumps(env.paypal.disputes[sc.extra["dispute_id"]]))
            out.append(self._event(sc, "CUSTOMER.DISPUTE.CREATED", dispute, 1, "dispute"))
        if sc.expiry:
            expired = self._event(sc, "PAYMENT.AUTHORIZATION.VOIDED", self._authorization(sc, "EXPIRED"), 2, "expired")
            expired.role = "cancel"
            out.append(expired)
        return out

    def _authorization(self, sc: Scenario, status: str) -> dict[str, Any]:
        from backout.money import to_decimal_string

        stamp = iso_utc(self.base) + "Z"
        return {"id": sc.payment_ref, "status": status, "custom_id": str(sc.no),
                "amount": {"currency_code": sc.currency, "value": to_decimal_string(sc.total, sc.currency)},
                "expiration_time": stamp, "update_time": stamp}

    def forged_gateway(self, sc: Scenario) -> Delivery:
        """A dispute on the order's payment (it would freeze the refund)."""
        from backout.money import to_decimal_string

        amount = {"currency_code": sc.currency, "value": to_decimal_string(sc.total, sc.currency)}
        dispute = {"dispute_id": f"PP-D-SIM-{sc.no}", "reason": "MERCHANDISE_OR_SERVICE_NOT_RECEIVED",
                   "status": "OPEN", "dispute_amount": amount,
                   "disputed_transactions": [{"seller_transaction_id": sc.payment_ref, "custom": str(sc.no)}]}
        return self._event(sc, "CUSTOMER.DISPUTE.CREATED", dispute, 2, "forged")

    def refund_reports(self, sc: Scenario, env: Any) -> list[Delivery]:
        """PAYMENT.CAPTURE.REFUNDED for each refund Backout made on the order's captures."""
        return [self._refund_event(sc, env, refund_id, 0) for refund_id in backout_refunds(env, sc)]


def backout_refunds(env: Any, sc: Scenario) -> list[str]:
    """Ids of the refunds on the order's captures that carry a Backout effect tag (``invoice_id``)."""
    captures = set(sc.extra.get("capture_ids") or ())
    with env.paypal.lock:
        return [rid for rid, r in env.paypal.refunds.items()
                if r["capture_id"] in captures and str(r.get("invoice_id") or "").startswith("backout:")]


register(WooPayPal())
