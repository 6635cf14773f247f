"""`backout demo`: eight cancellations on the local stack, each checked against the providers' fakes.

Every scenario goes in through signed webhooks (``sender.send_event``), like the
providers would send them, and ends with its own checks against localstripe, the
stock table, the fake store, the fake carrier and the fake Ozon:

1. a captured WooCommerce/Stripe order whose cancel request arrives three times:
   refunded once, in full; standard lines restocked once, the custom-made one not (rule 6);
2. an authorized-only order: voided, not refunded (rule 1);
3. a withdrawal during the cooling-off window: nothing refunded, nothing restocked (rule 4);
4. an Ozon buyer request: Backout approves it on Ozon and waits for Ozon's own
   confirmation push before the stock goes back (rule 5; Ozon holds the money);
5. a shipped order intercepted: the carrier returns it to the sender, then refund and restock (rule 2);
6. a shipped order delivered anyway: a prepaid return label, the return scan, then refund and restock;
7. an expired authorization (Stripe ``payment_intent.canceled``, reason ``automatic``):
   the order is cancelled on the store and its stock released (rule 9);
8. a dispute opened before the cancellation: the refund is frozen and the order waits
   for an operator, with its evidence bundle kept (rule 10).

The demo exits 0 only when every check of every scenario holds.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, TextIO

import stripe

from backout_dev.env import LocalEnvironment
from backout_dev.sender import OZON_SAMPLE_SELLER_ID, load_sample, send_event
from backout_dev.template import ROOT

EVENTS = ROOT / "events" / "woocommerce"
SAMPLES = ROOT / "events"

Checks = dict[str, bool]


# ---------------------------------------------------------------------------- WooCommerce and Stripe bodies
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


def _stamp(offset: float = 0.0) -> str:
    """A WooCommerce ``date_modified_gmt``, ``offset`` seconds from now."""
    return datetime.fromtimestamp(time.time() + offset, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


# ---------------------------------------------------------------------------- the shared helpers
@dataclass
class WooOrder:
    """One store order paid through Stripe."""

    no: int
    pi: str
    currency: str
    total: str
    lines: list[dict[str, Any]]

    @property
    def order_id(self) -> str:
        return f"woocommerce:{self.no}"


@dataclass
class Demo:
    """The running stack and the helpers every scenario shares."""

    env: LocalEnvironment
    out: TextIO
    woo_template: dict[str, Any] = field(init=False)
    _modified: float = field(default=-120.0, init=False)

    def __post_init__(self) -> None:
        from backout.repo.inventory import InventoryRepository
        from backout.repo.orders import OrdersRepository

        self.inventory, self.repo = InventoryRepository(), OrdersRepository()
        self.woo_template = json.loads(load_sample(EVENTS / "order.created.json")["body"])

    # -- sending
    def send(self, sample: str, body: dict[str, Any]) -> dict[str, Any]:
        """Sign and post ``events/<sample>`` with ``body``; a refusal stops the scenario."""
        status, answer = send_event(self.env.url, load_sample(SAMPLES / sample), self.env.secrets, body)
        if status != 200:
            raise RuntimeError(f"{sample}: HTTP {status} {answer}")
        return answer

    def woo(self, order: WooOrder, status: str, *meta: tuple[str, str], times: int = 1) -> list[bool]:
        """Post the order in ``status``, ``times`` times the same delivery; whether each was a duplicate.

        Each new delivery is stamped newer than the last, as WooCommerce stamps its orders.
        """
        self._modified += 1
        body = order_body(self.woo_template, order.no, status, order.currency, order.total, order.pi, order.lines,
                          _stamp(self._modified))
        body["meta_data"] += [{"id": 90 + i, "key": k, "value": v} for i, (k, v) in enumerate(meta)]
        sample = "woocommerce/order.cancel-request.json" if status == "cancel-request" else \
            "woocommerce/order.created.json"
        return [bool(self.send(sample, body).get("duplicate")) for _ in range(times)]

    def place(self, no: int, lines: list[dict[str, Any]], *, capture: bool = True, currency: str = "USD",
              stock: dict[str, int] | None = None, shipped: bool = False) -> WooOrder:
        """Take the payment at localstripe, open the order on the store and post it."""
        from backout.money import to_decimal_string, to_minor

        for sku, count in (stock or {}).items():
            self.inventory.set_stock(sku, count)
        minor = sum(to_minor(line["total"], currency) for line in lines)
        order = WooOrder(no, _payment_intent(minor, currency, capture, no), currency,
                         to_decimal_string(minor, currency), lines)
        self.env.woo.orders[str(no)] = {"id": no, "status": "completed" if shipped else "processing"}
        self.woo(order, "completed" if shipped else "processing")
        return order

    def scan(self, order_id: str, tracking: str, tag: str, subtag: str = "") -> None:
        """An AfterShip tracking update for the parcel."""
        self.send("aftership/tracking_update.Delivered.json", {
            "event": "tracking_update", "event_id": str(uuid.uuid4()), "ts": int(time.time()),
            "msg": {"tracking_number": tracking, "slug": "dhl", "tag": tag, "subtag": subtag,
                    "order_number": order_id, "checkpoints": []}})

    def stripe_event(self, sample: str, obj: dict[str, Any]) -> None:
        """A Stripe event of the sample's type about ``obj`` (fields merged into the sample's object)."""
        body = json.loads(load_sample(SAMPLES / sample)["body"])
        body["id"], body["created"] = f"evt_demo_{uuid.uuid4().hex[:16]}", int(time.time())
        body["data"]["object"].update(obj)
        self.send(sample, body)

    @contextlib.contextmanager
    def cooling_off(self, seconds: int) -> Iterator[None]:
        """A longer window for the sagas started meanwhile (the template parameter, as the dispatcher reads it)."""
        saved = os.environ.get("COOLING_OFF_SECONDS")
        os.environ["COOLING_OFF_SECONDS"] = str(seconds)
        try:
            yield
        finally:
            os.environ["COOLING_OFF_SECONDS"] = saved or "0"

    # -- waiting and looking
    def steps(self, order_id: str) -> list[str]:
        return [s["step"] for s in self.repo.timeline(order_id)]

    def wait_step(self, order_id: str, step: str, timeout: float = 60.0) -> None:
        """Until the order's timeline shows ``step``."""
        deadline = time.monotonic() + timeout
        while step not in self.steps(order_id):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{order_id}: no {step} within {timeout:.0f}s")
            time.sleep(0.1)

    def status(self, order_id: str) -> str:
        return str((self.repo.get_order(order_id) or {}).get("status"))

    def refunds(self, pi: str) -> list[Any]:
        return list(stripe.Refund.list(payment_intent=pi).data)

    def refunded_once_in_full(self, order: WooOrder) -> bool:
        from backout.money import to_minor

        refunds = self.refunds(order.pi)
        return len(refunds) == 1 and refunds[0].amount == to_minor(order.total, order.currency)

    def store_status(self, no: int) -> str:
        return str(self.env.woo.orders[str(no)]["status"])

    def print_timeline(self, order_id: str) -> None:
        """The order's record and its timeline, one line a step."""
        order = self.repo.get_order(order_id) or {}
        self.out.write(f"   {order_id}  status={order.get('status')}  {order.get('total')} {order.get('currency')}"
                       f"  gateway={order.get('gateway')}\n")
        for step in self.repo.timeline(order_id):
            detail = {k: v for k, v in (step.get("detail") or {}).items() if k not in ("execution", "source")}
            self.out.write(f"     {step['at'][11:23]}  {step['step']:<30} {json.dumps(detail, default=str)[:90]}\n")

    # -- running
    def run(self, title: str, scenario: Callable[[Demo], tuple[list[str], Checks]]) -> bool:
        """Run one scenario, print its timelines and checks; True when every check holds."""
        started = time.monotonic()
        self.out.write(f"\n== {title}\n")
        try:
            order_ids, checks = scenario(self)
        except Exception as exc:  # a scenario that cannot finish is a failed check, not a crash of the demo
            order_ids, checks = [], {f"ran to the end ({type(exc).__name__}: {exc})": False}
        self.env.stack.wait_idle(timeout=60)
        for order_id in order_ids:
            self.print_timeline(order_id)
        for name, passed in checks.items():
            self.out.write(f"   [{'ok' if passed else 'FAILED'}] {name}\n")
        self.out.write(f"   ({time.monotonic() - started:.1f}s)\n")
        return all(checks.values())


