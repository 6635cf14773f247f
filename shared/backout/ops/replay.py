"""Re-drive dead-lettered work, each message at most once per success, deleted only after it.

Two kinds of dead letters:

* **Dispatch** (``DispatchDeadLetterQueue``): the stream event source mapping's
  on-failure record. It names a stream batch (``DDBStreamBatchInfo``), not the
  deliveries; the inbox keys come from the records when the message carries
  them (the local stack does), else from the stream itself (24 h retention),
  else from the inbox items that arrived in the batch's time window. Each
  delivery is re-read from ``InboxTable`` and handed to the dispatcher again,
  which is idempotent, so a delivery that half-succeeded before is safe.
* **Scheduled** (``ScheduledDeadLetterQueue``): an EventBridge event that could
  not be delivered, or a Lambda asynchronous on-failure record; the function
  is invoked again with the original payload.

A message is deleted only after its redrive succeeded; a failure leaves it
for the next run (and is reported). A message seen once is not retried in
the same run.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from backout import aws
from backout.repo.dynamo import from_item

Handle = Callable[[dict[str, Any]], int]
"""Re-drive one message body; returns how many deliveries or invocations it re-ran."""


@dataclass
class ReplayResult:
    """What one queue's replay did (``stopped``: its time ran out; the rest waits on the queue)."""

    queue: str
    messages: int = 0
    redriven: int = 0
    failures: list[str] = field(default_factory=list)
    stopped: bool = False


def _batches(sqs: Any, url: str) -> Iterator[list[dict[str, Any]]]:
    seen: set[str] = set()
    while True:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                    VisibilityTimeout=60, MessageAttributeNames=["All"]).get("Messages", [])
        fresh = [m for m in batch if m["MessageId"] not in seen]
        if not fresh:
            return
        seen.update(m["MessageId"] for m in fresh)
        yield fresh


def replay_queue(url: str, handle: Handle, name: str = "", sqs: Any = None,
                 deadline: float | None = None) -> ReplayResult:
    """Re-drive every message on the queue at ``url``; delete each one only after ``handle`` succeeded.

    ``deadline`` (``time.monotonic()``): no message is started after it (an API call has 30 s); what
    is left is put back at once, untouched, for the next run.
    """
    sqs = sqs or aws.client("sqs")
    result = ReplayResult(name or url.rsplit("/", 1)[-1])
    kept: list[str] = []
    for batch in _batches(sqs, url):
        for message in batch:
            if result.stopped or (deadline is not None and time.monotonic() > deadline):
                result.stopped = True
                kept.append(message["ReceiptHandle"])
                continue
            result.messages += 1
            try:
                body = json.loads(message["Body"])
                body["_attributes"] = {k: v.get("StringValue")
                                       for k, v in (message.get("MessageAttributes") or {}).items()}
                result.redriven += handle(body)
            except Exception as exc:  # left on the queue for the next run
                result.failures.append(f"{message['MessageId']}: {type(exc).__name__}: {exc}")
                kept.append(message["ReceiptHandle"])
                continue
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        if result.stopped:
            break
    for receipt in kept:  # hidden during this run (so it is tried once), visible again for the next
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=receipt, VisibilityTimeout=0)
    return result


# ---------------------------------------------------------------- dispatch dead letters


def _keys_from_stream(info: dict[str, Any]) -> list[dict[str, Any]]:
    streams = aws.client("dynamodbstreams")
    iterator = streams.get_shard_iterator(StreamArn=info["streamArn"], ShardId=info["shardId"],
                                          ShardIteratorType="AT_SEQUENCE_NUMBER",
                                          SequenceNumber=info["startSequenceNumber"])["ShardIterator"]
    keys: list[dict[str, Any]] = []
    end = int(info["endSequenceNumber"])
    while iterator:
        resp = streams.get_records(ShardIterator=iterator, Limit=100)
        for rec in resp.get("Records", []):
            if int(rec["dynamodb"]["SequenceNumber"]) > end:
                return keys
            keys.append(rec["dynamodb"]["Keys"])
        if not resp.get("Records"):
            return keys
        iterator = resp.get("NextShardIterator")
    return keys


