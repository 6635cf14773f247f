"""The hypothesis state machine: one order per example, its providers' events drawn in any order.

Bind it to a running environment with :func:`bind` (the runner does). An example is staged:

* ``place`` (``@initialize``) draws the payment (shapes weighted towards several captures, refunds
  mostly held pending at the gateway) and the buyer's plan (:data:`BUYER_PLANS`): when the cancel
  request is delivered (after ``pre`` drawn events), whether a withdrawal comes before its request,
  inside the window or after it, when the window closes (``gap`` drawn events after the request),
  and whether the store's ``order.created`` comes first or after the request;
* every other step is a drawn rule (the store, the carrier, the gateway, disputes, the operator, the
  scheduler, re-deliveries, faults); after each, the plan's steps that are due run (:meth:`_advance`),
  so the request and the window never depend on hypothesis's swarm of enabled rules;
* preconditions keep out the steps that would do nothing (a refund webhook with no refund at the
  gateway, an operator decision on an order that is not held, a second window).

After each step the stack is left to go quiet. The teardown plays the rest of the plan, "the days
after" (:mod:`epilogue`, with the quiet-point invariant after each refund settles) and checks every
invariant; a violation raises an AssertionError subclass per kind, so hypothesis shrinks each kind on
its own, unless the machine is bound with ``collect=True`` (every violation recorded, none raised,
so a run without shrinking goes on drawing after the first).
"""

from __future__ import annotations

import copy
import functools
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from backout_dev.sim.model import drive, ledgers, providers
from backout_dev.sim.model.bodies import SCANS, aftership, woo
from backout_dev.sim.model.checks import Violation, check
from backout_dev.sim.model.epilogue import days_after
from backout_dev.sim.model.ledgers import Money
from backout_dev.sim.model.story import Line, Story

SHAPES = [("stripe", "captured"), ("stripe", "authorized"), ("paypal", "captured"), ("paypal", "authorized"),
          ("paypal", "auth_1capture"), ("paypal", "auth_2captures")]
#: The shapes as drawn: two partial captures (two refunds to wait for) four times in ten.
DRAWN_SHAPES = [("paypal", "auth_2captures"), ("stripe", "captured"), ("paypal", "auth_2captures"),
                ("paypal", "captured"), ("paypal", "auth_2captures"), ("stripe", "authorized"),
                ("paypal", "auth_1capture"), ("paypal", "auth_2captures"), ("stripe", "captured"),
                ("paypal", "authorized")]
#: The buyer's part: ``request`` (a cancel request, nothing withdrawn), ``withdraw_before`` (the withdrawal
#: is delivered before its request), ``withdraw_inside`` (right after the request), ``withdraw_after`` (once
#: the window closed), ``drawn`` (the request, the window and a withdrawal are drawn rules, or never happen).
BUYER_PLANS = ["request", "withdraw_before", "request", "withdraw_inside", "withdraw_before", "withdraw_after",
               "request", "drawn"]
_kinds: dict[str, type[AssertionError]] = {}


def violation_error(kind: str) -> type[AssertionError]:
    """One exception class per kind: hypothesis tells bugs apart by type and shrinks each separately."""
    if kind not in _kinds:
        _kinds[kind] = type(f"Violation_{kind}", (AssertionError,), {})
    return _kinds[kind]


def drawn(fn: Callable[..., None]) -> Callable[..., None]:
    """A drawn event: after it, the plan's steps that are due (:meth:`OrderStory._advance`)."""

    @functools.wraps(fn)
    def step(self: OrderStory, **kwargs: Any) -> None:
        fn(self, **kwargs)
        self.events += 1
        self._advance()

    return step


def no_swarm(machine: RuleBasedStateMachine) -> None:
    """Every rule enabled in every example (hypothesis's swarm testing off for this machine).

    Swarm testing disables a random share of the rules per example; with preconditions that leave two or
    three rules valid at a time it often disabled all of them, and the example was thrown away as invalid
    after its cooling-off window had been paid for (4 of 12 in the default run). The staged plan gives the
    diversity instead. Uses hypothesis's ``RuleStrategy.enabled_rules_strategy`` (6.x); without it, no-op."""
    from hypothesis.strategies._internal.featureflags import FeatureFlags

    strategy = getattr(machine, "_rules_strategy", None)
    if strategy is not None and hasattr(strategy, "enabled_rules_strategy"):
        strategy.enabled_rules_strategy = st.just(FeatureFlags())