# ---------------------------------------------------------------------------- the scenarios
def captured_and_authorized(d: Demo) -> tuple[list[str], Checks]:
    """1 and 2: order 1001 captured (cancel delivered three times), order 1002 only authorized."""
    stock = {"MUG-CER-01": 10, "TEE-RED-M": 4, "TAG-ENG-CUSTOM": 0}
    captured = d.place(1001, [_line(11, "MUG-CER-01", 2, "39.98"), _line(12, "TEE-RED-M", 1, "19.99"),
                              _line(13, "TAG-ENG-CUSTOM", 1, "19.99", custom=True)], stock=stock)
    authorized = d.place(1002, [_line(21, "MUG-CER-01", 1, "25.00")], capture=False, currency="EUR")
    d.env.stack.wait_idle()
    duplicates = d.woo(captured, "cancel-request", times=3)  # the store retries its delivery
    d.woo(authorized, "cancel-request")
    for order in (captured, authorized):
        d.wait_step(order.order_id, "cancelled")
    after = {sku: d.inventory.stock(sku) for sku in stock}
    return [captured.order_id, authorized.order_id], {
        "1001: the cancel request delivered 3 times was recorded once": duplicates == [False, True, True],
        "1001: refunded once, in full (79.96 USD)": d.refunded_once_in_full(captured),
        "1002: authorization voided, nothing refunded":
            stripe.PaymentIntent.retrieve(authorized.pi).status == "canceled" and not d.refunds(authorized.pi),
        "stock back once (MUG +3, TEE +1), custom-made tag untouched":
            after == {"MUG-CER-01": 13, "TEE-RED-M": 5, "TAG-ENG-CUSTOM": 0},
        "both orders cancelled on the store": d.store_status(1001) == d.store_status(1002) == "cancelled",
    }


