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


@pytest.mark.xfail(strict=False, reason="issue 13: today's code breaks the promise in drawn stories (a withdrawal "
                                        "delivered before its request is 'too late', PayPal partial captures, "
                                        "pending refunds, failed-after-success refunds, lost disputes + approve)")
def test_model_based_stories_keep_the_promise(local_env: Any) -> None:
    from backout_dev.sim.model.run import run_model

    report = run_model(local_env, examples=EXAMPLES, steps=STEPS, shrink=False)
    print(report.text())
    assert report.examples > 0
    assert not report.violations, report.text()


@pytest.mark.xfail(strict=False, reason="issue 13: each named story reproduces a defect of today's code")
@pytest.mark.parametrize("name", sorted(__import__("backout_dev.sim.model.stories", fromlist=["STORIES"]).STORIES))
def test_named_story_keeps_the_promise(local_env: Any, name: str) -> None:
    from backout_dev.sim.model.stories import replay

    violations = replay(local_env, name)
    assert not violations, "\n".join(str(v) for v in violations)
