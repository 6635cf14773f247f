"""What an operator needs to see about a held order: what is still owed back, and by when to act.

Pure Python, derived from the order record, its ledger and its held request (never stored, so it
cannot go stale). Amounts are integers in the order's minor units.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from backout.domain.ledger import FactKind, Ledger
from backout.domain.rules import lost_to_chargeback

#: Refund states that took (or are taking) money back to the buyer.
_REFUNDING = frozenset({"pending", "succeeded"})
#: Deadline kinds, in the order they are reported.
DISPUTE_EVIDENCE_DUE = "dispute_evidence_due"
OZON_AUTO_APPROVE = "ozon_auto_approve"


def owed_minor(order: Mapping[str, Any], ledger: Ledger) -> int:
    """What is still owed back to the buyer, as far as Backout knows.

    Taken: the captures the gateway reported, else (no capture and no authorization reported) the
    order's total, which the platform or gateway took. An authorization only, never captured, owes
    nothing: voiding releases it. Less what refunds (pending or succeeded; else the refunds Backout
    counted on the order) and lost disputes already gave back.
    """
    captures = [f for f in ledger.all(FactKind.CAPTURE) if f.state == "captured"]
    if captures:
        taken = sum(f.amount for f in captures)
    elif ledger.all(FactKind.AUTHORIZATION):
        taken = 0
    else:
        taken = int(order.get("total") or 0)
    refunds = ledger.all(FactKind.REFUND)
    refunded = (sum(f.amount for f in refunds if f.state in _REFUNDING) if refunds
                else int(order.get("refunded_total") or 0))
    return max(0, taken - refunded - lost_to_chargeback(ledger))


def _when(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def deadline(ledger: Ledger, request: Mapping[str, Any] | None) -> tuple[datetime | None, str | None]:
    """The earliest date by which the hold must be answered, and its kind (``(None, None)`` when none is known).

    An open dispute's evidence due date (the gateway decides against the seller after it), and an
    Ozon buyer request's auto-approve date (Ozon approves the cancellation itself then).
    """
    found: list[tuple[datetime, str]] = []
    for dispute in ledger.all(FactKind.DISPUTE):
        due = _when(dispute.detail.get("evidence_due_by")) if dispute.state == "open" else None
        if due is not None:
            found.append((due, DISPUTE_EVIDENCE_DUE))
    auto = _when((request or {}).get("auto_approve_at"))
    if auto is not None:
        found.append((auto, OZON_AUTO_APPROVE))
    if not found:
        return None, None
    when, kind = min(found, key=lambda pair: pair[0])
    return when, kind