def withdrawal_during_cooling_off(d: Demo) -> tuple[list[str], Checks]:
    """3: the customer takes the request back inside the window."""
    order = d.place(1003, [_line(31, "LAMP-DESK", 1, "45.00")], stock={"LAMP-DESK": 3})
    with d.cooling_off(10):
        d.woo(order, "cancel-request")
        d.wait_step(order.order_id, "cooling_off_opened")
    d.woo(order, "processing", ("_backout_cancel_withdrawn", "yes"))
    d.wait_step(order.order_id, "cancel_withdrawn")
    return [order.order_id], {
        "withdrawn inside the window: the order is open again": d.status(order.order_id) == "OPEN",
        "nothing refunded, payment untouched":
            not d.refunds(order.pi) and stripe.PaymentIntent.retrieve(order.pi).status == "succeeded",
        "stock unchanged (3)": d.inventory.stock("LAMP-DESK") == 3,
        "the store order still processing": d.store_status(1003) == "processing",
    }


def ozon_request_approved_after_a_wait(d: Demo) -> tuple[list[str], Checks]:
    """4: a buyer's Ozon request; Backout approves it, then waits for Ozon's confirmation push."""
    posting, sku = "DEMO-0004-1", "OZ-KETTLE"
    order_id = f"ozon:{posting}"
    d.inventory.set_stock(sku, 2)
    d.send("ozon/TYPE_POSTING_CANCELLED.json", {
        "message_type": "TYPE_NEW_POSTING", "posting_number": posting, "seller_id": OZON_SAMPLE_SELLER_ID,
        "in_process_at": _stamp(-600) + "Z", "warehouse_id": 1020000043127000, "currency_code": "RUB",
        "products": [{"sku": 147451959, "offer_id": sku, "quantity": 1, "price": "2490.00"}]})
    d.wait_step(order_id, "order_recorded")
    cancellation_id = _ozon_buyer_request(d, posting)
    d.wait_step(order_id, "waiting_for_platform_decision")
    approved_meanwhile = _ozon_state(d, cancellation_id)
    time.sleep(1.0)  # Ozon takes its time (days in production); the saga waits on its task token
    d.send("ozon/TYPE_POSTING_CANCELLED.json", {
        "message_type": "TYPE_POSTING_CANCELLED", "posting_number": posting, "seller_id": OZON_SAMPLE_SELLER_ID,
        "old_state": "awaiting_packaging", "new_state": "cancelled", "changed_state_date": _stamp() + "Z",
        "reason": {"id": 507, "message": "Покупатель передумал"}, "warehouse_id": 1020000043127000,
        "products": [{"sku": 147451959, "quantity": 1}]})
    d.wait_step(order_id, "cancelled")
    steps = d.steps(order_id)
    return [order_id], {
        "Backout approved the buyer's request on Ozon": approved_meanwhile in ("APPROVED", "not checked"),
        "the saga waited for Ozon's confirmation before going on":
            steps.index("waiting_for_platform_decision") < steps.index("platform_cancellation_decided")
            < steps.index("cancelled"),
        "Ozon refunds the buyer itself: no gateway call": "payment_platform_refunds" in steps,
        "stock back once (2 -> 3)": d.inventory.stock(sku) == 3,
        "order cancelled": d.status(order_id) == "CANCELLED",
    }


