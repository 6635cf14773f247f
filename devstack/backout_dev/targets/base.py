"""The operator client interface shared by the `backout` command and the web console.

A target is one Backout stack an operator works on: the local stack (``backout serve``
or an in-process ``LocalEnvironment``) or a deployed CloudFormation stack. Every method
returns plain JSON-compatible values (dicts, lists, str, int, float, bool, None), so a
web console can hand them to a browser as they are. Nothing returned carries secrets,
card data or message bodies.

    from backout_dev.targets import open_target
    target = open_target()                      # the local stack
    target = open_target("backout-prod", region="eu-west-1", profile="ops")
    for hold in target.holds(): ...
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

__all__ = ["DecisionRefused", "OperatorTarget", "TargetError", "open_target"]


class TargetError(Exception):
    """The target could not be reached or answered with an unexpected error (status 0 when unreachable)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"HTTP {status}: {reason}" if status else reason)
        self.status = status
        self.reason = reason


class DecisionRefused(TargetError):
    """A decision (or a lookup) the stack refused, with its reason.

    ``status``: 409 (the order is not on hold, the hold was already decided, an open dispute,
    a concurrent decision), 404 (unknown order), 400 (bad verb or note), 403 (the caller is
    not allowed). ``reason``: the stack's message, fit to show the operator as it is.
    """


@runtime_checkable
class OperatorTarget(Protocol):
    """What an operator can do on one stack. Both the CLI and the web console use only this."""

    #: "local" for the local stack, else the CloudFormation stack name.
    name: str

    def holds(self) -> list[dict[str, Any]]:
        """Every order waiting for a person (status ON_HOLD), oldest first.

        Each item: ``order_id``, ``channel`` (platform, e.g. "woocommerce", "ozon"),
        ``platform_order_id``, ``reason`` (why it is held), ``since`` (ISO 8601, when it was
        held), ``age_seconds`` (int), ``owed_minor`` (int, what is still owed back, minor units),
        ``currency``, ``deadline`` (ISO 8601 or None) and ``deadline_kind`` (None, or e.g.
        "dispute_evidence_due", "ozon_auto_approve").
        """
        ...

    def order(self, order_id: str) -> dict[str, Any]:
        """``{"order": {...}, "timeline": [...], "ledger": [...]}``, what GET /operator/orders/{id}/timeline returns.

        Raises DecisionRefused(404, ...) for an unknown order.
        """
        ...

    def decide(self, order_id: str, verb: str, note: str) -> dict[str, Any]:
        """Approve or reject a held cancellation (``verb`` "approve" | "reject").

        The stack records the caller's identity (IAM caller ARN on a deployed stack) as the
        actor on the order's timeline. Returns ``{"order_id", "decision", "request_id", "actor"}``.
        Raises DecisionRefused (409, 404, 400, 403) with the stack's reason.
        """
        ...

    def find(self, query: str) -> list[dict[str, Any]]:
        """Orders matching a platform order number, payment id, refund id or tracking number.

        Each item: ``order_id``, ``matched`` (which field matched: "order_id",
        "platform_order_id", "payment_ref", "refund_id", "tracking_number"), ``status``.
        """
        ...

    def dead_letters(self) -> list[dict[str, Any]]:
        """Messages on the dead-letter queues, without consuming them.

        Each item: ``id`` (message id), ``queue`` (source queue's logical name, e.g.
        "DispatchDeadLetterQueue"), ``age_seconds`` (int), ``summary`` (short text: kind of
        dead letter, function or stream batch; never the payload, secrets or PII).
        """
        ...

    def replay(self) -> dict[str, Any]:
        """Re-drive every dead letter, each exactly once (deleted only after its redrive succeeded).

        ``{"queues": [{"queue", "messages", "redriven", "failures": [str]}], "replayed": int, "skipped": int}``
        (skipped = messages left on their queue because their redrive failed).
        """
        ...

    def report(self) -> dict[str, Any]:
        """Cancellation rates against the guardrails, and the weekly trend, as JSON.

        ``{"end": ISO date, "margin_percent": float, "rates": [{"guardrail", "window_days",
        "cancelled", "placed", "percent", "threshold_percent", "breached"}], "week": {"week",
        "cancellations", "mean", "limit", "exceeded"}, "trend": [{"week", "cancellations",
        "mean", "limit", "rates": {guardrail: percent}}]}``.
        """
        ...

    def chart(self, path: str) -> str:
        """Write the weekly-cancellations PNG chart to ``path`` and return the path written."""
        ...

    def audit(self) -> dict[str, Any]:
        """Run the inventory audit now and return its findings.

        ``{"run_at", "skus_audited", "differing": [{"sku", "on_hand", "problems": [str]}],
        "error_percent", "over_threshold", "platform_checked"}``.
        """
        ...


def open_target(stack: str | None = None, region: str | None = None, profile: str | None = None,
                url: str | None = None) -> OperatorTarget:
    """The target to work on.

    ``stack``: a deployed CloudFormation stack's name; its outputs name the API and the
    resources, and calls use the operator's own AWS credentials (``profile``/``region``, else
    the AWS environment): SigV4-signed requests to the IAM-protected operator routes.
    Without ``stack``: the local stack, a running ``backout serve`` (or ``url``).
    Raises TargetError when the target cannot be found.
    """
    if stack:
        from backout_dev.targets.stack import StackTarget

        return StackTarget.open(stack, region=region, profile=profile)
    from backout_dev.targets.local import LocalTarget

    return LocalTarget.open(url)
