"""The exactly-once simulation on the session's local stack (issue 5).

The default run is sized by ``BACKOUT_SIM_ORDERS`` / ``BACKOUT_SIM_DELIVERIES``
(defaults below); ``backout soak`` runs the same thing bigger.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from backout_dev.sim import FaultPlan, SimConfig, run_simulation
from backout_dev.sim.scenarios import BUILDERS, enabled_builders

ORDERS = int(os.environ.get("BACKOUT_SIM_ORDERS", "300"))
DELIVERIES = int(os.environ.get("BACKOUT_SIM_DELIVERIES", "3000"))
SEED = int(os.environ.get("BACKOUT_SIM_SEED", "20261121"))


def test_default_run_keeps_every_invariant_under_faults(local_env: Any) -> None:
    # Given a few hundred webhooks' worth of random orders, duplicated, shuffled, concurrent, with faults at every seam
    report = run_simulation(local_env, SimConfig(orders=ORDERS, deliveries=DELIVERIES, seed=SEED))
    print("\n" + report.table())
    # Then no invariant is broken ...
    assert report.findings.violations == [], report.table()
    # ... and the run really exercised what it claims to (not a vacuous pass)
    assert report.sender.posts >= DELIVERIES and report.sender.duplicates > 0
    assert {"ddb_throttle", "ddb_timeout", "ddb_lost_response"} & set(report.faults) and "lambda_crash" in report.faults
    assert any(k.endswith("_lost_response") and not k.startswith("ddb") for k in report.faults)  # a gateway's or fake's
    assert report.faults.get("sfn_task_retry", 0) > 0 and report.stream_retries > 0 and report.sender.sender_retries > 0
    assert report.findings.statuses["CANCELLED"] > 0 and report.findings.statuses["OPEN"] > 0
    assert any(d.forgery for d in report.deliveries) and not report.sender.accepted_forged
    assert report.findings.refunds_checked > 0
    # ... on every pair the local stack serves (PayPal, Shopify and Ozon among them), each with cancellations
    enabled = {f"{b.platform}+{b.gateway}" for b in enabled_builders(local_env)}
    assert enabled == set(BUILDERS) and {"woocommerce+paypal", "shopify+platform", "ozon+platform"} < enabled
    assert set(report.pairs) == set(report.orders_per_pair()) == enabled
    assert all(report.findings.pair_statuses[pair]["CANCELLED"] > 0 for pair in enabled), report.table()
    # ... and buyers withdrew requests (honoured inside the window, or too late: both are consistent ends)
    assert any(d.role == "withdraw" and d.accepted for d in report.deliveries)
    assert sum(report.findings.withdrawals.values()) > 0


def test_a_build_without_the_refund_lookup_is_caught(local_env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a deliberately broken build: no lookup of existing refunds before a create (neither the
    # search by effect key nor the refunded total the refundable amount is computed from)
    from backout.adapters.stripe_gateway import StripeGateway

    monkeypatch.setattr(StripeGateway, "find_refund", lambda self, *args, **kwargs: None)
    monkeypatch.setattr(StripeGateway, "_refunds", lambda self, *args, **kwargs: [])
    # When Stripe's responses get lost and Lambdas crash
    plan = FaultPlan(stripe_lost_response=0.5, lambda_crash=0.1)
    config = SimConfig(orders=24, seed=SEED + 1, faults=plan, builders=["woocommerce+stripe"])
    report = run_simulation(local_env, config)
    # Then the invariant checker reports the money paid twice
    kinds = report.findings.by_kind()
    assert kinds["double_refund"] > 0, report.table()
    assert report.faults.get("stripe_lost_response", 0) > 0


@pytest.mark.soak
def test_soak(local_env: Any) -> None:
    """The long run (``pytest -m soak``); ``backout soak`` prints the same table."""
    orders = int(os.environ.get("BACKOUT_SOAK_ORDERS", "2000"))
    report = run_simulation(local_env, SimConfig(orders=orders, deliveries=orders * 10, seed=SEED + 2))
    print("\n" + report.table())
    assert report.findings.violations == []
