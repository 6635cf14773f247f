"""StripeGateway's dispute evidence against FakeStripeDisputes (localstripe has no disputes)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from backout.adapters.stripe_gateway import StripeGateway, stripe_evidence
from backout.errors import PaymentNotAllowed, TransientError
from backout_dev.fakes.stripe_disputes import EVIDENCE_FIELDS, FakeStripeDisputes

KEY = "sk_test_disputes"
BUNDLE = {"order_id": "woocommerce:2001", "amount": 3000, "currency": "USD", "carrier": "DHL",
          "tracking_number": "JD014600001", "scans": [{"at": "2025-03-01T10:00:00+00:00", "status": "in_transit"},
                                                      {"at": "2025-03-03T08:00:00+00:00", "status": "delivered"}],
          "shipping_date": "2025-03-01T10:00:00+00:00", "delivery_date": "2025-03-03T08:00:00+00:00",
          "cancellation_requests": [], "refunds": [], "policy": "Cancel free until shipped; refunds to the card."}


@pytest.fixture()
def disputes(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeStripeDisputes]:
    fake = FakeStripeDisputes(KEY)
    with fake:
        monkeypatch.setenv("STRIPE_DISPUTES_API_BASE", fake.url)
        yield fake


def test_bundle_maps_to_stripe_evidence_fields() -> None:
    fields = stripe_evidence(BUNDLE)
    assert set(fields) <= set(EVIDENCE_FIELDS)
    assert (fields["shipping_carrier"], fields["shipping_tracking_number"], fields["shipping_date"]) == (
        "DHL", "JD014600001", "2025-03-01")
    for name in ("cancellation_policy_disclosure", "refund_policy_disclosure"):
        assert BUNDLE["policy"] in fields[name]
    assert "no cancellation was requested" in fields["cancellation_rebuttal"]
    assert "delivered 2025-03-03" in fields["uncategorized_text"]
    assert "twice" in fields["refund_refusal_explanation"]
    bare = stripe_evidence({**BUNDLE, "carrier": None, "tracking_number": None, "scans": [], "shipping_date": None})
    assert not {"shipping_carrier", "shipping_tracking_number", "shipping_date", "uncategorized_text"} & set(bare)


def test_evidence_is_submitted_once(disputes: FakeStripeDisputes) -> None:
    dp = disputes.open_dispute("pi_123", 3000, "usd")
    gateway = StripeGateway(api_key=KEY)
    sent = gateway.submit_dispute_evidence(dp, BUNDLE, "backout:evidence:o:dp")
    assert (sent.submitted, sent.status) == (True, "under_review")
    assert disputes.disputes[dp]["evidence"]["shipping_tracking_number"] == "JD014600001"
    assert disputes.disputes[dp]["evidence_details"]["submission_count"] == 1
    again = gateway.submit_dispute_evidence(dp, BUNDLE, "backout:evidence:o:dp")
    assert (again.submitted, again.status) == (False, "under_review")
    assert len(disputes.effects("evidence_submitted")) == 1


def test_lost_answer_then_retry_is_one_submission(disputes: FakeStripeDisputes) -> None:
    dp = disputes.open_dispute("pi_124", 3000, "usd")
    gateway = StripeGateway(api_key=KEY)
    disputes.drop_next_response(method="POST")
    with pytest.raises(TransientError):
        gateway.submit_dispute_evidence(dp, BUNDLE, "k")
    assert gateway.submit_dispute_evidence(dp, BUNDLE, "k").submitted is False
    assert len(disputes.effects("evidence_submitted")) == 1


def test_errors_are_named(disputes: FakeStripeDisputes) -> None:
    with pytest.raises(PaymentNotAllowed, match="resource_missing"):
        StripeGateway(api_key=KEY).submit_dispute_evidence("dp_missing", BUNDLE, "k")
    dp = disputes.open_dispute("pi_125", 3000, "usd")
    with pytest.raises(PaymentNotAllowed):
        StripeGateway(api_key="sk_test_wrong").submit_dispute_evidence(dp, BUNDLE, "k")
    disputes.fail_next(1, 503)
    with pytest.raises(TransientError):
        StripeGateway(api_key=KEY).submit_dispute_evidence(dp, BUNDLE, "k")
    assert disputes.effects("evidence_submitted") == []
