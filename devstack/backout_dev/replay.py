"""`backout replay`: re-drive the local stack's dead-letter queues (each message deleted only after success)."""

from __future__ import annotations

from typing import Any, TextIO

from backout.ops.replay import ReplayResult, dispatch_handler, invoke_handler, replay_queue

#: Dead-letter queue (template logical id) -> how its messages are re-driven.
QUEUES = ("DispatchDeadLetterQueue", "ScheduledDeadLetterQueue")


def replay_all(stack: Any) -> list[ReplayResult]:
    """Replay every dead-letter queue of a running LocalStack, in process."""
    from backout.dispatch import Dispatcher

    dispatcher = Dispatcher()
    handlers = {"DispatchDeadLetterQueue": dispatch_handler(dispatcher.handle_delivery),
                "ScheduledDeadLetterQueue": invoke_handler(lambda fn, payload: stack.invoke(fn.rsplit(":", 1)[-1],
                                                                                            payload))}
    return [replay_queue(stack.refs[q], handlers[q], q, stack.client("sqs")) for q in QUEUES if q in stack.refs]


def as_dict(results: list[ReplayResult]) -> dict[str, Any]:
    """JSON-friendly results (for the local API's dev route)."""
    return {"queues": [{"queue": r.queue, "messages": r.messages, "redriven": r.redriven, "failures": r.failures}
                       for r in results]}


def print_results(data: dict[str, Any], out: TextIO) -> int:
    """Print what was replayed; 1 when a message could not be re-driven (it stays on its queue)."""
    failed = 0
    for q in data["queues"]:
        out.write(f"{q['queue']}: {q['messages']} message(s), {q['redriven']} re-driven, "
                  f"{len(q['failures'])} left on the queue\n")
        for failure in q["failures"]:
            out.write(f"  ! {failure}\n")
        failed += len(q["failures"])
    return 1 if failed else 0
