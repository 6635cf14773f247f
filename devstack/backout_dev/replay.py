"""`backout replay` output, and the local stack's replay in process (the deployed code, backout.ops.deadletters)."""

from __future__ import annotations

from typing import Any, TextIO

from backout.ops.deadletters import QUEUES, ReplayResult, replay_results


def replay_all(stack: Any) -> list[ReplayResult]:
    """Replay every dead-letter queue of a running LocalStack, as POST /operator/dead-letters/replay does."""
    queues = {q: stack.refs[q] for q in QUEUES if q in stack.refs}
    return replay_results(queues, "DispatcherFunction", sqs=stack.client("sqs"))


def print_results(data: dict[str, Any], out: TextIO) -> int:
    """Print what was replayed; 1 when a message could not be re-driven (it stays on its queue)."""
    failed = 0
    for q in data["queues"]:
        out.write(f"{q['queue']}: {q['messages']} message(s), {q['redriven']} re-driven, "
                  f"{len(q['failures'])} left on the queue\n")
        for failure in q["failures"]:
            out.write(f"  ! {failure}\n")
        failed += len(q["failures"])
    if data.get("remaining"):
        out.write("  time ran out: more messages wait on the queues; run `backout replay` again\n")
    return 1 if failed else 0
