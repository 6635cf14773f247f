"""Issue 15 item 4 without AWS: one failing probe (or an execution that cannot be read) is counted and the
pass goes on; the operator queue's oldest hold age is measured from the open operator waits."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

from backout.watchdog import OpenWait, Watchdog

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=timezone.utc)


class FakeSfn:
    def __init__(self, inputs: dict[str, Any]) -> None:
        self.inputs, self.beats = inputs, []

    def get_paginator(self, name: str) -> Any:
        executions = [{"executionArn": arn, "name": arn} for arn in self.inputs]

        class Pages:
            def paginate(self, **_: Any) -> list[dict[str, Any]]:
                return [{"executions": executions}]
        return Pages()

    def describe_execution(self, executionArn: str) -> dict[str, Any]:
        value = self.inputs[executionArn]
        if isinstance(value, Exception):
            raise value
        return {"input": json.dumps(value)}

    def send_task_heartbeat(self, taskToken: str) -> dict[str, Any]:
        self.beats.append(taskToken)
        return {}


class FakeRepo:
    def __init__(self, tokens: dict[str, list[dict[str, Any]]]) -> None:
        self.tokens = tokens

    def open_tokens(self, order_id: str) -> list[dict[str, Any]]:
        return self.tokens.get(order_id, [])


def _token(purpose: str, request: str, token: str, saved_at: str = "") -> dict[str, Any]:
    return {"purpose": purpose, "request_id": request, "token": token, "saved_at": saved_at}


def test_one_failing_probe_is_counted_and_the_other_waits_are_checked(monkeypatch: Any) -> None:
    monkeypatch.setenv("CANCELLATION_STATE_MACHINE_ARN", "arn:sm")
    sfn = FakeSfn({"e1": {"order_id": "o1", "request_id": "r1"}, "e2": {"order_id": "o2", "request_id": "r2"},
                   "e3": RuntimeError("throttled"), "e4": {"order_id": "o4", "request_id": "r4"}})
    repo = FakeRepo({"o1": [_token("refund_settlement", "r1", "t1")], "o2": [_token("refund_settlement", "r2", "t2")],
                     "o4": [_token("platform_decision", "r4", "t4")]})
    probed: list[str] = []

    def probe(wait: OpenWait, _: Any) -> None:
        probed.append(wait.order_id)
        if wait.order_id == "o1":
            raise ConnectionError("paypal 500")

    report = Watchdog(repo, sfn, {"refund_settlement": probe, "platform_decision": probe}).run(NOW)
    assert probed == ["o1", "o2", "o4"]
    assert sfn.beats == ["t1", "t2", "t4"]
    assert (report.executions, report.waits, report.heartbeats, report.failed) == (4, 3, 3, 2)


def test_the_oldest_open_operator_hold_is_measured(monkeypatch: Any) -> None:
    monkeypatch.setenv("CANCELLATION_STATE_MACHINE_ARN", "arn:sm")
    old, new = (NOW - timedelta(hours=30)).isoformat(), (NOW - timedelta(hours=2)).isoformat()
    sfn = FakeSfn({"e1": {"order_id": "o1", "request_id": "r1"}, "e2": {"order_id": "o2", "request_id": "r2"}})
    repo = FakeRepo({"o1": [_token("operator", "r1", "t1", old), _token("operator", "r0", "t0", "2020-01-01T00:00:00")],
                     "o2": [_token("operator", "r2", "t2", new)]})
    report = Watchdog(repo, sfn, {}).run(NOW)
    assert report.holds == 2  # r0 is not the running request's wait
    assert report.oldest_hold_age_seconds == 30 * 3600
    assert sfn.beats == []  # an operator wait has no heartbeat


def test_no_hold_means_age_zero(monkeypatch: Any) -> None:
    monkeypatch.setenv("CANCELLATION_STATE_MACHINE_ARN", "arn:sm")
    report = Watchdog(FakeRepo({}), FakeSfn({}), {}).run(NOW)
    assert (report.holds, report.oldest_hold_age_seconds) == (0, 0)
