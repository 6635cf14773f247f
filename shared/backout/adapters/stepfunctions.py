"""Every call Backout makes to Step Functions: start a saga, complete, fail or heartbeat a wait.

One place for the stale-token answers: a token that was already completed, timed out or
belongs to an execution that ended is not an error for a completion (someone got there
first) and means "no longer waiting" for a heartbeat.
"""

from __future__ import annotations

import json
from typing import Any

from backout import aws
from backout.repo.dynamo import error_code

#: Step Functions' answers for a token that no longer waits.
STALE_CODES = frozenset({"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"})


def _sfn() -> Any:
    return aws.client("stepfunctions")


def start(name: str, payload: dict[str, Any]) -> bool:
    """Start the cancellation saga under a deterministic name; False when it already exists."""
    try:
        _sfn().start_execution(stateMachineArn=aws.env("CANCELLATION_STATE_MACHINE_ARN"), name=name,
                               input=json.dumps(payload))
    except Exception as exc:
        if error_code(exc) != "ExecutionAlreadyExists":
            raise
        return False
    return True


def complete(token: str, output: dict[str, Any], failure: str | None = None) -> bool:
    """Resume a waiting step (success, or the named failure); False when the token no longer waits."""
    try:
        if failure:
            _sfn().send_task_failure(taskToken=token, error=failure, cause=json.dumps(output)[:256])
        else:
            _sfn().send_task_success(taskToken=token, output=json.dumps(output))
    except Exception as exc:
        if error_code(exc) not in STALE_CODES:
            raise
        return False
    return True


def heartbeat(token: str, sfn: Any = None) -> bool:
    """SendTaskHeartbeat; False when the token no longer waits."""
    try:
        (sfn or _sfn()).send_task_heartbeat(taskToken=token)
    except Exception as exc:
        if error_code(exc) not in STALE_CODES:
            raise
        return False
    return True
