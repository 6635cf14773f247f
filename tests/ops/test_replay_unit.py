"""Replay message shapes, without AWS: which keys a dispatch dead letter stands for, whom a scheduled one re-invokes."""

from __future__ import annotations

from typing import Any

import pytest

from backout.ops.replay import batch_keys, invoke_handler


def test_dispatch_dead_letter_with_records_names_their_inbox_keys() -> None:
    body = {"DDBStreamBatchInfo": {"startSequenceNumber": "1", "endSequenceNumber": "2"},
            "records": [{"dynamodb": {"Keys": {"pk": {"S": "stripe:evt_1"}}}},
                        {"dynamodb": {"Keys": {"pk": {"S": "stripe:evt_2"}}}}]}
    assert batch_keys(body, "inbox") == [{"pk": {"S": "stripe:evt_1"}}, {"pk": {"S": "stripe:evt_2"}}]


def test_lambda_on_failure_record_reinvokes_the_function_with_its_payload() -> None:
    calls: list[tuple[str, dict[str, Any]]] = []
    handle = invoke_handler(lambda fn, payload: (calls.append((fn, payload)), ({}, False))[1])
    body = {"requestContext": {"functionArn": "arn:aws:lambda:eu-west-1:1:function:Audit:$LATEST"},
            "requestPayload": {"source": "aws.events", "id": "e1"}, "_attributes": {}}
    assert handle(body) == 1
    assert calls == [("arn:aws:lambda:eu-west-1:1:function:Audit:$LATEST", {"source": "aws.events", "id": "e1"})]


def test_eventbridge_dead_letter_reinvokes_its_target() -> None:
    calls: list[str] = []
    handle = invoke_handler(lambda fn, payload: (calls.append(fn), ({}, False))[1])
    assert handle({"source": "aws.events", "_attributes": {"TARGET_ARN": "arn:fn:Guardrails"}}) == 1
    assert calls == ["arn:fn:Guardrails"]


def test_a_failing_reinvocation_raises_so_the_message_stays() -> None:
    handle = invoke_handler(lambda fn, payload: ({"errorMessage": "boom"}, True))
    with pytest.raises(RuntimeError, match="failed again"):
        handle({"requestContext": {"functionArn": "f"}, "requestPayload": {}, "_attributes": {}})
    with pytest.raises(ValueError):
        invoke_handler(lambda fn, payload: ({}, False))({"_attributes": {}})
