"""The security suite (`backout security`) on the session's local stack, with a modest fuzz count."""

from __future__ import annotations

import os
from typing import Any

from backout_dev.security import SAMPLES, Suite

FUZZ = int(os.environ.get("BACKOUT_SECURITY_FUZZ", "150"))


def test_security_suite_accepts_nothing_wrongly(local_env: Any) -> None:
    report = Suite(local_env, seed=11).run(FUZZ)
    print("\n" + report.table())
    # nothing bad accepted, nothing crashed, no 5xx for bad input, nothing written by a refused request
    assert report.total("accepted_wrongly") == 0, report.table()
    assert report.total("unhandled") == 0, report.table()
    assert report.total("server_errors") == 0, report.table()
    assert report.inbox_written_wrongly == 0, report.table()
    # and it is not vacuous: every provider's genuine and rotated deliveries got through, the fuzz ran
    assert report.total("refused_genuine") == 0, report.table()
    assert report.tally("genuine").tried == len(SAMPLES)
    assert report.tally("fuzz").tried == FUZZ
    assert report.total("tried") > 300
