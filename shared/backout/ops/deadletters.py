"""The dead-letter queues for the operator: list them without consuming, re-drive them exactly once.

GET /operator/dead-letters and POST /operator/dead-letters/replay (OperatorOpsFunction), the local
stack's routes of the same name, and `backout dead-letters` / `backout replay` all run this.

A dispatch dead letter is re-driven through DispatcherFunction itself (a synchronous invoke with the
inbox item as a one-record stream batch), so the replay needs no permission of the dispatcher's, only
the right to invoke it; a scheduled one re-invokes the function it was meant for (backout.ops.replay).
Each message is deleted only after its redrive succeeded.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any

from backout import aws
from backout.ops.replay import ReplayResult, dispatch_handler, invoke_handler, replay_queue
from backout.repo.dynamo import to_item

#: Dead-letter queue (template logical id) -> the environment variable naming its URL.
QUEUES = {"DispatchDeadLetterQueue": "DISPATCH_DEAD_LETTER_QUEUE_URL",
          "ScheduledDeadLetterQueue": "SCHEDULED_DEAD_LETTER_QUEUE_URL"}
#: Invoke(function name or ARN, payload) -> (answer, errored).
Invoke = Callable[[str, dict[str, Any]], tuple[Any, bool]]


def queue_urls() -> dict[str, str]:
    """The queues this function was given (logical id -> URL)."""
    given = {"DispatchDeadLetterQueue": os.environ.get("DISPATCH_DEAD_LETTER_QUEUE_URL", ""),
             "ScheduledDeadLetterQueue": os.environ.get("SCHEDULED_DEAD_LETTER_QUEUE_URL", "")}
    return {name: url for name, url in given.items() if url}


def lambda_invoke(function: str, payload: dict[str, Any]) -> tuple[Any, bool]:
    """A synchronous Lambda invoke: (the function's answer, whether it errored)."""
    resp = aws.client("lambda").invoke(FunctionName=function, Payload=json.dumps(payload).encode())
    raw = resp["Payload"].read()
    try:
        answer: Any = json.loads(raw) if raw else None
    except ValueError:
        answer = raw.decode("utf-8", "replace")
    return answer, "FunctionError" in resp


def dispatch_via(function: str, invoke: Invoke = lambda_invoke) -> Callable[[dict[str, Any]], None]:
    """Hand one inbox item (plain values) to the dispatcher function as a one-record stream batch."""

    def dispatch(item: dict[str, Any]) -> None:
        image = to_item(item)
        record = {"eventID": f"replay-{item['pk']}", "eventName": "INSERT", "eventSource": "aws:dynamodb",
                  "eventVersion": "1.1", "awsRegion": os.environ.get("AWS_REGION", ""),
                  "dynamodb": {"Keys": {"pk": image["pk"]}, "NewImage": image, "SequenceNumber": "1",
                               "StreamViewType": "NEW_IMAGE"}}
        answer, errored = invoke(function, {"Records": [record]})
        failures = (answer or {}).get("batchItemFailures") if isinstance(answer, dict) else None
        if errored or failures:
            detail = answer.get("errorMessage", answer) if isinstance(answer, dict) else answer
            tail = " ".join(str(detail).split())[-300:]  # a batch error ends with the record's own exception
            raise RuntimeError(f"{function} failed again on {item['pk']}: {tail}")

    return dispatch


def replay_results(queues: Mapping[str, str], dispatcher: str, invoke: Invoke = lambda_invoke,
                   budget_seconds: float | None = None, sqs: Any = None) -> list[ReplayResult]:
    """Re-drive every queue (logical id -> URL); one result per queue."""
    handlers = {"DispatchDeadLetterQueue": dispatch_handler(dispatch_via(dispatcher, invoke)),
                "ScheduledDeadLetterQueue": invoke_handler(invoke)}
    deadline = None if budget_seconds is None else time.monotonic() + budget_seconds
    return [replay_queue(url, handlers[name], name, sqs, deadline) for name, url in queues.items() if name in handlers]


def replay(queues: Mapping[str, str], dispatcher: str, invoke: Invoke = lambda_invoke,
           budget_seconds: float | None = None, sqs: Any = None) -> dict[str, Any]:
    """The OperatorTarget.replay answer (``remaining``: messages left on a queue for lack of time)."""
    return as_answer(replay_results(queues, dispatcher, invoke, budget_seconds, sqs))


def as_answer(results: list[ReplayResult]) -> dict[str, Any]:
    """Replay results as the operator API answers them."""
    return {"queues": [{"queue": r.queue, "messages": r.messages, "redriven": r.redriven, "failures": r.failures,
                        "stopped": r.stopped} for r in results],
            "replayed": sum(r.redriven for r in results), "skipped": sum(len(r.failures) for r in results),
            "remaining": any(r.stopped for r in results)}


def summary(body: Mapping[str, Any], attributes: Mapping[str, str]) -> str:
    """What a dead letter stands for, in a few words: never its payload."""
    context = body.get("requestContext") or {}
    function = str(context.get("functionArn", "")).split(":function:")[-1].split(":")[0]
    if "DDBStreamBatchInfo" in body:
        info = body["DDBStreamBatchInfo"]
        size = len(body.get("records") or []) or int(info.get("batchSize") or 0)
        return f"stream batch of {size} delivery(ies) for {function or 'the dispatcher'} ({context.get('condition', 'failed')})"
    if "requestPayload" in body:
        return f"asynchronous invoke of {function} failed ({context.get('condition', 'failed')})"
    if attributes.get("TARGET_ARN"):
        target = str(attributes["TARGET_ARN"]).split(":function:")[-1]
        return f"scheduled event for {target} not delivered ({attributes.get('ERROR_CODE', 'error')})"
    return "unrecognised message (replay leaves it on the queue)"


def list_dead_letters(queues: Mapping[str, str], sqs: Any = None, now: datetime | None = None) -> list[dict[str, Any]]:
    """Every message on the queues, oldest first, made visible again at once (nothing is consumed)."""
    sqs = sqs or aws.client("sqs")
    now_ms = (now or datetime.now(timezone.utc)).timestamp() * 1000
    out: list[dict[str, Any]] = []
    for name, url in queues.items():
        seen, receipts = set(), []
        while True:
            batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, VisibilityTimeout=20,
                                        AttributeNames=["SentTimestamp"], MessageAttributeNames=["All"]).get("Messages", [])
            fresh = [m for m in batch if m["MessageId"] not in seen]
            if not fresh:
                break
            for m in fresh:
                seen.add(m["MessageId"])
                receipts.append(m["ReceiptHandle"])
                try:
                    body = json.loads(m["Body"])
                except ValueError:
                    body = {}
                attributes = {k: str(v.get("StringValue", "")) for k, v in (m.get("MessageAttributes") or {}).items()}
                sent = int((m.get("Attributes") or {}).get("SentTimestamp") or now_ms)
                out.append({"id": m["MessageId"], "queue": name, "age_seconds": max(0, int((now_ms - sent) / 1000)),
                            "summary": summary(body if isinstance(body, dict) else {}, attributes)})
        for receipt in receipts:
            sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=receipt, VisibilityTimeout=0)
    return sorted(out, key=lambda item: -item["age_seconds"])
