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



def test_a_trimmed_stream_batch_falls_back_to_the_inbox_items_of_its_arrival_window(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The stream no longer has the batch: its deliveries are the inbox items that arrived in its window.

    The arrival time is inside ``meta`` (new items) or an attribute of its own (items written before), so both
    count; the scan is followed page by page.
    """
    from backout.ingress.receiver import Delivery, inbox_item
    from backout.ops import replay

    def trimmed(info: dict[str, Any]) -> list[dict[str, Any]]:
        raise RuntimeError("TrimmedDataAccessException: the batch is past the stream's retention")

    start = 1_800_000_000.0  # 2027-01-15T08:00:00Z
    items = [inbox_item(Delivery("stripe", b"{}", {}, "", ""), key, "t", "{}", at, 35)
             for key, at in (("stripe:before", start - 5), ("stripe:first", start), ("stripe:last", start + 60),
                             ("stripe:after", start + 62))]
    items.insert(2, {"pk": {"S": "stripe:old-shape"}, "provider": {"S": "stripe"}, "body": {"S": "{}"},
                     "received_at": {"N": str(int(start * 1000) + 30)}})
    scans: list[dict[str, Any]] = []

    class Table:
        def scan(self, **kwargs: Any) -> dict[str, Any]:
            scans.append(kwargs)
            at = int(kwargs.get("ExclusiveStartKey", {}).get("at", 0))
            names = kwargs.get("ExpressionAttributeNames", {})
            wanted = [names.get(name.strip(), name.strip()) for name in kwargs["ProjectionExpression"].split(",")]
            page = [{k: v for k, v in item.items() if k in wanted} for item in items[at:at + 2]]
            return {"Items": page} | ({"LastEvaluatedKey": {"at": at + 2}} if at + 2 < len(items) else {})

    monkeypatch.setattr(replay, "_keys_from_stream", trimmed)
    monkeypatch.setattr(replay.aws, "client", lambda service: Table())
    body = {"DDBStreamBatchInfo": {"startSequenceNumber": "1", "endSequenceNumber": "9",
                                   "approximateArrivalOfFirstRecord": "2027-01-15T08:00:00Z",
                                   "approximateArrivalOfLastRecord": "2027-01-15T08:01:00Z"}}
    keys = [k["pk"]["S"] for k in batch_keys(body, "inbox")]
    assert keys == ["stripe:first", "stripe:old-shape", "stripe:last"]
    assert len(scans) == 3 and all(s["TableName"] == "inbox" for s in scans)
