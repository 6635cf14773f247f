"""Unit tests run without AWS and without the template's settings: the local stack that other test
folders start in this process sets the functions' environment (HIGH_VALUE_THRESHOLD_MINOR and HIGH_VALUE_THRESHOLDS among it)
for the whole process, so the guards it switches on are set here explicitly, per module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="module", autouse=True)
def no_high_value_threshold() -> Iterator[None]:
    """Settlement unit tests refund any amount; the high-value hold has its own local-stack test."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HIGH_VALUE_THRESHOLD_MINOR", "0")
        mp.setenv("HIGH_VALUE_THRESHOLDS", "")
        yield
