"""A TransactWriteItems cancelled by TransactionConflict is transient; a condition failure is not."""

import pytest
from botocore.exceptions import ClientError

from backout.errors import TransientError
from backout.repo.dynamo import is_transaction_conflict, written_once


def _cancelled(*codes: str) -> ClientError:
    return ClientError({"Error": {"Code": "TransactionCanceledException", "Message": "x"},
                        "CancellationReasons": [{"Code": c} for c in codes]}, "TransactWriteItems")


def test_a_conflict_is_transient() -> None:
    def write() -> None:
        raise _cancelled("None", "TransactionConflict")

    assert is_transaction_conflict(_cancelled("TransactionConflict"))
    with pytest.raises(TransientError):
        written_once(write)


def test_a_condition_failure_beside_a_conflict_means_already_done() -> None:
    def write() -> None:
        raise _cancelled("ConditionalCheckFailed", "TransactionConflict")

    assert not is_transaction_conflict(_cancelled("ConditionalCheckFailed", "TransactionConflict"))
    assert written_once(write) is False
