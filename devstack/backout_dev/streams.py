"""A local DynamoDB-stream event source mapping, with Lambda's semantics.

moto records stream items but has no poller with batching, filtering,
partial batch failures, retries and an on-failure destination, so this one
does what the Lambda service does for a ``Type: DynamoDB`` event in the
template: read new records in order, keep those matching FilterCriteria,
invoke in batches, retry from the first reported failure up to
MaximumRetryAttempts, then send the failed records' description to the
on-failure SQS queue and move on.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime
from typing import Any, Callable

Invoke = Callable[[str, dict[str, Any]], tuple[dict[str, Any] | None, bool]]


def _matches(record: dict[str, Any], patterns: list[dict[str, Any]]) -> bool:
    """Enough of EventBridge-style filtering for top-level ``{"field": [values]}`` patterns."""
    if not patterns:
        return True
    return any(all(record.get(k) in v for k, v in p.items()) for p in patterns)


class StreamPoller:
    """Polls one table stream for one function on a background thread."""

    def __init__(self, *, shard_items: Callable[[], list[Any]], function_name: str, invoke: Invoke,
                 properties: dict[str, Any], send_to_dlq: Callable[[dict[str, Any]], None],
                 stream_arn: str, region: str) -> None:
        self.shard_items = shard_items
        self.function_name = function_name
        self.invoke = invoke
        self.batch_size = int(properties.get("BatchSize", 100))
        self.max_retries = int(properties.get("MaximumRetryAttempts", -1))
        self.partial = "ReportBatchItemFailures" in (properties.get("FunctionResponseTypes") or [])
        filters = (properties.get("FilterCriteria") or {}).get("Filters") or []
        self.patterns = [json.loads(f["Pattern"]) for f in filters]
        self.send_to_dlq = send_to_dlq
        self.stream_arn = stream_arn
        self.region = region
        self.position = 0
        self.busy = False
        self.retries = 0
        self.dead_lettered = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"stream-{function_name}", daemon=True)

    def start(self) -> None:
        """Begin polling."""
        self._thread.start()

    def stop(self) -> None:
        """Stop polling (pending records stay unread)."""
        self._stop.set()
        self._thread.join(timeout=5)

    @property
    def idle(self) -> bool:
        """True when every record seen so far has been handled."""
        return not self.busy and self.position >= len(self.shard_items())

    def _record(self, item: Any) -> dict[str, Any]:
        rec = json.loads(json.dumps(item.to_json(), default=str))
        created = item.to_json()["dynamodb"].get("ApproximateCreationDateTime")
        if isinstance(created, datetime):
            rec["dynamodb"]["ApproximateCreationDateTime"] = int(created.timestamp())
        rec["awsRegion"] = self.region
        rec["eventSourceARN"] = self.stream_arn
        return rec

    def _run(self) -> None:
        while not self._stop.is_set():
            items = self.shard_items()
            if self.position >= len(items):
                time.sleep(0.01)
                continue
            self.busy = True
            try:
                batch_items = items[self.position:self.position + self.batch_size]
                records = [self._record(i) for i in batch_items]
                self._deliver([r for r in records if _matches(r, self.patterns)])
                self.position += len(batch_items)
            finally:
                self.busy = False

    def _deliver(self, records: list[dict[str, Any]]) -> None:
        attempt = 0
        while records:
            response, errored = self.invoke(self.function_name, {"Records": records})
            failed_from = self._first_failure(records, response, errored)
            if failed_from is None:
                return
            attempt += 1
            if self.max_retries >= 0 and attempt > self.max_retries:
                self._dead_letter(records[failed_from:])
                return
            self.retries += 1
            records = records[failed_from:]
            time.sleep(min(0.05 * attempt, 0.5))

    def _first_failure(self, records: list[dict[str, Any]], response: dict[str, Any] | None, errored: bool) -> int | None:
        if errored:
            return 0
        if not self.partial or not response:
            return None
        failures = {f.get("itemIdentifier") for f in response.get("batchItemFailures") or []}
        for index, rec in enumerate(records):
            if rec["dynamodb"]["SequenceNumber"] in failures:
                return index
        return None

    def _dead_letter(self, records: list[dict[str, Any]]) -> None:
        self.dead_lettered += len(records)
        self.send_to_dlq({
            "requestContext": {"condition": "RetryAttemptsExhausted", "functionArn": self.function_name},
            "DDBStreamBatchInfo": {
                "streamArn": self.stream_arn,
                "startSequenceNumber": records[0]["dynamodb"]["SequenceNumber"],
                "endSequenceNumber": records[-1]["dynamodb"]["SequenceNumber"],
                "batchSize": len(records),
            },
            "records": records,  # locally we keep the records themselves, so replay needs no stream read
        })
