"""StripeGateway's dispute evidence against FakeStripeDisputes (localstripe has no disputes)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from backout.adapters.stripe_gateway import _EVIDENCE_PRIORITY, StripeGateway, stripe_evidence, within_stripe_limits
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


def test_evidence_texts_stay_within_stripes_combined_limit(disputes: FakeStripeDisputes) -> None:
    """"The combined character count of all fields is limited to 150,000"
    (https://docs.stripe.com/api/disputes/update#update_dispute-evidence); each field 20,000. Eight text fields
    at 20,000 each add up to 160,000, and Stripe would refuse the whole update."""
    eight = {name: "z" * 20_000 for name in _EVIDENCE_PRIORITY}
    capped = within_stripe_limits(eight)
    assert sum(len(v) for v in capped.values()) == 150_000
    assert capped["shipping_tracking_number"] == eight["shipping_tracking_number"]  # identifiers kept whole
    assert len(capped["uncategorized_text"]) == 10_000  # the scan log gives way
    long = "x" * 30_000
    bundle = {**BUNDLE, "carrier": long, "tracking_number": long, "policy": long,
              "scans": [{"at": "2025-03-01T10:00:00+00:00", "status": long}],
              "cancellation_requests": [{"recorded_at": "2025-03-01", "initiator": "buyer", "reason": long}]}
    fields = stripe_evidence(bundle)
    assert sum(len(v) for v in fields.values()) <= 150_000
    assert all(len(v) <= 20_000 for v in fields.values())
    assert fields["shipping_tracking_number"] == long[:20_000]  # identifiers kept first, the scan log cut
    dp = disputes.open_dispute("pi_long", 3000, "usd")
    assert StripeGateway(api_key=KEY).submit_dispute_evidence(dp, bundle, "key-long").submitted
    assert len(disputes.effects("evidence_submitted")) == 1


def test_fake_refuses_evidence_over_the_combined_limit(disputes: FakeStripeDisputes) -> None:
    import urllib.error
    import urllib.parse
    import urllib.request

    dp = disputes.open_dispute("pi_over", 3000, "usd")
    names = ("cancellation_rebuttal", "refund_refusal_explanation", "uncategorized_text",
             "cancellation_policy_disclosure", "refund_policy_disclosure", "shipping_carrier",
             "shipping_tracking_number", "product_description")
    form = urllib.parse.urlencode({f"evidence[{n}]": "y" * 20_000 for n in names} | {"submit": "true"}).encode()
    req = urllib.request.Request(f"{disputes.url}/v1/disputes/{dp}", data=form, method="POST",
                                 headers={"Authorization": f"Bearer {KEY}",
                                          "Content-Type": "application/x-www-form-urlencoded"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(req, timeout=5)
    assert refused.value.code == 400 and b"150,000" in refused.value.read()
    assert disputes.effects("evidence_submitted") == []
