""""The days after" a story, before the checks: the window closes, the providers say what they still owe.

In rounds, until nothing is left to say (at most :data:`ROUNDS`): a pending refund
settles (COMPLETED / succeeded) and the gateway reports it, one refund at a time with a quiet
point (and the machine's invariant) after each; a refund whose last
webhook is older than its status is reported; the carrier ends an open intercept
(returned to sender) and delivers a return parcel whose label was issued; the
watchdog runs. Each action goes on the story's log, prefixed ``epilogue:``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from backout_dev.sim.model import drive, ledgers, providers
from backout_dev.sim.model.bodies import SCANS, aftership
from backout_dev.sim.model.story import Story

ROUNDS = 3


def days_after(env: Any, s: Story, window: float, at_quiet: Callable[[], None] = lambda: None) -> None:
    """``at_quiet`` runs at each quiet point: after each refund settles (one at a time, as banks settle them)."""
    if s.request_at is not None:
        left = s.request_at + window + 0.5 - time.time()
        if left > 0:
            time.sleep(left)
    drive.wait_quiet(env)
    reported: set[tuple[str, str]] = set()
    for _ in range(ROUNDS):
        acted = False
        for refund in ledgers.money(env, s.gateway, s.ref, s.currency).refunds:
            pending = refund["status"] in ("PENDING", "pending")
            if (refund["id"], refund["status"]) in reported and not pending:
                continue
            sent = providers.refund_webhook(env, s, refund, "succeeded" if pending else "as_is")
            if sent is None:
                continue
            label, event, body, headers = sent
            status, _ = drive.post_signed(env, event, body, headers)
            s.note(f"epilogue: {label} -> HTTP {status}")
            drive.wait_quiet(env)
            at_quiet()
            obj = body.get("resource") or body.get("data", {}).get("object", {})
            reported.add((refund["id"], str(obj.get("status"))))
            acted = True
        acted |= _carrier(env, s)
        report = drive.watchdog(env)
        if report.get("completed"):
            s.note(f"epilogue: watchdog pass (completed {report['completed']})")
            acted = True
        drive.wait_quiet(env)
        if not acted:
            break


def _carrier(env: Any, s: Story) -> bool:
    """The carrier ends what Backout asked of it: an intercept comes back, a return parcel is delivered."""
    if not s.tracking:
        return False
    state = ledgers.carrier_state(env, s.tracking, s.order_id)
    if s.location == "transit" and state["intercepts"]:
        for item in state["intercepts"]:
            if item["status"] == "requested":
                env.carrier.resolve(item["intercept_id"])
        s.location = "back"
        status, _ = drive.post_signed(env, *aftership(s.order_id, s.tracking, *SCANS["return_to_sender"]))
        s.note(f"epilogue: aftership return_to_sender (intercepted) -> HTTP {status}")
        return True
    if s.location == "buyer" and state["labels"]:
        s.location = "back"
        status, _ = drive.post_signed(env, *aftership(s.order_id, state["labels"][-1]["tracking_number"],
                                                      *SCANS["delivered"]))
        s.note(f"epilogue: aftership Delivered (return parcel) -> HTTP {status}")
        return True
    return False
