"""The benchmark's table builders on tiny sizes (the full run is `backout bench`, kept out of the suite).

Tables 1, 3 and 5 measure in fresh interpreters (table 1 brings its own
embedded AWS, which must not share this process with the session's local
stack); tables 2 and 4 run on the session's ``local_env``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from backout_dev.bench.deliveries import PROVIDERS
from backout_dev.template import ROOT

_ACK_CHILD = """
import json
from backout_dev.bench.ack import ack_calls_rows, ack_cpu_table, measure_acks
results = measure_acks(requests=6, warmup=2)
table = ack_cpu_table(results)
print(json.dumps({"columns": table.columns, "rows": table.rows, "verdicts": table.verdicts,
                  "calls": [[r.provider, r.calls_per_ack, r.calls] for r in results],
                  "call_rows": ack_calls_rows(results), "text": table.render()}))
"""


def _child(code: str) -> Any:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT,
                          env={"PYTHONPATH": f"{ROOT / 'shared'}:{ROOT / 'devstack'}", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_ack_table_has_every_provider_and_exactly_one_aws_call_per_acknowledgement() -> None:
    result = _child(_ACK_CHILD)
    assert [row[0] for row in result["rows"]] == list(PROVIDERS)
    for provider, per_ack, calls in result["calls"]:
        assert per_ack == 1, (provider, calls)  # once the secret is cached: the one conditional PutItem
        assert calls == {"dynamodb.PutItem": 6}, provider
    for row in result["rows"]:
        ours, baseline, ratio = row[2], row[3], row[5]
        assert ours > 0 and baseline > 0 and ratio == pytest.approx(ours / baseline, rel=1e-2)
        assert row[-1] == 0  # every delivery answered 200
    assert all(row[1] == 1 and row[-1] == "ok" for row in result["call_rows"])
    assert "ack CPU ratio ≤ 1.25" in "".join(result["verdicts"])
    assert "FAIL" in result["text"] or "ok" in result["text"]


def test_coldstart_table_holds_the_receivers_cold_path_against_boto3() -> None:
    from backout_dev.bench.coldstart import coldstart_table, measure_imports

    medians = measure_imports(rounds=1, folders=("gateway_webhooks", "payments"))
    table = coldstart_table(medians)
    assert medians["boto3"] > 0 and medians["payments"] > 0
    assert 0 < medians["gateway_webhooks"] < medians["gateway_webhooks+ack"]  # the cold path adds boto3
    assert 1 < medians["gateway_webhooks+ack÷"]  # boto3, then the rest of the cold path, in one process
    assert table.rows[1][4] == round(medians["gateway_webhooks+ack÷"], 3)  # the budget's ratio
    lazy = medians["lazy"]["gateway_webhooks"]
    assert lazy[0] == "boto3" and not any(m.split(".")[0] in ("stripe", "pydantic", "cryptography") for m in lazy)
    assert [r[0] for r in table.rows][1:] == ["functions/gateway_webhooks", "functions/payments"]
    assert table.rows[1][-1] in ("ok", "FAIL") and table.rows[2][-1] == "-"  # only receivers have a budget
    assert len(table.verdicts) == 1


def test_memory_table_samples_a_receiver_in_its_own_process() -> None:
    from backout_dev.bench.memory import measure_memory, memory_table

    samples = measure_memory(60, (20, 40, 60))
    assert [s["webhooks"] for s in samples] == [20, 40, 60]
    assert all(s["failures"] == 0 and s["max_rss_kib"] > 10_000 for s in samples)
    table = memory_table(samples)
    assert len(table.rows) == 3 and "flat memory" in table.verdicts


def test_saga_path_and_throughput_tables_on_the_local_stack(local_env: Any) -> None:
    from backout_dev.bench.awscalls import AwsCallCounter
    from backout_dev.bench.saga import HAPPY_PATH, PATHS, saga_table
    from backout_dev.bench.saga import measure_paths
    from backout_dev.bench.throughput import Run, run_size, throughput_table

    counter = AwsCallCounter.install()
    paths = measure_paths(local_env, counter, (HAPPY_PATH,))
    happy = paths[0]
    assert happy.outcome == "CANCELLED"
    assert 0 < happy.transitions and happy.calls["sfn.StartExecution"] == 1
    assert happy.calls["dynamodb.PutItem"] >= 1 and happy.write_units >= happy.calls["dynamodb.PutItem"]
    assert sum(happy.invocations.values()) >= 4 and 0 < happy.cost() < 0.01
    table = saga_table(paths, [["ack stripe", 1.0, "dynamodb.PutItem 1", "-", "-", "ok"]])
    assert len(table.rows) == 2 and set(PATHS) >= {HAPPY_PATH}
    assert any("transitions" in name for name in table.verdicts)

    run = run_size(local_env, 1)
    assert run.completed == 1 and run.saga_s > 0 and run.acks_per_s > 0
    doubled = Run(2, run.ack_s * 2, run.dispatch_s * 2, run.saga_s * 2, 2)  # exactly linear: holds
    grown = throughput_table([run, doubled])
    assert grown.passed and grown.rows[1][6] == pytest.approx(2.0)
    worse = throughput_table([run, Run(2, run.ack_s, run.dispatch_s, run.saga_s * 5, 2)])
    assert not worse.passed


def test_a_child_reports_its_own_peak_memory_not_its_parents() -> None:
    """Table 5 runs in a child of the bench, which may hold gigabytes by then (getrusage's peak survives exec)."""
    ballast = b"\x01" * (300 << 20)  # 300 MiB resident in this process
    code = "from backout_dev.bench.memory import peak_rss_kib; print(peak_rss_kib())"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    child = int(done.stdout.strip())
    assert 1024 < child < 200 * 1024 < len(ballast) // 1024
