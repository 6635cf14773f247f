"""Reads new inbox deliveries from the table's stream and acts on them.

Partial batch failures: a record that fails is reported back so only it
(and what follows it in its shard) is retried; after the retries the
event source mapping sends it to the dead-letter queue.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Metrics, Tracer
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from backout.dispatch import Dispatcher
from backout.ingress.inbox import read_inbox_item
from backout.ops.logs import saga_logger
from backout.ops.publish import dispatched
from backout.repo.dynamo import from_item

logger = saga_logger()
tracer = Tracer()
metrics = Metrics()
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)
_dispatcher: Dispatcher | None = None


def _record_handler(record: DynamoDBRecord) -> None:
    global _dispatcher
    _dispatcher = _dispatcher or Dispatcher()
    image = record.raw_event["dynamodb"].get("NewImage")
    item = from_item(image) or {}
    delivery = read_inbox_item(item)
    kinds = _dispatcher.handle_record(delivery)
    logger.info("delivery dispatched", extra={"key": delivery.key, "provider": delivery.provider, "events": kinds})
    dispatched(delivery.provider, kinds)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """DynamoDB stream batch handler with partial failure reporting."""
    return process_partial_response(event=event, record_handler=_record_handler, processor=processor, context=context)