def _keys_from_window(info: dict[str, Any], table: str) -> list[dict[str, Any]]:
    """Inbox items received in the batch's arrival window (the stream no longer has it).

    The arrival time is inside each item's ``meta`` (items written before
    that have it as an attribute), so the scan reads both and filters here:
    a Scan's capacity is counted by the items it reads either way.
    """
    from datetime import datetime

    from backout.ingress.inbox import inbox_received_at_ms

    def ms(value: str) -> int:
        return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)

    low, high = ms(info["approximateArrivalOfFirstRecord"]) - 1000, ms(info["approximateArrivalOfLastRecord"]) + 1000
    ddb, keys = aws.client("dynamodb"), []
    kwargs: dict[str, Any] = {"TableName": table, "ProjectionExpression": "#pk, #meta, #at",  # names, not words
                              "ExpressionAttributeNames": {"#pk": "pk", "#meta": "meta", "#at": "received_at"}}
    while True:
        resp = ddb.scan(**kwargs)
        for raw in resp.get("Items", []):
            if low <= inbox_received_at_ms(from_item(raw) or {}) <= high:
                keys.append({"pk": raw["pk"]})
        if "LastEvaluatedKey" not in resp:
            return keys
        kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]


def batch_keys(body: dict[str, Any], inbox_table: str) -> list[dict[str, Any]]:
    """The inbox keys (DynamoDB JSON) of the deliveries a dispatch dead letter stands for."""
    if body.get("records"):
        return [r["dynamodb"]["Keys"] for r in body["records"]]
    info = body["DDBStreamBatchInfo"]
    try:
        return _keys_from_stream(info)
    except Exception as exc:
        if "TrimmedDataAccess" not in type(exc).__name__ + str(exc) and "ExpiredIterator" not in str(exc):
            raise
        return _keys_from_window(info, inbox_table)


def dispatch_handler(dispatch: Callable[[dict[str, Any]], Any], inbox_table: str | None = None) -> Handle:
    """Re-read each delivery of a dead-lettered batch from the inbox and dispatch it again."""
    table = inbox_table or aws.env("INBOX_TABLE")

    def handle(body: dict[str, Any]) -> int:
        ddb, count = aws.client("dynamodb"), 0
        for key in batch_keys(body, table):
            item = from_item(ddb.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item"))
            if item is None:
                raise LookupError(f"inbox item {key} is gone (past InboxRetentionDays)")
            dispatch(item)
            count += 1
        return count

    return handle


# ---------------------------------------------------------------- scheduled dead letters


def invoke_handler(invoke: Callable[[str, dict[str, Any]], tuple[Any, bool]] | None = None) -> Handle:
    """Invoke the function a scheduled dead letter was meant for, with its original payload."""

    def default_invoke(function: str, payload: dict[str, Any]) -> tuple[Any, bool]:
        resp = aws.client("lambda").invoke(FunctionName=function, Payload=json.dumps(payload).encode())
        return resp["Payload"].read(), "FunctionError" in resp

    call = invoke or default_invoke

    def handle(body: dict[str, Any]) -> int:
        attributes = body.pop("_attributes", {})
        if "requestContext" in body and "requestPayload" in body:  # Lambda async on-failure record
            function, payload = body["requestContext"]["functionArn"], body["requestPayload"]
        elif attributes.get("TARGET_ARN"):  # EventBridge dead letter: the event itself
            function, payload = attributes["TARGET_ARN"], body
        else:
            raise ValueError("not a scheduled dead letter (no function named)")
        answer, errored = call(str(function), payload)
        if errored:
            raise RuntimeError(f"{function} failed again: {str(answer)[:200]}")
        return 1

    return handle

