"""Named stories replayed through the same state machine (no drawing): the defects issue 13 names.

``replay(env, story)`` runs the rules in order, checks the quiet-point invariant after each,
then the teardown (epilogue + checks); it returns the violations (empty when the promise holds).
"""

from __future__ import annotations

from typing import Any

from backout_dev.sim.model.checks import Violation

Step = tuple[str, dict[str, Any]]
CANCEL: list[Step] = [("order_created", {}), ("cancel_request", {}), ("window_passes", {})]

STORIES: dict[str, tuple[dict[str, Any], list[Step]]] = {
    "paypal_two_pending_refunds": ({"shape": ("paypal", "auth_2captures"), "pending": True},
                                   CANCEL + [("refund_webhook", {"i": 0, "status": "succeeded"})]),
    "refund_fails_after_success": ({"shape": ("paypal", "captured")},
                                   CANCEL + [("refund_webhook", {"i": 0, "status": "succeeded"}),
                                             ("refund_webhook", {"i": 0, "status": "failed"})]),
    "paypal_partial_capture_remainder": ({"shape": ("paypal", "auth_1capture")}, CANCEL),
    "lost_dispute_then_approve": ({"shape": ("paypal", "captured")},
                                  [("order_created", {}), ("dispute_open", {}), ("dispute_close", {"outcome": "lost"}),
                                   ("cancel_request", {}), ("window_passes", {}), ("operator", {"decision": "approve"})]),
    "stripe_lost_dispute_then_approve": ({"shape": ("stripe", "captured")},
                                         [("order_created", {}), ("dispute_open", {}),
                                          ("dispute_close", {"outcome": "lost"}), ("cancel_request", {}),
                                          ("window_passes", {}), ("operator", {"decision": "approve"})]),
    "withdrawal_before_request": ({"shape": ("stripe", "captured")},
                                  [("order_created", {}), ("withdraw", {}), ("cancel_request", {})]),
    "failed_refund_then_approve": ({"shape": ("paypal", "captured"), "pending": True},
                                   CANCEL + [("refund_webhook", {"i": 0, "status": "failed"}),
                                             ("operator", {"decision": "approve"}), ("watchdog_pass", {}),
                                             ("operator", {"decision": "approve"})]),
}


#: The story each replay told (printed by callers when nothing was violated).
last_story: dict[str, str] = {}


def replay(env: Any, name: str, window: float = 4.0) -> list[Violation]:
    from backout_dev.sim.model.drive import OneShotFaults
    from backout_dev.sim.model.machine import bind
    from backout_dev.sim.runner import _cooling_off

    init, steps = STORIES[name]
    faults = OneShotFaults()
    faults.exempt_thread()
    faults.install(env.stack)
    faults.armed = True
    machine = bind(env, window, faults)()
    try:
        with _cooling_off(int(window)):
            machine.place(shape=init["shape"], custom=init.get("custom", True), pending=init.get("pending", False))
            try:
                for rule, kwargs in steps:
                    getattr(machine, rule)(**kwargs)
                    machine.cancelled_means_settled()
            except AssertionError:
                return list(machine.found)
            try:
                machine.teardown()
            except AssertionError:
                pass
            return list(machine.found)
    finally:
        from backout_dev.sim.model.providers import reset

        reset(env, faults)
        faults.uninstall()
        if machine.story is not None:
            last_story[name] = machine.story.story()
