"""Issue 13 item 8 for the marketplaces and the carriers: the model-based generator's bounded default run
over Shopify, Ozon and TikTok Shop orders (devstack/backout_dev/sim/model/platform_machine.py).

Each example is one order whose platform holds the money: its own webhooks (orders/create, orders/cancelled,
refunds/create, fulfillment events; TYPE_NEW_POSTING, TYPE_STATE_CHANGED, TYPE_POSTING_CANCELLED and the
poller's requests; CANCELLATION_STATUS_CHANGE and ORDER_STATUS_CHANGE), the buyer's request and withdrawal,
the platform deciding on its own, AfterShip and EasyPost scans of every kind, duplicates, the operator, the
watchdog, lost answers and crashed Lambdas; judged by the platforms' fakes, the carrier and the stock counts.
Longer: ``backout model --orders platforms --examples N --steps M`` (docs/simulation.md).
"""

from __future__ import annotations

import os
from typing import Any

import pytest

EXAMPLES = int(os.environ.get("BACKOUT_MODEL_PLATFORM_EXAMPLES", "8"))
STEPS = int(os.environ.get("BACKOUT_MODEL_STEPS", "8"))


def test_platform_stories_keep_the_promise(local_env: Any) -> None:
    """The default drawn run over marketplace orders (seeded, every violation collected): 0 violations."""
    from backout_dev.sim.model.run import run_model

    report = run_model(local_env, examples=EXAMPLES, steps=STEPS, shrink=False, orders="platforms")
    print(report.text())
    assert report.examples >= EXAMPLES
    assert not report.violations, report.text()


@pytest.mark.soak
@pytest.mark.parametrize("orders", ["store", "platforms"])
def test_model_long_run(local_env: Any, orders: str) -> None:
    """The long run (``-m soak``; about 8 s per example): ``BACKOUT_MODEL_LONG_EXAMPLES`` (60) stories of
    ``BACKOUT_MODEL_LONG_STEPS`` (12) steps, a fresh random draw unless ``BACKOUT_MODEL_SEED`` is set."""
    from backout_dev.sim.model.run import run_model

    seed = os.environ.get("BACKOUT_MODEL_SEED")
    examples = int(os.environ.get("BACKOUT_MODEL_LONG_EXAMPLES", "60"))
    report = run_model(local_env, examples=examples, steps=int(os.environ.get("BACKOUT_MODEL_LONG_STEPS", "12")),
                       shrink=False, seed=int(seed) if seed else None, orders=orders)
    print(report.text())
    assert report.examples >= examples
    assert not report.violations, report.text()
