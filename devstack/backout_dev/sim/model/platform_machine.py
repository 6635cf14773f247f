"""The hypothesis state machine for marketplace orders: Shopify, Ozon, TikTok Shop, and the carriers.

As :mod:`backout_dev.sim.model.machine` (staged plan, drawn rules, quiescence after each step, the
epilogue and the checks at teardown), for one order whose platform holds the money. ``place`` draws the
platform, the payment (Shopify: paid or only authorized), a custom-made line (Shopify), which tracking
service reports the parcel (AfterShip or EasyPost) and the buyer's plan. The drawn rules: the order ships
(Shopify: ``orders/updated`` fulfilled + a fulfillment event; Ozon: ``TYPE_STATE_CHANGED``), fulfillment
events and carrier scans of every kind (``Exception_010`` on its way back vs ``Exception_011`` back),
the platform answers what Backout asked (Shopify ``orders/cancelled`` + ``refunds/create``, Ozon
``TYPE_POSTING_CANCELLED``, TikTok approved + ``ORDER_STATUS_CHANGE`` CANCELLED), the platform decides on
its own (Ozon at the request's deadline, TikTok's system), Ozon's poller runs again, webhooks that change
nothing, re-deliveries, the operator, the watchdog, lost answers and crashed Lambdas.
"""

from __future__ import annotations

import copy
import os
import sys
import time
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from backout_dev.sim.model import drive, ledgers
from backout_dev.sim.model.checks import Violation
from backout_dev.sim.model.machine import BUYER_PLANS, drawn, no_swarm, violation_error
from backout_dev.sim.model.platforms import carriers, platform
from backout_dev.sim.model.platform_checks import check, days_after
from backout_dev.sim.model.pstory import PlatformStory, new_story

CHANNELS = ["shopify", "ozon", "tiktok", "shopify", "ozon", "tiktok", "shopify"]
#: Whether the order ships before anything else, per channel: Shopify's in 3 of 5 (the carrier's part:
#: intercepts, returns, every kind of scan), Ozon's in 1 of 5 (its buyer's request is then rejected)
SHIP_FIRST = {"shopify": 3, "ozon": 1, "tiktok": 0}


def _is(test: Any) -> Any:
    return lambda self: self.story is not None and bool(test(self.story))


