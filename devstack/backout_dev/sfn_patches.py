"""Where moto's Step Functions differs from AWS in a way the saga meets, and the local fix.

**A task token completed before the heartbeat wait starts.** With
``HeartbeatSeconds(Path)``, moto sets up a fresh heartbeat endpoint *after*
the Lambda of a ``.waitForTaskToken`` task returns, then waits on it. A
token completed while that Lambda still ran (Backout does so when a webhook
outran the saga, or when it decided on the spot) has its outcome stored, but
the new endpoint never hears of it: moto waits a whole heartbeat interval
and then reports a heartbeat timeout. AWS honours such an early completion.
The patch notifies the new endpoint at once when the outcome is already in.

**An ``IsPresent`` test of a missing path is logged as an error.** AWS evaluates
``{"Variable": "$.x", "IsPresent": false}`` quietly; moto answers the same but logs
``Exception=NoSuchJsonPathError`` at ERROR for every evaluation (ChoosePath asks whether the
cooling-off has run). A log filter drops exactly that record; failures still log.
"""

from __future__ import annotations

import logging
from typing import Any

from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackEndpoint, HeartbeatEndpoint

_original: Any = None
_ASL_LOGGER = "moto.stepfunctions.parser.asl.component.eval_component"


def _not_a_missing_path(record: logging.LogRecord) -> bool:
    """False for moto's log of a JSONPath lookup that found nothing (what IsPresent asks)."""
    return not str(record.msg % record.args if record.args else record.msg).startswith("Exception=NoSuchJsonPathError")


def install() -> None:
    """Patch moto (idempotent)."""
    global _original
    if _original is not None:
        return
    _original = CallbackEndpoint.setup_heartbeat_endpoint
    logging.getLogger(_ASL_LOGGER).addFilter(_not_a_missing_path)

    def setup_heartbeat_endpoint(self: CallbackEndpoint, heartbeat_seconds: int) -> HeartbeatEndpoint:
        endpoint: HeartbeatEndpoint = _original(self, heartbeat_seconds=heartbeat_seconds)
        if self.get_outcome() is not None:  # completed while the task's Lambda ran
            endpoint.notify()
        return endpoint

    CallbackEndpoint.setup_heartbeat_endpoint = setup_heartbeat_endpoint  # type: ignore[method-assign]


def uninstall() -> None:
    """Put moto's own method back."""
    global _original
    if _original is not None:
        CallbackEndpoint.setup_heartbeat_endpoint = _original  # type: ignore[method-assign]
        logging.getLogger(_ASL_LOGGER).removeFilter(_not_a_missing_path)
        _original = None
