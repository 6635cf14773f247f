"""The hypothesis state machine: one order per example, its providers' events drawn in any order.

Bind it to a running environment with :func:`bind` (the runner does). Each rule
is one thing a provider, the buyer, the carrier, the operator or the scheduler
does; after each the stack is left to go quiet. The teardown plays "the days
after" (:mod:`epilogue`) and checks every invariant; a violation raises an
AssertionError subclass per kind, so hypothesis shrinks each kind on its own.
"""

from __future__ import annotations

import copy
import os
import sys
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from backout_dev.sim.model import drive, ledgers, providers
from backout_dev.sim.model.bodies import SCANS, aftership, woo
from backout_dev.sim.model.checks import Violation, check
from backout_dev.sim.model.epilogue import days_after
from backout_dev.sim.model.story import Line, Story

SHAPES = [("stripe", "captured"), ("stripe", "authorized"), ("paypal", "captured"), ("paypal", "authorized"),
          ("paypal", "auth_1capture"), ("paypal", "auth_2captures")]
_kinds: dict[str, type[AssertionError]] = {}


def violation_error(kind: str) -> type[AssertionError]:
    """One exception class per kind: hypothesis tells bugs apart by type and shrinks each separately."""
    if kind not in _kinds:
        _kinds[kind] = type(f"Violation_{kind}", (AssertionError,), {})
    return _kinds[kind]


