"""Operator API (IAM auth): the dead-letter queues (list, replay), the cancellation-rate report, the inventory audit."""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Tracer
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.event_handler.exceptions import ServiceError
from aws_lambda_powertools.utilities.typing import LambdaContext

from backout.ops import deadletters
from backout.ops.logs import saga_logger
from backout.ops.report import report as cancellation_report

logger = saga_logger()
tracer = Tracer()
app = APIGatewayHttpResolver()
#: An HTTP API answers within 30 s: replay starts no message after this much of the function's time.
REPLAY_BUDGET_SECONDS = 22.0


@app.get("/operator/dead-letters")
def dead_letters() -> dict[str, Any]:
    """Every message on the dead-letter queues, without consuming it."""
    return {"dead_letters": deadletters.list_dead_letters(deadletters.queue_urls())}


@app.post("/operator/dead-letters/replay")
def replay() -> dict[str, Any]:
    """Re-drive every dead letter, each deleted only after its redrive succeeded."""
    remaining = getattr(app.lambda_context, "get_remaining_time_in_millis", lambda: 29_000)() / 1000
    answer = deadletters.replay(deadletters.queue_urls(), os.environ["DISPATCHER_FUNCTION_NAME"],
                                budget_seconds=min(REPLAY_BUDGET_SECONDS, max(1.0, remaining - 6)))
    logger.info("dead letters replayed", extra={k: answer[k] for k in ("replayed", "skipped", "remaining")})
    return answer


@app.get("/operator/report")
def report() -> dict[str, Any]:
    """Cancellation rates against the guardrails, this week against the trailing mean, the weekly trend."""
    return cancellation_report()


@app.post("/operator/audit")
def audit() -> dict[str, Any]:
    """Run the inventory audit now (AuditFunction, as its daily schedule does) and return its findings."""
    answer, errored = deadletters.lambda_invoke(os.environ["AUDIT_FUNCTION_NAME"], {"source": "backout.operator"})
    if errored or not isinstance(answer, dict):
        raise ServiceError(502, f"the inventory audit failed: {str(answer)[:300]}")
    return answer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """HTTP API (v2) handler."""
    return app.resolve(event, context)
