"""`backout demo` (README command 1): every scenario passes its own checks.

The scenarios run here on the test session's local stack (the command itself starts
its own); each one reports failure through its checks, which this test asserts.
"""

from __future__ import annotations

import io
from typing import Any, Callable

import pytest

from backout_dev.demo import SCENARIOS, Demo


@pytest.mark.parametrize(("title", "scenario"), SCENARIOS, ids=[t.split(".")[0] for t, _ in SCENARIOS])
def test_demo_scenario_passes_its_checks(title: str, scenario: Callable[..., Any], local_env: Any) -> None:
    out = io.StringIO()
    passed = Demo(local_env, out).run(title, scenario)
    report = out.getvalue()
    assert passed, report
    assert "[ok]" in report and "FAILED" not in report