class OrderStory(RuleBasedStateMachine):
    """Draws one order's story; see the module docstring. Class attributes are set by :func:`bind`."""

    env: Any = None
    window: float = 4.0
    faults: drive.OneShotFaults | None = None
    found: list[Violation] = []
    examples: int = 0

    def __init__(self) -> None:
        super().__init__()
        self.story: Story | None = None
        self.initial: dict[str, int] = {}

    # ------------------------------------------------------------ helpers
    def _send(self, label: str, event: dict[str, Any], body: dict[str, Any], headers: dict[str, str] | None = None,
              keep: bool = True) -> int:
        status, answer = drive.post_signed(self.env, event, body, headers)
        s = self.story
        assert s is not None
        s.note(f"{label} -> HTTP {status}{' duplicate' if answer.get('duplicate') else ''}")
        if keep:
            s.sent.append((label, event, copy.deepcopy(body), dict(headers or {})))
        drive.wait_quiet(self.env)
        return status

    # ------------------------------------------------------------ the order
    @initialize(shape=st.sampled_from(SHAPES), custom=st.booleans(), pending=st.booleans())
    def place(self, shape: tuple[str, str], custom: bool, pending: bool) -> None:
        type(self).examples += 1
        gateway, kind = shape
        s = self.story = Story(gateway=gateway, shape=kind, window=self.window)
        s.lines = [Line(f"MB-{s.no}-A", 2, 6000)] + ([Line(f"MB-{s.no}-C", 1, 4000, custom=True)] if custom else [])
        providers.take_payment(self.env, s)
        self.env.woo.orders[str(s.no)] = {"id": s.no, "status": "processing"}
        from backout.repo.inventory import InventoryRepository

        for ln in s.lines:
            InventoryRepository().set_stock(ln.sku, 0 if ln.custom else 10)
        self.initial = ledgers.stock([ln.sku for ln in s.lines])
        s.note(f"payment taken: {kind} ({s.captured} captured of {s.total})")
        if pending:
            s.note(providers.hold_refunds(self.env, s, True))

    @rule()
    def order_created(self) -> None:
        s = self.story
        assert s is not None
        event, body = woo(s, "processing", s.stamp() - 3600, topic="order.created")
        self._send("woocommerce order.created", event, body)

    @precondition(lambda self: self.story.location == "warehouse" and self.story.request_at is None)
    @rule()
    def ship(self) -> None:
        s = self.story
        s.tracking = f"MBTRK{s.no}"
        self.env.carrier.add_shipment(s.tracking, "in_transit", "succeed")
        s.location = "transit"
        event, body = woo(s, "completed", s.stamp())
        self._send("woocommerce order.updated completed (shipped)", event, body)
        self._send("aftership InTransit", *aftership(s.order_id, s.tracking, *SCANS["in_transit"]))

    @precondition(lambda self: self.story.location == "transit")
    @rule(scan=st.sampled_from(["in_transit", "delivered", "return_to_sender"]))
    def carrier_scan(self, scan: str) -> None:
        s = self.story
        s.location = {"delivered": "buyer", "return_to_sender": "back"}.get(scan, s.location)
        self._send(f"aftership {scan}", *aftership(s.order_id, s.tracking, *SCANS[scan]))

    @precondition(lambda self: self.story.location == "buyer")
    @rule()
    def return_parcel(self) -> None:
        s = self.story
        labels = ledgers.carrier_state(self.env, s.tracking, s.order_id)["labels"]
        if not labels:
            s.note("return parcel: no return label issued yet (nothing sent)")
            return
        s.location = "back"
        self._send("aftership Delivered (return parcel)", *aftership(s.order_id, labels[-1]["tracking_number"],
                                                                    *SCANS["delivered"]))

    # ------------------------------------------------------------ the buyer
    @precondition(lambda self: not self.story.request_sent)
    @rule()
    def cancel_request(self) -> None:
        s = self.story
        s.request_at = s.request_at or s.stamp()
        s.request_sent = True
        event, body = woo(s, "cancel-request", s.request_at)
        self._send("woocommerce cancel-request", event, body)

    @precondition(lambda self: not self.story.withdrawal_sent)
    @rule()
    def withdraw(self) -> None:
        s = self.story
        before = s.request_at is None
        s.request_at = s.request_at or s.stamp()  # asked just before; that delivery is still on its way
        s.withdrawal_at, s.withdrawal_sent = s.stamp(), True
        event, body = woo(s, "processing", s.withdrawal_at, meta=(("_backout_cancel_withdrawn", "yes"),))
        self._send("woocommerce withdrawal" + (" (delivered before its request)" if before else
                                               f" ({s.withdrawal_at - s.request_at:.1f} s after the request)"),
                   event, body)

    @precondition(lambda self: bool(self.story.sent))
    @rule(i=st.integers(0, 40))
    def duplicate(self, i: int) -> None:
        s = self.story
        label, event, body, headers = s.sent[i % len(s.sent)]
        self._send(f"duplicate of [{label}]", event, body, headers, keep=False)

    # ------------------------------------------------------------ the gateway
    @rule(hold=st.booleans())
    def refunds_pending(self, hold: bool) -> None:
        self.story.note(providers.hold_refunds(self.env, self.story, hold))

    @rule(i=st.integers(0, 3), status=st.sampled_from(["as_is", "succeeded", "failed"]))
    def refund_webhook(self, i: int, status: str) -> None:
        s = self.story
        refunds = ledgers.money(self.env, s.gateway, s.ref, s.currency).refunds
        if not refunds:
            s.note("refund webhook: no refund at the gateway yet (nothing sent)")
            return
        refund = refunds[i % len(refunds)]
        sent = providers.refund_webhook(self.env, s, refund, status)
        if sent is None:
            s.note(f"refund webhook {status}: skipped ({providers.STRIPE_CONTROLS_MISSING})")
            return
        self._send(*sent)

    @precondition(lambda self: self.story.captured > 0 and self.story.dispute is None)
    @rule()
    def dispute_open(self) -> None:
        self._send(*providers.open_dispute(self.env, self.story))

    @precondition(lambda self: (self.story.dispute or {}).get("state") == "open")
    @rule(outcome=st.sampled_from(["won", "lost"]))
    def dispute_close(self, outcome: str) -> None:
        self._send(*providers.close_dispute(self.env, self.story, outcome))

    # ------------------------------------------------------------ the operator and the scheduler
    @rule(decision=st.sampled_from(["approve", "reject"]))
    def operator(self, decision: str) -> None:
        s = self.story
        before = ledgers.money(self.env, s.gateway, s.ref, s.currency)
        code, answer = drive.operator_decision(self.env, s.order_id, decision)
        if code == 200:
            s.decisions.append({"decision": decision, "returned_before": before.refunded + before.voided})
        s.note(f"operator {decision} -> HTTP {code}{'' if code == 200 else ' ' + answer[:80]}")
        drive.wait_quiet(self.env)

    @rule()
    def watchdog_pass(self) -> None:
        report = drive.watchdog(self.env)
        self.story.note(f"watchdog pass (completed {report.get('completed', 0)})")
        drive.wait_quiet(self.env)

    @rule()
    def window_passes(self) -> None:
        import time

        time.sleep(self.window + 0.5)
        self.story.note(f"{self.window + 0.5:.1f} s pass (the cooling-off window closes)")
        drive.wait_quiet(self.env)

    @rule(kind=st.sampled_from(["lost_answer", "crash_payments", "crash_inventory"]), k=st.integers(1, 4))
    def fault(self, kind: str, k: int) -> None:
        self.story.note(providers.arm_fault(self.env, self.story, self.faults, kind, k))

    # ------------------------------------------------------------ at every quiet point
    @invariant()
    def cancelled_means_settled(self) -> None:
        """CANCELLED is the promise kept: no refund still pending, no authorization still holding money."""
        s = self.story
        if s is None or ledgers.backout_status(s.order_id)[0] != "CANCELLED":
            return
        m = ledgers.money(self.env, s.gateway, s.ref, s.currency)
        if m.pending or m.held:
            v = Violation("cancelled_unsettled", s.order_id, f"CANCELLED while {m.pending} is pending and {m.held} "
                          f"held at the gateway; refunds {m.refunds}", s.story())
            self.found.append(v)
            raise violation_error(v.kind)(str(v))

    # ------------------------------------------------------------ the end
    def teardown(self) -> None:
        s = self.story
        if s is None:
            return
        try:
            days_after(self.env, s, self.window)
            violations = check(self.env, s, self.initial)
            if os.environ.get("BACKOUT_MODEL_DEBUG"):
                print(f"[model] {len(violations)} violation(s)\n{s.story()}", file=sys.stderr, flush=True)
        finally:
            providers.reset(self.env, self.faults)
        if violations:
            self.found.extend(violations)
            first = violations[0]
            raise violation_error(first.kind)("\n".join(str(v) for v in violations))


def bind(env: Any, window: float, faults: drive.OneShotFaults) -> type[OrderStory]:
    """A subclass of :class:`OrderStory` bound to a running environment."""
    return type("BoundOrderStory", (OrderStory,), {"env": env, "window": window, "faults": faults, "found": [],
                                                   "examples": 0})
