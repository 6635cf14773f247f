"""Operator targets: one client interface (base.OperatorTarget) for the local stack and deployed stacks."""

from __future__ import annotations

from backout_dev.targets.base import DecisionRefused, OperatorTarget, TargetError, open_target

__all__ = ["DecisionRefused", "OperatorTarget", "TargetError", "open_target"]
