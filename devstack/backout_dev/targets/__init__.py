"""Operator targets: one client interface (base.OperatorTarget) for the local stack and deployed stacks."""

from __future__ import annotations

from backout_dev.targets.base import DecisionRefused, OperatorTarget, TargetError

__all__ = ["DecisionRefused", "OperatorTarget", "TargetError", "open_target"]


def open_target(stack: str | None = None, region: str | None = None, profile: str | None = None,
                url: str | None = None) -> OperatorTarget:
    """The deployed CloudFormation stack ``stack`` (with ``region``/``profile`` or the AWS environment),
    else the local stack (a running ``backout serve``, or ``url``)."""
    if stack:
        from backout_dev.targets.stack import StackTarget

        return StackTarget.open(stack, region=region, profile=profile)
    from backout_dev.targets.local import LocalTarget

    return LocalTarget.open(url)
