"""Issue 13: the model-based adversarial generator (devstack/backout_dev/sim/model), a bounded default run.

Stories of one WooCommerce order paid through Stripe or PayPal, drawn by a hypothesis state machine
(webhooks in any order, duplicates, withdrawals, refund settlements, disputes, operator decisions,
watchdog passes, lost answers and crashes), checked against the providers' own ledgers.
Longer runs: ``backout model --examples N --steps M`` (docs/simulation.md).
"""

from __future__ import annotations

import os
from typing import Any

import pytest

EXAMPLES = int(os.environ.get("BACKOUT_MODEL_EXAMPLES", "8"))
STEPS = int(os.environ.get("BACKOUT_MODEL_STEPS", "8"))


def test_model_based_stories_keep_the_promise(local_env: Any) -> None:
    """The default drawn run (seeded, every violation collected): the promise holds on the current code."""
    from backout_dev.sim.model.run import run_model

    report = run_model(local_env, examples=EXAMPLES, steps=STEPS, shrink=False)
    print(report.text())
    assert report.examples >= EXAMPLES
    assert not report.violations, report.text()


def defect_of(v: Any) -> str:
    """Which defect of the per-purpose wake-up a violation shows (its kind, and for a withdrawal, when it came)."""
    if v.kind == "cancelled_unsettled":
        return "a refund wait ended by another refund's settlement"
    if v.kind == "withdrawal_ignored":
        before = "(delivered before its request)" in v.story
        return "a withdrawal delivered before its request ignored" if before else "a withdrawal inside the window ignored"
    if v.kind == "undecided":
        return "a new refund wait ended by an earlier attempt's failure"
    return f"other: {v.kind}"


def test_the_drawn_run_finds_the_old_per_purpose_wake_up(local_env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The generator's proof: the same drawn run (same seed and budget, no named story), with the seam that
    restores the per-purpose wake-up, finds at least two distinct defects of that design."""
    from backout.saga import waits
    from backout_dev.sim.model.run import run_model

    monkeypatch.setattr(waits, "PER_PURPOSE_WAKE", True)
    report = run_model(local_env, examples=EXAMPLES, steps=STEPS, shrink=False)
    defects = sorted({defect_of(v) for v in report.violations})
    print(report.text() + "\n\ndefects found:\n  " + "\n  ".join(defects))
    assert len({d for d in defects if not d.startswith("other")}) >= 2, report.text()


@pytest.mark.parametrize("name", sorted(__import__("backout_dev.sim.model.stories", fromlist=["STORIES"]).STORIES))
def test_named_story_keeps_the_promise(local_env: Any, name: str) -> None:
    from backout_dev.sim.model.stories import replay

    violations = replay(local_env, name)
    assert not violations, "\n".join(str(v) for v in violations)


@pytest.mark.parametrize("name", ["paypal_two_pending_refunds", "withdrawal_before_request"])
def test_the_named_stories_find_the_old_per_purpose_wake_up(local_env: Any, name: str,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The generator's machine finds the defects of the design the ledger replaced: with the seam that
    restores the per-purpose wake-up (the first event of a kind ends the wait), two stories break again."""
    from backout.saga import waits
    from backout_dev.sim.model.stories import replay

    monkeypatch.setattr(waits, "PER_PURPOSE_WAKE", True)
    violations = replay(local_env, name)
    assert violations, f"{name} kept the promise under the old wake-up: the generator would not see that defect"
