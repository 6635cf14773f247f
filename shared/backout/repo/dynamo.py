"""Plain-dict <-> DynamoDB item conversion and the one boto error mapping."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Callable, Mapping

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from backout.errors import TransientError

_SER = TypeSerializer()
_DES = TypeDeserializer()

#: DynamoDB errors that mean "try again later", never "the request is wrong".
TRANSIENT_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionInProgressException",
        "TransactionConflictException",
    }
)


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, set):
        return {_plain(v) for v in value}
    return value


def to_item(data: Mapping[str, Any]) -> dict[str, Any]:
    """Serialise a dict of plain values (ints, strs, bools, lists, dicts)."""
    return {k: _SER.serialize(v) for k, v in data.items() if v is not None}


def from_item(item: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Deserialise an item; numbers come back as ints where they are whole."""
    if item is None:
        return None
    return {k: _plain(_DES.deserialize(v)) for k, v in item.items()}


def values(data: Mapping[str, Any]) -> dict[str, Any]:
    """ExpressionAttributeValues from plain values."""
    return {k: _SER.serialize(v) for k, v in data.items()}


def error_code(exc: Exception) -> str:
    """The AWS error code of a botocore ClientError, or '' for anything else."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def is_condition_failure(exc: Exception) -> bool:
    """True for a failed ConditionExpression (single write or in a transaction)."""
    code = error_code(exc)
    if code == "ConditionalCheckFailedException":
        return True
    if code == "TransactionCanceledException":
        reasons = getattr(exc, "response", {}).get("CancellationReasons", [])
        return any(r.get("Code") == "ConditionalCheckFailed" for r in reasons)
    return False


def is_transaction_conflict(exc: Exception) -> bool:
    """True for a transaction cancelled only because another one held an item (reason ``TransactionConflict``).

    Real DynamoDB cancels a TransactWriteItems that overlaps a concurrent one on the same item
    (developer guide, "Transaction conflict handling"); nothing was applied, so a retry is safe.
    A condition failure in the same response wins: see :func:`is_condition_failure`.
    """
    if error_code(exc) != "TransactionCanceledException":
        return False
    codes = {r.get("Code") for r in getattr(exc, "response", {}).get("CancellationReasons", [])}
    return "TransactionConflict" in codes and "ConditionalCheckFailed" not in codes


def raise_transient(exc: Exception) -> None:
    """Turn throttling, 5xx and transaction conflicts into TransientError so the saga or stream retries them."""
    if error_code(exc) in TRANSIENT_CODES or is_transaction_conflict(exc):
        raise TransientError(f"DynamoDB: {error_code(exc)}") from exc


def written_once(write: Callable[[], Any]) -> bool:
    """Run a conditional write: True when it applied, False when its condition failed (already done);
    throttling and 5xx become TransientError, anything else is raised as it is."""
    try:
        write()
        return True
    except Exception as exc:
        if is_condition_failure(exc):
            return False
        raise_transient(exc)
        raise
