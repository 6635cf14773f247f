"""Named errors shared by the code and the state machine's Retry/Catch.

A Lambda task that raises one of these surfaces in Step Functions with the
class name as the error name, so the ASL refers to exactly these names
(a test checks that every name used in an ASL file is defined here).
"""

from __future__ import annotations


class BackoutError(Exception):
    """Base class; ``retryable`` tells the saga whether to try again."""

    retryable = False

    def __init__(self, message: str, **detail: object) -> None:
        super().__init__(message)
        self.detail = detail


class TransientError(BackoutError):
    """A provider or AWS fault that is expected to pass (throttling, 5xx, timeout)."""

    retryable = True


class OrderNotFound(BackoutError):
    """No order record for the id; a saga cannot act on an unknown order."""


class NoCancellationRequest(BackoutError):
    """Rule 3: no money moves without a recorded cancellation request."""


class IllegalTransition(BackoutError):
    """The order's state does not allow the step (e.g. cancelling a cancelled order)."""


class OverRefund(BackoutError):
    """The refund would exceed what was captured minus what was already refunded."""


class PaymentNotAllowed(BackoutError):
    """The payment may not be touched now (disputed, unknown state, wrong currency)."""


class RefundFailed(BackoutError):
    """The gateway refused or failed the refund; an operator must look."""


class PlatformRejected(BackoutError):
    """The sales platform refused the call for good (4xx other than throttling)."""


class RevenueAtRisk(BackoutError):
    """Rule 9: the authorization expired but the parcel already shipped."""


class CarrierOutcomeUnknown(BackoutError):
    """The carrier's answer fits neither a return nor a delivery."""


class PathChanged(BackoutError):
    """What the saga's path was chosen on no longer holds (the parcel left meanwhile): choose again."""


class OperatorRequired(BackoutError):
    """A guard needs a person first (a refund at or above the high-value threshold)."""


#: Every error name the state machines may refer to (besides States.* and Lambda.*).
ERROR_NAMES: frozenset[str] = frozenset(
    cls.__name__
    for cls in (
        BackoutError,
        TransientError,
        OrderNotFound,
        NoCancellationRequest,
        IllegalTransition,
        OverRefund,
        PaymentNotAllowed,
        RefundFailed,
        PlatformRejected,
        RevenueAtRisk,
        CarrierOutcomeUnknown,
        PathChanged,
        OperatorRequired,
    )
) | {"CancellationHeld"}
