"""What the hold queue shows, derived from the ledger (no AWS): the amount owed and the deadline."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from backout.domain.holds import DISPUTE_EVIDENCE_DUE, OZON_AUTO_APPROVE, deadline, owed_minor
from backout.domain.ledger import Fact, FactKind, Ledger
from backout.domain.rules import fact_of
from backout.ingress.normalize import normalize

AT = datetime(2026, 12, 1, 12, tzinfo=timezone.utc)


def fact(kind: FactKind, oid: str, state: str, amount: int = 0, **detail: str) -> Fact:
    return Fact(kind=kind, object_id=oid, state=state, at=AT, amount=amount, currency="USD", detail=detail)


def test_owed_is_the_captures_less_refunds_and_lost_disputes() -> None:
    ledger = Ledger.of("o", [fact(FactKind.CAPTURE, "c1", "captured", 6000), fact(FactKind.CAPTURE, "c2", "captured", 4000),
                             fact(FactKind.REFUND, "r1", "succeeded", 1000), fact(FactKind.REFUND, "r2", "failed", 3000),
                             fact(FactKind.DISPUTE, "d1", "lost", 2000)])
    assert owed_minor({"total": 99999}, ledger) == 10000 - 1000 - 2000


def test_owed_without_captures_is_the_order_total_and_an_authorization_owes_nothing() -> None:
    assert owed_minor({"total": 2500, "refunded_total": 500}, Ledger(order_id="o")) == 2000
    authorized = Ledger.of("o", [fact(FactKind.AUTHORIZATION, "a1", "authorized", 2500)])
    assert owed_minor({"total": 2500}, authorized) == 0


def test_the_deadline_is_the_earliest_of_an_open_disputes_evidence_and_the_ozon_auto_approve() -> None:
    due = AT + timedelta(days=7)
    ledger = Ledger.of("o", [fact(FactKind.DISPUTE, "d1", "open", 100, evidence_due_by=due.isoformat()),
                             fact(FactKind.DISPUTE, "d0", "won", 100, evidence_due_by=AT.isoformat())])
    assert deadline(ledger, None) == (due, DISPUTE_EVIDENCE_DUE)
    earlier = (AT + timedelta(days=2)).isoformat()
    assert deadline(ledger, {"auto_approve_at": earlier}) == (AT + timedelta(days=2), OZON_AUTO_APPROVE)
    assert deadline(Ledger(order_id="o"), {"auto_approve_at": None}) == (None, None)


def test_a_stripe_disputes_evidence_due_date_reaches_the_ledger() -> None:
    body = {"id": "evt_1", "type": "charge.dispute.created", "created": int(AT.timestamp()),
            "data": {"object": {"id": "dp_1", "object": "dispute", "amount": 500, "currency": "usd",
                                "payment_intent": "pi_1", "reason": "fraudulent", "metadata": {"order_id": "woocommerce:1"},
                                "evidence_details": {"due_by": int((AT + timedelta(days=7)).timestamp())}}}}
    import json

    (event,) = normalize("stripe", json.loads(json.dumps(body)), {}, AT)
    opened = fact_of(event)
    assert opened is not None and opened.detail["evidence_due_by"] == (AT + timedelta(days=7)).isoformat()
