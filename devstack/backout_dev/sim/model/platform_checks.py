"""Marketplace orders: "the days after" and the invariants, judged by the platforms' fakes and the carrier.

The platform holds the money, so money returned is the platform's record (:class:`PlatformLedger`):
Shopify's order cancelled with its payment REFUNDED (or an authorization VOIDED), an Ozon or TikTok
cancellation APPROVED. Kinds as :mod:`backout_dev.sim.model.checks`, plus ``platform_called_twice``
and ``cancelled_not_on_platform`` (the machine's quiet-point invariant).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from backout_dev.sim.model import drive, ledgers
from backout_dev.sim.model.checks import Violation
from backout_dev.sim.model.platforms import carriers, platform
from backout_dev.sim.model.pstory import PlatformStory

ROUNDS = 3


def days_after(env: Any, s: PlatformStory, window: float, send: Callable[..., int],
               at_quiet: Callable[[], None] = lambda: None) -> None:
    """The window closes; then, in rounds: the platform answers what Backout asked, the carrier ends an
    intercept (returned to sender) or delivers the return parcel, the watchdog runs."""
    if s.request_at is not None:
        left = s.request_at + window + 0.5 - time.time()
        if left > 0:
            time.sleep(left)
    drive.wait_quiet(env)
    p = platform(s.channel)
    for _ in range(ROUNDS):
        acted = p.answer(env, s, send)
        at_quiet()
        acted |= _carrier(env, s, send)
        report = drive.watchdog(env)
        if report.get("completed"):
            s.note(f"epilogue: watchdog pass (completed {report['completed']})")
            acted = True
        drive.wait_quiet(env)
        at_quiet()
        if not acted:
            break


def _carrier(env: Any, s: PlatformStory, send: Callable[..., int]) -> bool:
    if not s.tracking or s.channel != "shopify":
        return False
    state = ledgers.carrier_state(env, s.tracking, s.order_id)
    if s.location == "transit" and state["intercepts"]:
        for item in state["intercepts"]:
            if item["status"] == "requested":
                env.carrier.resolve(item["intercept_id"])
        s.location = "back"
        s.note("epilogue: the carrier turns the parcel round")
        send(*carriers.scan(s.carrier_api, s.order_id, s.tracking, "return_to_sender"))
        return True
    if s.location == "buyer" and state["labels"]:
        s.location = "back"
        s.note("epilogue: the buyer sends the parcel back with the label")
        send(*carriers.scan(s.carrier_api, s.order_id, state["labels"][-1]["tracking_number"], "delivered"))
        return True
    return False


def check(env: Any, s: PlatformStory, initial_stock: dict[str, int]) -> list[Violation]:
    """Every invariant for one marketplace order's story."""
    led = platform(s.channel).ledger(env, s)
    status, reason = ledgers.backout_status(s.order_id)
    queued = status == "ON_HOLD" and bool(reason)
    granted = s.granted(queued)
    found: list[tuple[str, str]] = []

    def bad(kind: str, detail: str) -> None:
        found.append((kind, detail))

    returned = led.cancelled and (led.refunded or s.channel != "shopify")
    # money owed: the platform returned the money exactly when the cancellation stands
    if granted is True and not returned and not queued:
        bad("money_owed", "the cancellation stands but the platform has not returned the money")
    if granted is False and led.cancelled and not led.by_platform:
        bad("money_owed", "the cancellation was withdrawn, closed or rejected, yet Backout had the platform cancel")
    if granted is None and status == "CANCELLED" and not returned:
        bad("money_owed", "CANCELLED, but the platform has not returned the money")
    # never paid twice: one cancel / approval per order, never an approval and a rejection
    if led.asked_cancel > 1:
        bad("platform_called_twice", f"Backout asked the platform to cancel {led.asked_cancel} times")
    if led.asked_cancel and led.asked_reject:
        bad("platform_called_twice", "Backout both approved and rejected the request")
    if s.channel == "shopify" and s.shape == "authorized" and led.cancelled and led.state != "VOIDED":
        bad("auth_left_holding", f"the authorized Shopify order was cancelled as {led.state}, not VOIDED")
    # no refund without a request
    if not s.request_sent and (led.asked_cancel or led.cancelled):
        bad("refund_without_request", "the platform was asked to cancel and no request was made")
    # a withdrawal inside its window is honoured
    if s.withdrawal() == "inside" and (status == "CANCELLED" or (led.cancelled and not led.by_platform)):
        bad("withdrawal_ignored", f"withdrawn {s.withdrawal_at - s.request_at:.1f} s after the request "
                                  f"(window {s.window:.0f} s), yet cancelled")
    # stock: exactly once per returned standard line, never custom, never goods that left
    now = ledgers.stock([ln.sku for ln in s.lines])
    for ln in s.lines:
        moved = now[ln.sku] - initial_stock[ln.sku]
        allowed = s.restock_expected(ln, True if status == "CANCELLED" and granted is None else granted)
        if moved not in allowed:
            bad("stock", f"{ln.sku}{' (custom)' if ln.custom else ''} moved {moved:+d}, expected "
                         f"{' or '.join(f'{a:+d}' for a in sorted(allowed))} (goods {s.location})")
    # every request decided or queued, and Backout's status agrees with the story
    if s.request_sent and not (status in ("CANCELLED", "OPEN") or queued):
        bad("undecided", f"the request ended {status}{' without a hold reason' if status == 'ON_HOLD' else ''}: "
                         "neither decided nor in the operator queue")
    if queued and s.decisions and s.decisions[-1]["decision"] == "approve":
        bad("undecided", f"the operator approved, yet the request is back in the operator queue ({reason})")
    if granted is True and status == "OPEN":
        bad("status_mismatch", "the cancellation stands but the order is OPEN")
    if granted is False and status == "CANCELLED":
        bad("status_mismatch", "the cancellation was withdrawn, closed or rejected, yet the order is CANCELLED")
    where = f"{led}; Backout status {status}{' (' + reason + ')' if reason else ''}"
    return [Violation(k, s.order_id, f"{d} | {where}", s.story()) for k, d in found]
