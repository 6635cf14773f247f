"""The high-value guard's settings: what a refund must reach, per currency, before a person approves it."""

from __future__ import annotations

import os

from backout.domain import rules


def high_value_threshold(currency: str) -> int:
    """Refunds at or above it wait for an operator (0: never).

    ``HIGH_VALUE_THRESHOLDS`` (template ``HighValueThresholds``, ``CUR=minor,...``) has the currency's
    own figure; a currency it does not list falls back to ``HIGH_VALUE_THRESHOLD_MINOR``
    (``HighValueThresholdMinor``). A malformed setting raises ValueError naming the entry.
    """
    table = rules.parse_thresholds(os.environ.get("HIGH_VALUE_THRESHOLDS", ""))
    return rules.high_value_threshold(currency, table, int(os.environ.get("HIGH_VALUE_THRESHOLD_MINOR", "0") or 0))