def story_is(test: Callable[[Story], bool]) -> Callable[[OrderStory], bool]:
    return lambda self: self.story is not None and bool(test(self.story))


class OrderStory(RuleBasedStateMachine):
    """Draws one order's story; see the module docstring. Class attributes are set by :func:`bind`."""

    env: Any = None
    window: float = 4.0
    faults: drive.OneShotFaults | None = None
    found: list[Violation] = []
    examples: int = 0
    collect: bool = False

    def __init__(self) -> None:
        super().__init__()
        self.story: Story | None = None
        self.initial: dict[str, int] = {}
        self.plan: list[tuple[int, str]] = []  # (due after this many drawn events, method)
        self.events = 0
        self.money = Money()  # the gateway's ledger at the last quiet point (for the preconditions)
        self.status = ("", "")  # Backout's status and hold reason at the last quiet point
        self.unsettled_seen = False
        self.buyer = ""  # the buyer's plan (BUYER_PLANS); empty when the caller drives every step
        no_swarm(self)

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

    def _found(self, violations: list[Violation]) -> None:
        self.found.extend(violations)
        if violations and not self.collect:
            raise violation_error(violations[0].kind)("\n".join(str(v) for v in violations))

    def _advance(self, everything: bool = False) -> None:
        """Run the plan's steps that are due (all of them at the end of the story)."""
        while self.plan and (everything or self.plan[0][0] <= self.events):
            _, step = self.plan.pop(0)
            getattr(self, step)()

    # ------------------------------------------------------------ the order and the buyer's plan
    @initialize(shape=st.sampled_from(DRAWN_SHAPES), custom=st.booleans(), pending=st.sampled_from([True, True, False]),
                buyer=st.sampled_from(BUYER_PLANS), pre=st.integers(0, 2), gap=st.integers(0, 2),
                created=st.sampled_from(["first", "first", "first", "after_request"]))
    def place(self, shape: tuple[str, str], custom: bool, pending: bool, buyer: str = "", pre: int = 0, gap: int = 0,
              created: str = "") -> None:
        """The payment at the gateway; the buyer's plan (empty: every step is called by the caller, as in
        :mod:`stories`)."""
        type(self).examples += 1
        self.buyer = buyer
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
            s.refunds_held = True
            s.note(providers.hold_refunds(self.env, s, True))
        plan: list[tuple[int, str]] = [(0, "order_created")] if created == "first" else []
        if buyer and buyer != "drawn":
            s.plan = f"{buyer}, request after {pre} drawn event(s), window closes {gap} later" + (
                ", order.created after the request" if created == "after_request" else "")
            plan += [(pre, "withdraw")] if buyer == "withdraw_before" else []
            plan += [(pre, "cancel_request")]
            plan += [(pre, "withdraw")] if buyer == "withdraw_inside" else []
            plan += [(pre, "order_created")] if created == "after_request" else []
            plan += [(pre + gap, "window_passes")]
            plan += [(pre + gap, "withdraw")] if buyer == "withdraw_after" else []
        elif buyer == "drawn":
            s.plan = "drawn (request, window and withdrawal are drawn rules)"
            plan += [(pre, "order_created")] if created == "after_request" else []
        self.plan = sorted(plan, key=lambda p: p[0])  # stable: same-time steps keep their order
        self._advance()

    def order_created(self) -> None:
        s = self.story
        assert s is not None
        event, body = woo(s, "processing", s.stamp() - 3600, topic="order.created")
        self._send("woocommerce order.created", event, body)

    def planned(self, step: str) -> bool:
        return any(name == step for _, name in self.plan)

    @precondition(lambda self: self.buyer == "drawn" and not self.story.request_sent)
    @rule()
    @drawn
    def cancel_request(self) -> None:
        s = self.story
        s.request_at = s.request_at or s.stamp()
        s.request_sent = True
        event, body = woo(s, "cancel-request", s.request_at)
        self._send("woocommerce cancel-request", event, body)

    @precondition(lambda self: self.story is not None and not self.story.withdrawal_sent
                  and self.buyer in ("", "request", "drawn"))
    @rule()
    @drawn
    def withdraw(self) -> None:
        s = self.story
        before = s.request_at is None
        s.request_at = s.request_at or s.stamp()  # asked just before; that delivery is still on its way
        s.withdrawal_at, s.withdrawal_sent = s.stamp(), True
        event, body = woo(s, "processing", s.withdrawal_at, meta=(("_backout_cancel_withdrawn", "yes"),))
        self._send("woocommerce withdrawal" + (" (delivered before its request)" if before else
                                               f" ({s.withdrawal_at - s.request_at:.1f} s after the request)"),
                   event, body)

    @precondition(lambda self: self.story is not None and self.story.request_sent and not self.story.window_passed
                  and not self.planned("window_passes"))
    @rule()
    @drawn
    def window_passes(self) -> None:
        """Time passes until the request's cooling-off window has closed (the rest of it, not a fixed sleep)."""
        s = self.story
        left = (s.request_at or time.time()) + self.window + 0.5 - time.time()
        if left > 0:
            time.sleep(left)
        s.window_passed = True
        s.note(f"{max(left, 0):.1f} s pass (the cooling-off window closes)")
        drive.wait_quiet(self.env)

    # ------------------------------------------------------------ the store and the carrier
    @precondition(story_is(lambda s: s.location == "warehouse" and s.request_at is None))
    @rule()
    @drawn
    def ship(self) -> None:
        s = self.story
        s.tracking = f"MBTRK{s.no}"
        self.env.carrier.add_shipment(s.tracking, "in_transit", "succeed")
        s.location = "transit"
        event, body = woo(s, "completed", s.stamp())
        self._send("woocommerce order.updated completed (shipped)", event, body)
        self._send("aftership InTransit", *aftership(s.order_id, s.tracking, *SCANS["in_transit"]))

    @precondition(story_is(lambda s: s.location == "transit"))
    @rule(scan=st.sampled_from(["delivered", "return_to_sender", "in_transit"]))
    @drawn
    def carrier_scan(self, scan: str) -> None:
        s = self.story
        s.location = {"delivered": "buyer", "return_to_sender": "back"}.get(scan, s.location)
        self._send(f"aftership {scan}", *aftership(s.order_id, s.tracking, *SCANS[scan]))

    @precondition(lambda self: self.story is not None and self.story.location == "buyer"
                  and bool(ledgers.carrier_state(self.env, self.story.tracking, self.story.order_id)["labels"]))
    @rule()
    @drawn
    def return_parcel(self) -> None:
        s = self.story
        labels = ledgers.carrier_state(self.env, s.tracking, s.order_id)["labels"]
        s.location = "back"
        self._send("aftership Delivered (return parcel)", *aftership(s.order_id, labels[-1]["tracking_number"],
                                                                    *SCANS["delivered"]))

    @precondition(story_is(lambda s: bool(s.sent)))
    @rule(i=st.integers(0, 40))
    @drawn
    def duplicate(self, i: int) -> None:
        s = self.story
        label, event, body, headers = s.sent[i % len(s.sent)]
        self._send(f"duplicate of [{label}]", event, body, headers, keep=False)

    # ------------------------------------------------------------ the gateway
    @precondition(story_is(lambda s: sum("new refunds" in x for x in s.log) < 3))
    @rule()
    @drawn
    def refunds_pending(self) -> None:
        """New refunds start pending at the gateway from now on, or (toggled back) settle at once."""
        s = self.story
        s.refunds_held = not s.refunds_held
        s.note(providers.hold_refunds(self.env, s, s.refunds_held))

    @precondition(lambda self: bool(self.money.refunds))
    @rule(i=st.integers(0, 3), status=st.sampled_from(["succeeded", "as_is", "failed", "succeeded", "canceled"]),
          name=st.sampled_from(["refund.updated", "charge.refund.updated"]))
    @drawn
    def refund_webhook(self, i: int, status: str, name: str = "refund.updated") -> None:
        s = self.story
        refunds = ledgers.money(self.env, s.gateway, s.ref, s.currency).refunds
        if not refunds:
            s.note("refund webhook: no refund at the gateway yet (nothing sent)")
            return
        refund = refunds[i % len(refunds)]
        sent = providers.refund_webhook(self.env, s, refund, status, name)
        if sent is None:
            s.note(f"refund webhook {status}: skipped ({providers.STRIPE_CONTROLS_MISSING})")
            return
        self._send(*sent)

    @precondition(story_is(lambda s: s.captured > 0 and s.dispute is None))
    @rule()
    @drawn
    def dispute_open(self) -> None:
        s = self.story
        m = ledgers.money(self.env, s.gateway, s.ref, s.currency)
        self._send(*providers.open_dispute(self.env, s))
        s.dispute["after_refund"] = bool(m.refunded or m.pending)

    @precondition(story_is(lambda s: (s.dispute or {}).get("state") == "open"))
    @rule(outcome=st.sampled_from(["won", "lost"]))
    @drawn
    def dispute_close(self, outcome: str) -> None:
        """The bank decides. A dispute opened once money had gone back (refunded or on its way) is won:
        the refund is the merchant's evidence, and Backout cannot stop a bank paying the buyer twice."""
        if self.story.dispute.get("after_refund") and outcome == "lost":
            outcome = "won"
            self.story.note("dispute: opened after a refund, so the bank decides it won (the refund is the evidence)")
        self._send(*providers.close_dispute(self.env, self.story, outcome))

    @precondition(story_is(lambda s: s.gateway == "stripe" and (s.dispute or {}).get("state") == "lost"
                           and not s.dispute.get("withdrawn")))
    @rule()
    @drawn
    def dispute_funds_withdrawn(self) -> None:
        self.story.dispute["withdrawn"] = True
        self._send(*providers.funds_withdrawn(self.env, self.story))

    # ------------------------------------------------------------ the operator and the scheduler
    @precondition(lambda self: self.status[0] == "ON_HOLD")
    @rule(decision=st.sampled_from(["approve", "reject"]))
    @drawn
    def operator(self, decision: str) -> None:
        s = self.story
        before = ledgers.money(self.env, s.gateway, s.ref, s.currency)
        code, answer = drive.operator_decision(self.env, s.order_id, decision)
        if code == 200:
            s.decisions.append({"decision": decision, "returned_before": before.refunded + before.voided})
        s.note(f"operator {decision} -> HTTP {code}{'' if code == 200 else ' ' + answer[:80]}")
        drive.wait_quiet(self.env)

    @rule()
    @drawn
    def watchdog_pass(self) -> None:
        report = drive.watchdog(self.env)
        self.story.note(f"watchdog pass (completed {report.get('completed', 0)})")
        drive.wait_quiet(self.env)

    @precondition(story_is(lambda s: sum(x.startswith("fault armed") for x in s.log) < 2))
    @rule(kind=st.sampled_from(["lost_answer", "crash_payments", "crash_inventory"]), k=st.integers(1, 4))
    @drawn
    def fault(self, kind: str, k: int) -> None:
        self.story.note(providers.arm_fault(self.env, self.story, self.faults, kind, k))

    # ------------------------------------------------------------ at every quiet point
    @invariant()
    def cancelled_means_settled(self) -> None:
        """CANCELLED is the promise kept: no refund still pending, no authorization still holding money."""
        s = self.story
        if s is None:
            return
        self.status = ledgers.backout_status(s.order_id)
        m = self.money = ledgers.money(self.env, s.gateway, s.ref, s.currency)
        if self.status[0] != "CANCELLED" or not (m.pending or m.held) or self.unsettled_seen:
            return
        self.unsettled_seen = True
        self._found([Violation("cancelled_unsettled", s.order_id, f"CANCELLED while {m.pending} is pending and "
                               f"{m.held} held at the gateway; refunds {m.refunds}", s.story())])

    # ------------------------------------------------------------ the end
    def teardown(self) -> None:
        s = self.story
        if s is None:
            return
        violations: list[Violation] = []
        try:
            self._advance(everything=True)
            days_after(self.env, s, self.window, at_quiet=self.cancelled_means_settled)
            violations = check(self.env, s, self.initial)
            if os.environ.get("BACKOUT_MODEL_DEBUG"):
                print(f"[model] {len(violations)} violation(s)"
                      f"{' + cancelled_unsettled' if self.unsettled_seen else ''}\n{s.story()}",
                      file=sys.stderr, flush=True)
        finally:
            providers.reset(self.env, self.faults)
        self._found(violations)


def bind(env: Any, window: float, faults: drive.OneShotFaults, collect: bool = False) -> type[OrderStory]:
    """A subclass of :class:`OrderStory` bound to a running environment (``collect``: record, never raise)."""
    return type("BoundOrderStory", (OrderStory,), {"env": env, "window": window, "faults": faults, "found": [],
                                                   "examples": 0, "collect": collect})