def _ozon_buyer_request(d: Demo, posting: str) -> int | None:
    """The buyer asks Ozon to cancel; Backout's poller finds the request (Ozon does not push requests)."""
    fake = getattr(d.env, "ozon", None)
    if fake is None:  # a stack without the fake Ozon: the polled item, recorded as the poller would
        _record_polled(d, {"cancellation_id": 4, "posting_number": posting, "cancellation_initiator": "CLIENT",
                           "auto_approve_date": _stamp(2 * 86400) + "Z"})
        return None
    cancellation_id = int(fake.add_cancellation(posting))
    from backout.adapters.ozon import OzonClient
    from backout.ozon_poller import poll

    creds = d.env.secrets["credentials"]
    client = OzonClient(fake.url, str(creds["ozon_client_id"]), str(creds["ozon_api_key"]))
    poll(_PostingLister(client, posting))
    return cancellation_id


@dataclass
class _PostingLister:
    """The poller's view of Ozon narrowed to one posting (the stack may hold other sellers' test requests)."""

    client: Any
    posting: str

    def list_cancellations(self, **filters: Any) -> list[Any]:
        return list(self.client.list_cancellations(**{**filters, "posting_numbers": [self.posting]}))


def _record_polled(d: Demo, item: dict[str, Any]) -> None:
    from backout.dispatch import Dispatcher
    from backout.ingress.normalize import normalize

    body = {"message_type": "TYPE_CANCELLATION_REQUESTED", **item}
    for event in normalize("ozon", body, {}, datetime.now(timezone.utc)):
        Dispatcher().apply(event)


def _ozon_state(d: Demo, cancellation_id: int | None) -> str:
    fake = getattr(d.env, "ozon", None)
    return fake.state(cancellation_id) if fake is not None and cancellation_id is not None else "not checked"


def _shipped(d: Demo, no: int, sku: str, tracking: str, outcome: str) -> WooOrder:
    """A captured order that shipped with ``tracking``, then a cancel request; the saga asks the carrier."""
    order = d.place(no, [_line(no * 10 + 1, sku, 1, "60.00")], stock={sku: 0}, shipped=True)
    d.env.carrier.add_shipment(tracking, "in_transit", outcome)  # type: ignore[arg-type]
    d.scan(order.order_id, tracking, "InTransit")
    d.wait_step(order.order_id, "shipment_scanned")
    d.woo(order, "cancel-request")
    d.wait_step(order.order_id, "waiting_for_carrier")
    return order


