"""`backout report` on the local stack: the rates table from the stored counters and a PNG chart."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from backout.ops.counters import count_cancelled, count_placed, today
from backout.repo.orders import OrdersRepository
from backout_dev.cli import main


def test_report_prints_rates_and_writes_the_chart(local_env: Any, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    # Given PayPal-paid orders over the last weeks, one in five cancelled (counted through the real counters)
    repo, tag = OrdersRepository(), uuid.uuid4().hex[:6]
    for i in range(20):
        order = {"order_id": f"shopify:rpt-{tag}-{i}", "channel": "shopify", "gateway": "paypal"}
        day = today() - timedelta(days=3 * i)
        assert count_placed(repo, order, day)
        assert not count_placed(repo, order, day)  # a redelivery counts nothing
        if i % 5 == 0:
            assert count_cancelled(repo, order, "buyer", day)
            assert not count_cancelled(repo, order, "buyer", day)
    # When the operator runs `backout report` against the running stack
    chart = tmp_path / "weekly.png"
    assert main(["report", "--url", local_env.url, "--chart", str(chart)]) == 0
    out = capsys.readouterr().out
    # Then the table shows the PayPal rate from the counters (other tests may add PayPal orders: at least ours)
    row = next(r for r in out.splitlines() if r.strip().startswith("PayPal3Month"))
    cancelled, placed = (int(x) for x in row.split()[2:4])
    assert placed >= 20 and cancelled >= 4
    assert f"{100 * cancelled / placed:.2f}" in row
    assert "this week" in out
    # And the chart is a PNG
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and chart.stat().st_size > 10_000


def test_audit_and_replay_commands_run_against_the_stack(local_env: Any, capsys: pytest.CaptureFixture[str]) -> None:
    main(["audit", "--url", local_env.url])
    assert "inventory audit" in capsys.readouterr().out
    assert main(["replay", "--url", local_env.url]) == 0
    assert "DispatchDeadLetterQueue:" in capsys.readouterr().out


def test_scheduled_functions_run_on_the_local_stack(local_env: Any) -> None:
    summary, errored = local_env.stack.invoke("GuardrailsFunction", {"source": "aws.events"})
    assert not errored and set(summary["rates"]) == {"PayPal3Month", "OzonSellerInitiated"}
    assert summary["rates"]["PayPal3Month"]["threshold_percent"] == 15.0
    audit, errored = local_env.stack.invoke("AuditFunction", {"source": "aws.events"})
    assert not errored and audit["skus_audited"] >= 0 and "differing" in audit