class PlatformOrderStory(RuleBasedStateMachine):
    env: Any = None
    window: float = 4.0
    faults: drive.OneShotFaults | None = None
    found: list[Violation] = []
    examples: int = 0
    collect: bool = False

    def __init__(self) -> None:
        super().__init__()
        self.story: PlatformStory | None = None
        self.initial: dict[str, int] = {}
        self.plan: list[tuple[int, str]] = []
        self.events = 0
        self.status = ("", "")
        self.buyer = ""
        self.mismatch_seen = False
        no_swarm(self)

    @property
    def p(self) -> Any:
        assert self.story is not None
        return platform(self.story.channel)

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
        while self.plan and (everything or self.plan[0][0] <= self.events):
            _, step = self.plan.pop(0)
            getattr(self, step)()

    def planned(self, step: str) -> bool:
        return any(name == step for _, name in self.plan)

    # ------------------------------------------------------------ the order and the buyer's plan
    @initialize(channel=st.sampled_from(CHANNELS), paid=st.sampled_from([True, True, False]), custom=st.booleans(),
                buyer=st.sampled_from(BUYER_PLANS), pre=st.integers(0, 2), gap=st.integers(0, 2),
                created=st.sampled_from(["first", "first", "first", "after_request"]),
                ship=st.integers(0, 4), api=st.sampled_from(["aftership", "easypost"]))
    def place(self, channel: str, paid: bool = True, custom: bool = False, buyer: str = "", pre: int = 0,
              gap: int = 0, created: str = "first", ship: int = 4, api: str = "aftership") -> None:
        type(self).examples += 1
        p = platform(channel)
        ship_first = ship < SHIP_FIRST[channel]
        self.buyer = buyer if p.withdrawable or not buyer.startswith("withdraw") else "request"
        if channel == "tiktok" and self.buyer == "withdraw_before":
            self.buyer = "withdraw_inside"  # TikTok's buyer closes a request that exists at TikTok
        shape = "paid" if paid or "authorized" not in p.shapes else "authorized"
        s = self.story = new_story(channel, shape, self.window, custom)
        s.carrier_api = api
        from backout.repo.inventory import InventoryRepository

        for ln in s.lines:
            InventoryRepository().set_stock(ln.sku, 0 if ln.custom else 10)
        self.initial = ledgers.stock([ln.sku for ln in s.lines])
        p.place(self.env, s, self._send)
        s.note(f"order placed at {channel} ({shape}); parcel reported by {api}")
        plan: list[tuple[int, str]] = [(0, "order_created")] if created == "first" else []
        if ship_first and p.shippable:
            plan.append((0, "ship"))
        if self.buyer and self.buyer != "drawn":
            s.plan = f"{self.buyer}, request after {pre} drawn event(s), window closes {gap} later" + (
                ", order known after the request" if created == "after_request" else "") + (
                ", shipped first" if ship_first and p.shippable else "")
            plan += [(pre, "withdraw")] if self.buyer == "withdraw_before" else []
            plan += [(pre, "cancel_request")]
            plan += [(pre, "withdraw")] if self.buyer == "withdraw_inside" else []
            plan += [(pre, "order_created")] if created == "after_request" else []
            plan += [(pre + gap, "window_passes")]
            plan += [(pre + gap, "withdraw")] if self.buyer == "withdraw_after" else []
        elif self.buyer == "drawn":
            s.plan = "drawn (request, window and withdrawal are drawn rules)"
            plan += [(pre, "order_created")] if created == "after_request" else []
        self.plan = sorted(plan, key=lambda x: x[0])
        self._advance()

    def order_created(self) -> None:
        self.p.created(self.env, self.story, self._send)

    @precondition(lambda self: self.buyer == "drawn" and not self.story.request_sent)
    @rule()
    @drawn
    def cancel_request(self) -> None:
        s = self.story
        if s.location != "warehouse" and not s.request_at:
            s.shipped_before_request = True
        s.request_at = s.request_at or s.stamp()
        s.request_sent = True
        self.p.request(self.env, s, self._send)
        drive.wait_quiet(self.env)

    @precondition(lambda self: self.story is not None and platform(self.story.channel).withdrawable
                  and not self.story.withdrawal_sent and self.buyer in ("", "request", "drawn"))
    @rule()
    @drawn
    def withdraw(self) -> None:
        s = self.story
        if not self.p.withdrawable:
            return
        s.request_at = s.request_at or s.stamp()
        at = s.stamp()
        said = self.p.withdraw(self.env, s, self._send)
        if "nothing sent" in said:
            s.note(said)
            return
        s.withdrawal_at, s.withdrawal_sent = at, True
        s.note(said + (" (delivered before its request)" if not s.request_sent else
                       f" ({s.withdrawal_at - s.request_at:.1f} s after the request)"))

    @precondition(lambda self: self.story is not None and self.story.request_sent and not self.story.window_passed
                  and not self.planned("window_passes"))
    @rule()
    @drawn
    def window_passes(self) -> None:
        s = self.story
        left = (s.request_at or time.time()) + self.window + 0.5 - time.time()
        if left > 0:
            time.sleep(left)
        s.window_passed = True
        s.note(f"{max(left, 0):.1f} s pass (the cooling-off window closes)")
        drive.wait_quiet(self.env)

    # ------------------------------------------------------------ the goods
    @precondition(_is(lambda s: platform(s.channel).shippable and s.location == "warehouse" and s.request_at is None))
    @rule()
    @drawn
    def ship(self) -> None:
        s = self.story
        self.p.ship(self.env, s, self._send)
        s.location = "transit"

    @precondition(lambda self: self.story is not None and self.story.channel == "shopify"
                  and self.story.location == "warehouse" and self.story.request_sent and not self.story.window_passed
                  and not self.p.ledger(self.env, self.story).cancelled)
    @rule()
    @drawn
    def ship_during_window(self) -> None:
        """The warehouse ships while the request's cooling-off window is open (Shopify knows nothing of it)."""
        s = self.story
        self.p.ship(self.env, s, self._send)
        s.location = "transit"

    @precondition(_is(lambda s: s.channel == "shopify" and s.location == "transit"))
    @rule(name=st.sampled_from(sorted(carriers.SCANS)), via=st.sampled_from(["carrier", "carrier", "shopify"]))
    @drawn
    def carrier_scan(self, name: str, via: str = "carrier") -> None:
        """The carrier (through the story's tracking service) or Shopify's fulfillment event reports the parcel."""
        s = self.story
        if via == "shopify" and name in ("in_transit", "out_for_delivery", "delivered", "attempt_fail"):
            self.p.fulfillment_event(self.env, s, self._send, {"attempt_fail": "attempted_delivery"}.get(name, name))
        else:
            self._send(*carriers.scan(s.carrier_api, s.order_id, s.tracking, name))
        s.location = carriers.WHERE[name] if s.location == "transit" else s.location

    @precondition(_is(lambda s: s.channel == "ozon" and s.location == "transit"))
    @rule(i=st.integers(0, 2))
    @drawn
    def posting_moves(self, i: int) -> None:
        from backout_dev.sim.model.platforms.ozon import LEFT

        self.p.state_changed(self.env, self.story, self._send, LEFT[i])

    @precondition(lambda self: self.story is not None and self.story.location == "buyer"
                  and bool(ledgers.carrier_state(self.env, self.story.tracking, self.story.order_id)["labels"]))
    @rule()
    @drawn
    def return_parcel(self) -> None:
        s = self.story
        label = ledgers.carrier_state(self.env, s.tracking, s.order_id)["labels"][-1]["tracking_number"]
        s.location = "back"
        self._send(*carriers.scan(s.carrier_api, s.order_id, label, "delivered"))

    # ------------------------------------------------------------ the platform
    @precondition(lambda self: self.story is not None and self.story.request_sent and not self.story.answered
                  and self.p.ledger(self.env, self.story).cancelled)
    @rule()
    @drawn
    def platform_answers(self) -> None:
        if not self.p.answer(self.env, self.story, self._send):
            self.story.note(f"{self.story.channel}: nothing to answer yet")

    @precondition(lambda self: self.story is not None and not self.story.platform_decided
                  and not self.story.shipped_before_request and self.p.pending(self.env, self.story))
    @rule()
    @drawn
    def platform_decides(self) -> None:
        if not self.p.own_move(self.env, self.story, self._send):
            self.story.note(f"{self.story.channel}: the request is decided already (nothing to do)")

    @precondition(_is(lambda s: s.channel == "ozon" and bool(s.cancel_id)))
    @rule()
    @drawn
    def ozon_poll(self) -> None:
        self.p.poll(self.env, self.story, self._send)
        drive.wait_quiet(self.env)

    @precondition(_is(lambda s: True))
    @rule(i=st.integers(0, 5))
    @drawn
    def noise(self, i: int) -> None:
        self.p.noise(self.env, self.story, self._send, i)

    @precondition(_is(lambda s: bool(s.sent)))
    @rule(i=st.integers(0, 40))
    @drawn
    def duplicate(self, i: int) -> None:
        s = self.story
        label, event, body, headers = s.sent[i % len(s.sent)]
        self._send(f"duplicate of [{label}]", event, body, headers, keep=False)

    # ------------------------------------------------------------ the operator and the scheduler
    @precondition(lambda self: self.status[0] == "ON_HOLD")
    @rule(decision=st.sampled_from(["approve", "reject"]))
    @drawn
    def operator(self, decision: str) -> None:
        s = self.story
        code, answer = drive.operator_decision(self.env, s.order_id, decision)
        if code == 200:
            s.decisions.append({"decision": decision, "returned_before": 0})
        s.note(f"operator {decision} -> HTTP {code}{'' if code == 200 else ' ' + answer[:80]}")
        drive.wait_quiet(self.env)

    @rule()
    @drawn
    def watchdog_pass(self) -> None:
        report = drive.watchdog(self.env)
        self.story.note(f"watchdog pass (completed {report.get('completed', 0)})")
        drive.wait_quiet(self.env)

    @precondition(_is(lambda s: sum(x.startswith("fault armed") for x in s.log) < 2))
    @rule(kind=st.sampled_from(["lost_answer", "crash_platforms", "crash_inventory", "crash_orders"]),
          k=st.integers(1, 4))
    @drawn
    def fault(self, kind: str, k: int) -> None:
        s = self.story
        if kind == "lost_answer":
            s.note(self.p.lose_answer(self.env, s))
            return
        function = {"crash_platforms": "PlatformsFunction", "crash_inventory": "InventoryFunction",
                    "crash_orders": "OrdersFunction"}[kind]
        self.faults.arm("lambda_crash", function, k)
        s.note(f"fault armed: the next {function} invocation dies at its call #{k}")

    # ------------------------------------------------------------ at every quiet point
    @invariant()
    def cancelled_means_the_platform_cancelled(self) -> None:
        """CANCELLED is the promise kept: the platform that holds the money has cancelled (and so refunded)."""
        s = self.story
        if s is None:
            return
        self.status = ledgers.backout_status(s.order_id)
        if self.status[0] != "CANCELLED" or self.mismatch_seen:
            return
        led = self.p.ledger(self.env, s)
        if led.cancelled:
            return
        self.mismatch_seen = True
        self._found([Violation("cancelled_not_on_platform", s.order_id,
                               f"CANCELLED while the platform has not cancelled the order; {led}", s.story())])

    # ------------------------------------------------------------ the end
    def teardown(self) -> None:
        s = self.story
        if s is None:
            return
        violations: list[Violation] = []
        try:
            self._advance(everything=True)
            days_after(self.env, s, self.window, self._send, at_quiet=self.cancelled_means_the_platform_cancelled)
            violations = check(self.env, s, self.initial)
            if os.environ.get("BACKOUT_MODEL_DEBUG"):
                print(f"[model] {len(violations)} violation(s)\n{s.story()}", file=sys.stderr, flush=True)
        finally:
            from backout_dev.sim.model.providers import reset

            reset(self.env, self.faults)
            for fake in (self.env.shopify, self.env.ozon, self.env.tiktok):
                fake.clear_faults()
        self._found(violations)


def bind(env: Any, window: float, faults: drive.OneShotFaults, collect: bool = False) -> type[PlatformOrderStory]:
    return type("BoundPlatformOrderStory", (PlatformOrderStory,), {
        "env": env, "window": window, "faults": faults, "found": [], "examples": 0, "collect": collect})