def shipped_order_intercepted(d: Demo) -> tuple[list[str], Checks]:
    """5: the carrier intercepts the parcel and returns it to the sender."""
    tracking = "DEMO-TRK-1005"
    order = _shipped(d, 1005, "CHAIR-OAK", tracking, "succeed")
    refunded_in_transit = bool(d.refunds(order.pi))
    d.scan(order.order_id, tracking, "Exception", "Exception_011")  # returned to sender
    d.wait_step(order.order_id, "cancelled")
    intercepts = [e for e in d.env.carrier.effects("intercept") if e["tracking_number"] == tracking]
    return [order.order_id], {
        "one intercept requested, its cost on the timeline": len(intercepts) == 1 and any(
            s["step"] == "intercept_requested" and s["detail"].get("cost") for s in d.repo.timeline(order.order_id)),
        "nothing refunded while the parcel was moving": not refunded_in_transit,
        "refunded once, in full, after the return-to-sender scan": d.refunded_once_in_full(order),
        "stock back once (0 -> 1)": d.inventory.stock("CHAIR-OAK") == 1,
        "cancelled on the store": d.store_status(1005) == "cancelled",
    }


def shipped_order_returned(d: Demo) -> tuple[list[str], Checks]:
    """6: the intercept fails, the parcel is delivered; a return label, then the return scan."""
    tracking = "DEMO-TRK-1006"
    order = _shipped(d, 1006, "RUG-WOOL", tracking, "fail")
    d.scan(order.order_id, tracking, "Delivered")
    d.wait_step(order.order_id, "waiting_for_return")
    label = str((d.repo.get_order(order.order_id) or {}).get("return_tracking_number"))
    refunded_before_return = bool(d.refunds(order.pi))
    d.scan(order.order_id, label, "Delivered")  # the return parcel, delivered back to the seller
    d.wait_step(order.order_id, "cancelled")
    labels = [e for e in d.env.carrier.effects("label") if e["order_id"] == order.order_id]
    return [order.order_id], {
        "one prepaid return label issued": len(labels) == 1 and labels[0]["tracking_number"] == label,
        "nothing refunded before the return scan": not refunded_before_return,
        "refunded once, in full, after the return scan": d.refunded_once_in_full(order),
        "stock back once (0 -> 1)": d.inventory.stock("RUG-WOOL") == 1,
    }


def expired_authorization(d: Demo) -> tuple[list[str], Checks]:
    """7: Stripe lets the authorization lapse and says so (``payment_intent.canceled``, reason automatic)."""
    order = d.place(1007, [_line(71, "BAG-TOTE", 2, "30.00")], capture=False, stock={"BAG-TOTE": 0})
    d.env.stack.wait_idle()
    stripe.PaymentIntent.cancel(order.pi)  # what Stripe does itself after ~7 days
    d.stripe_event("stripe/payment_intent.canceled.json", {
        "id": order.pi, "amount": 6000, "cancellation_reason": "automatic", "canceled_at": int(time.time()),
        "metadata": {"order_id": str(order.no)}})
    d.wait_step(order.order_id, "cancelled")
    return [order.order_id], {
        "the expiry became a system cancellation": "authorization_expired" in d.steps(order.order_id),
        "nothing refunded (the money was never taken)": not d.refunds(order.pi),
        "stock released (0 -> 2)": d.inventory.stock("BAG-TOTE") == 2,
        "cancelled on the store": d.store_status(1007) == "cancelled",
    }


def dispute_freezes_the_refund(d: Demo) -> tuple[list[str], Checks]:
    """8: the customer disputed the charge before asking to cancel: refunding too would pay twice."""
    order = d.place(1008, [_line(81, "WATCH-STEEL", 1, "149.00")], stock={"WATCH-STEEL": 0})
    d.env.stack.wait_idle()
    disputes = getattr(d.env, "stripe_disputes", None)  # localstripe has no disputes: the fake Stripe Disputes API
    dispute_id = f"dp_demo_{order.no}"
    if disputes is not None:
        disputes.open_dispute(order.pi, 14900, "usd", "product_not_received", dispute_id=dispute_id)
    d.stripe_event("stripe/charge.dispute.created.json", {
        "id": dispute_id, "amount": 14900, "payment_intent": order.pi, "metadata": {},
        "reason": "product_not_received"})
    d.wait_step(order.order_id, "dispute_opened")
    d.woo(order, "cancel-request")
    d.wait_step(order.order_id, "held_for_operator")
    record = d.repo.get_order(order.order_id) or {}
    submitted = disputes.disputes[dispute_id]["evidence_details"]["submission_count"] if disputes else 1
    return [order.order_id], {
        "no refund while the dispute is open": not d.refunds(order.pi),
        "held for an operator (PaymentNotAllowed)": record.get("status") == "ON_HOLD"
            and record.get("hold_reason") == "PaymentNotAllowed",
        "evidence bundle kept and submitted once": bool(d.repo.items(order.order_id, "EVIDENCE#")) and submitted == 1,
        "stock untouched until a person decides": d.inventory.stock("WATCH-STEEL") == 0,
    }


SCENARIOS: list[tuple[str, Callable[[Demo], tuple[list[str], Checks]]]] = [
    ("1+2. captured order refunded once (cancel sent 3x), authorized order voided", captured_and_authorized),
    ("3. withdrawal during cooling-off", withdrawal_during_cooling_off),
    ("4. Ozon buyer request approved, Ozon's confirmation awaited", ozon_request_approved_after_a_wait),
    ("5. shipped order intercepted by the carrier", shipped_order_intercepted),
    ("6. shipped order delivered, turned into a return", shipped_order_returned),
    ("7. expired authorization", expired_authorization),
    ("8. dispute freezes the refund", dispute_freezes_the_refund),
]


def run_demo(out: TextIO = sys.stdout, cooling_off_seconds: int = 2, console_port: int = 0, stay: bool = False) -> int:
    """Run every scenario; 0 when every check holds. The operator console runs beside it (``stay``: until Ctrl-C)."""
    started = time.monotonic()
    with LocalEnvironment(parameters={"CoolingOffSeconds": str(cooling_off_seconds)}) as env:
        assert env.stack is not None
        stripe.api_base = env.stripe.url
        stripe.api_key = env.secrets["credentials"]["stripe_api_key"]
        out.write(f"Backout local stack up: API {env.url}, localstripe {env.stripe.url}, store {env.woo.url}\n")
        from backout_dev.console import start_console
        from backout_dev.targets.local import LocalTarget

        console = start_console(LocalTarget(env.url), port=console_port)
        out.write(f"Operator console: {console.url}  (the hold queue, each order's ledger and timeline, the report)\n")
        demo = Demo(env, out)
        passed = [demo.run(title, scenario) for title, scenario in SCENARIOS]
        # The final report (operations) goes here: every scenario has run, the stack is still up.
        __import__("backout_dev.report", fromlist=["report"]).print_stack_report(out)  # rates table + PNG chart
        ok = all(passed)
        out.write(f"\n{sum(passed)}/{len(passed)} scenarios passed; demo {'passed' if ok else 'FAILED'}"
                  f" in {time.monotonic() - started:.1f}s\n")
        out.write(f"Operator console: {console.url}"
                  + ("  (kept up with the stack: Ctrl-C to stop)\n" if stay else "  (rerun with --stay to keep it up)\n"))
        if stay:
            _stay()
        console.stop()
        return 0 if ok else 1


def _stay() -> None:
    """Block until Ctrl-C (``backout demo --stay``)."""
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
