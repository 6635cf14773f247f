"""PayPalGateway against FakePayPal: states, voids, refunds, idempotency, errors and faults."""

from __future__ import annotations

import pytest

from backout.adapters.gateway import PaymentGateway
from backout.adapters.paypal_evidence import paypal_evidences
from backout.adapters.paypal_gateway import PayPalGateway, effect_tag, request_id_for
from backout.errors import OverRefund, PaymentNotAllowed, RefundFailed, TransientError
from backout_dev.fakes import FakePayPal

KEY = "backout:settle:woocommerce:1001:req-1"
META = {"backout_order_id": "woocommerce:1001", "backout_request_id": "req-1"}


def test_is_a_payment_gateway(paypal: PayPalGateway) -> None:
    gateway: PaymentGateway = paypal
    assert gateway.name == "paypal"


def test_retrieve_authorized_then_void(paypal: PayPalGateway, paypal_fake: FakePayPal) -> None:
    auth = paypal_fake.authorize("49.99", "USD")
    state = paypal.retrieve(f"auth:{auth}")
    assert (state.status, state.currency, state.authorized, state.captured, state.refunded) == (
        "authorized", "USD", 4999, 0, 0)
    paypal.void(f"auth:{auth}", KEY)
    assert paypal.retrieve(f"auth:{auth}").status == "voided"
    assert paypal_fake.effects("void") == [{"op": "void", "authorization_id": auth,
                                            "request_id": request_id_for("void", KEY)}]


def test_void_replayed_or_repeated_is_one_void(paypal: PayPalGateway, paypal_fake: FakePayPal) -> None:
    auth = paypal_fake.authorize("10.00")
    paypal.void(f"auth:{auth}", KEY)
    paypal.void(f"auth:{auth}", KEY)  # same PayPal-Request-Id: replayed answer
    paypal.void(f"auth:{auth}", "another-key")  # PREVIOUSLY_VOIDED counts as done
    assert len(paypal_fake.effects("void")) == 1


def test_void_lost_answer_then_retry_is_one_void(paypal: PayPalGateway, paypal_fake: FakePayPal) -> None:
    auth = paypal_fake.authorize("10.00")
    paypal_fake.drop_next_response(path_contains="/void")
    with pytest.raises(TransientError):
        paypal.void(f"auth:{auth}", KEY)
    paypal.void(f"auth:{auth}", KEY)
    assert len(paypal_fake.effects("void")) == 1
    assert paypal.retrieve(f"auth:{auth}").status == "voided"


def test_expired_authorization_is_voided(paypal: PayPalGateway, paypal_fake: FakePayPal) -> None:
    auth = paypal_fake.authorize("10.00")
    paypal_fake.set_authorization_status(auth, "EXPIRED")
    assert paypal.retrieve(f"auth:{auth}").status == "voided"
    paypal.void(f"auth:{auth}", KEY)  # AUTHORIZATION_EXPIRED: nothing left to release
    assert paypal_fake.effects("void") == []


def test_void_refused_for_captures(paypal: PayPalGateway, paypal_fake: FakePayPal) -> None:
    auth = paypal_fake.authorize("10.00")
    cap = paypal_fake.capture(auth)
    with pytest.raises(PaymentNotAllowed, match="PREVIOUSLY_CAPTURED"):
        paypal.void(f"auth:{auth}", KEY)
    with pytest.raises(PaymentNotAllowed):
        paypal.void(f"cap:{cap}", KEY)
    denied = paypal_fake.authorize("1.00")
    paypal_fake.set_authorization_status(denied, "DENIED")
    assert paypal.retrieve(f"auth:{denied}").status == "unknown"
    with pytest.raises(PaymentNotAllowed, match="CANNOT_BE_VOIDED"):
        paypal.void(f"auth:{denied}", KEY)


@pytest.mark.parametrize("ref", ["ABC123", "order:ABC", "auth:", "cap:../x"])
def test_malformed_ref_is_refused(paypal: PayPalGateway, ref: str) -> None:
    with pytest.raises(PaymentNotAllowed):
        paypal.retrieve(ref)


def test_captured_authorization_refund_and_lookup(paypal: PayPalGateway, paypal_fake: FakePayPal) -> None:
    auth = paypal_fake.authorize("100.00", "EUR")
    paypal_fake.capture(auth)
    ref = f"auth:{auth}"
    state = paypal.retrieve(ref)
    assert (state.status, state.currency, state.captured, state.refunded) == ("captured", "EUR", 10000, 0)
    assert paypal.find_refund(ref, KEY) is None
    refund = paypal.create_refund(ref, 2550, KEY, META)
    assert (refund.amount, refund.currency, refund.status) == (2550, "EUR", "succeeded")
    assert paypal.find_refund(ref, KEY) == refund
    assert paypal.find_refund(ref, "other-key") is None
    assert paypal.retrieve(ref).refunded == 2550
    [entry] = paypal_fake.effects("refund")
    # the effect key is the lookup tag (invoice_id); custom_id names the order for the refund webhook
    assert (entry["invoice_id"], entry["custom_id"], entry["amount"]) == (KEY, "woocommerce:1001", 2550)
    assert paypal_fake.refunds[refund.refund_id]["amount"] == {"currency_code": "EUR", "value": "25.50"}


def test_refund_replayed_with_same_key_is_one_refund(paypal: PayPalGateway, paypal_fake: FakePayPal) -> None:
    cap = paypal_fake.charge("30.00")
    first = paypal.create_refund(f"cap:{cap}", 3000, KEY, META)
    second = paypal.create_refund(f"cap:{cap}", 3000, KEY, META)
    assert first.refund_id == second.refund_id
    assert len(paypal_fake.effects("refund")) == 1
    assert paypal.retrieve(f"cap:{cap}").refunded == 3000


def test_refund_lost_answer_is_found_and_not_repeated(paypal: PayPalGateway, paypal_fake: FakePayPal) -> None:
    cap = paypal_fake.charge("30.00")
    ref = f"cap:{cap}"
    paypal_fake.drop_next_response(method="POST", path_contains="/refund")
    with pytest.raises(TransientError):
        paypal.create_refund(ref, 3000, KEY, META)
    found = paypal.find_refund(ref, KEY)  # what the saga does on its retry
    assert found is not None and found.amount == 3000
    again = paypal.create_refund(ref, 3000, KEY, META)  # even a blind retry replays
    assert again.refund_id == found.refund_id
    assert len(paypal_fake.effects("refund")) == 1


def test_over_refunds_are_refused(paypal: PayPalGateway, paypal_fake: FakePayPal) -> None:
    cap = paypal_fake.charge("20.00")
    with pytest.raises(OverRefund, match="REFUND_AMOUNT_EXCEEDED"):
        paypal.create_refund(f"cap:{cap}", 2001, KEY, META)
    paypal.create_refund(f"cap:{cap}", 2000, "k-full", META)
    with pytest.raises(OverRefund, match="CAPTURE_FULLY_REFUNDED"):
        paypal.create_refund(f"cap:{cap}", 1, "k-more", META)
    assert len(paypal_fake.effects("refund")) == 1


def test_disputed_capture(paypal: PayPalGateway, paypal_fake: FakePayPal) -> None:
    cap = paypal_fake.charge("20.00")
    paypal_fake.dispute(cap)
    assert paypal.retrieve(f"cap:{cap}").disputed
    with pytest.raises(PaymentNotAllowed, match="DISPUTED"):
        paypal.create_refund(f"cap:{cap}", 500, KEY, META)


def test_a_refund_refused_for_a_chargeback_is_a_dispute(paypal: PayPalGateway, paypal_fake: FakePayPal) -> None:
    """PayPal's error list (https://developer.paypal.com/api/rest/reference/orders/v2/errors/):
    ``REFUND_NOT_PERMITTED_DUE_TO_CHARGEBACK`` "Refunds not allowed on this capture due to a chargeback
    on the card or bank". The card network holds the money: the saga must hold for the dispute
    (PaymentNotAllowed), not count a failed refund to be tried again (RefundFailed)."""
    cap = paypal_fake.charge("20.00")
    paypal_fake.chargeback(cap)
    with pytest.raises(PaymentNotAllowed, match="REFUND_NOT_PERMITTED_DUE_TO_CHARGEBACK"):
        paypal.create_refund(f"cap:{cap}", 2000, KEY, META)
    assert paypal_fake.effects("refund") == []


def test_zero_decimal_currency_and_pending_refund(paypal: PayPalGateway, paypal_fake: FakePayPal) -> None:
    cap = paypal_fake.charge("5000", "JPY")
    assert paypal.retrieve(f"cap:{cap}").captured == 5000
    paypal_fake.refund_status = "PENDING"
    refund = paypal.create_refund(f"cap:{cap}", 1200, KEY, META)
    assert (refund.amount, refund.status) == (1200, "pending")
    assert paypal_fake.refunds[refund.refund_id]["amount"]["value"] == "1200"
    assert paypal.retrieve(f"cap:{cap}").refunded == 1200  # pending counts, as with Stripe


def test_long_effect_key_is_hashed_into_the_tag(paypal: PayPalGateway, paypal_fake: FakePayPal) -> None:
    key = "backout:settle:" + "x" * 240
    cap = paypal_fake.charge("5.00")
    paypal.create_refund(f"cap:{cap}", 100, key, META)
    assert paypal_fake.effects("refund")[0]["invoice_id"] == effect_tag(key)
    assert len(effect_tag(key)) <= 127
    assert paypal.find_refund(f"cap:{cap}", key) is not None


def test_several_captures_are_listed_and_refunded_one_by_one(paypal: PayPalGateway, paypal_fake: FakePayPal) -> None:
    auth = paypal_fake.authorize("10.00")
    first, second = paypal_fake.capture(auth, "4.00"), paypal_fake.capture(auth, "6.00")
    state = paypal.retrieve(f"auth:{auth}")
    assert (state.status, state.captured) == ("captured", 1000)
    assert [(c.capture_id, c.captured, c.refunded) for c in state.captures] == [(first, 400, 0), (second, 600, 0)]
    with pytest.raises(PaymentNotAllowed, match="2 completed captures"):  # which one? the caller must say
        paypal.create_refund(f"auth:{auth}", 1000, KEY, META)
    paypal.create_refund(f"auth:{auth}", 250, f"{KEY}#{second}", META, second)
    with pytest.raises(PaymentNotAllowed, match="not a completed capture"):
        paypal.create_refund(f"auth:{auth}", 100, KEY, META, "NOTACAPTURE")
    after = paypal.retrieve(f"auth:{auth}")
    assert [(c.capture_id, c.refunded) for c in after.captures] == [(first, 0), (second, 250)]
    assert after.refunded == 250
    assert paypal.find_refund(f"auth:{auth}", f"{KEY}#{second}", second) is not None
    assert paypal.find_refund(f"auth:{auth}", f"{KEY}#{second}", first) is None  # tags are per capture


@pytest.mark.parametrize("status", [429, 500, 503])
def test_faults_are_transient_and_do_nothing(paypal: PayPalGateway, paypal_fake: FakePayPal, status: int) -> None:
    cap = paypal_fake.charge("10.00")
    paypal_fake.fail_next(1, status, path_contains="/refund")
    with pytest.raises(TransientError):
        paypal.create_refund(f"cap:{cap}", 1000, KEY, META)
    assert paypal_fake.effects("refund") == []
    assert paypal.create_refund(f"cap:{cap}", 1000, KEY, META).status == "succeeded"


def test_token_is_cached_and_renewed_on_401(paypal: PayPalGateway, paypal_fake: FakePayPal) -> None:
    auth = paypal_fake.authorize("10.00")
    paypal.retrieve(f"auth:{auth}")
    paypal.retrieve(f"auth:{auth}")
    assert len(paypal_fake.effects("token")) == 1
    paypal_fake.revoke_tokens()
    assert paypal.retrieve(f"auth:{auth}").status == "authorized"
    assert len(paypal_fake.effects("token")) == 2


def test_wrong_credentials(paypal_fake: FakePayPal) -> None:
    cap = paypal_fake.charge("10.00")
    wrong = PayPalGateway(paypal_fake.url, "client-id", "wrong-secret", timeout=5)
    with pytest.raises(PaymentNotAllowed, match="invalid_client"):
        wrong.retrieve(f"cap:{cap}")
    with pytest.raises(RefundFailed, match="invalid_client"):
        wrong.create_refund(f"cap:{cap}", 100, KEY, META)


def test_unknown_payment_is_refused(paypal: PayPalGateway) -> None:
    with pytest.raises(PaymentNotAllowed, match="RESOURCE_NOT_FOUND|INVALID_RESOURCE_ID"):
        paypal.retrieve("auth:NOSUCHAUTH")
    with pytest.raises(RefundFailed):
        paypal.find_refund("cap:NOSUCHCAP", KEY)


def test_gateway_for_paypal(paypal_fake: FakePayPal, monkeypatch: pytest.MonkeyPatch) -> None:
    import backout.credentials
    from backout.adapters.gateway import gateway_for

    monkeypatch.setattr(backout.credentials, "provider_credentials",
                        lambda: {"paypal_client_id": "client-id", "paypal_client_secret": "client-secret"})
    monkeypatch.setenv("PAYPAL_API_BASE", paypal_fake.url)
    gateway = gateway_for("paypal")
    assert gateway.name == "paypal"
    assert gateway.retrieve(f"auth:{paypal_fake.authorize('1.00')}").status == "authorized"


def test_bare_ids_are_resolved_by_reading_them(paypal: PayPalGateway, paypal_fake: FakePayPal) -> None:
    # WooCommerce stores PayPal's bare id as transaction_id: an authorization or a capture
    auth = paypal_fake.authorize("12.00")
    cap = paypal_fake.charge("7.00")
    assert paypal.retrieve(auth).status == "authorized"
    assert (paypal.retrieve(cap).status, paypal.retrieve(cap).captured) == ("captured", 700)
    paypal.void(auth, KEY)
    assert paypal_fake.authorizations[auth]["status"] == "VOIDED"
    assert paypal.create_refund(cap, 700, KEY, META).amount == 700
    with pytest.raises(PaymentNotAllowed, match="neither an authorization nor a capture"):
        paypal.retrieve("NOSUCHPAYMENT1")


def test_legacy_refunds_tagged_in_custom_id_are_still_found(paypal: PayPalGateway, paypal_fake: FakePayPal) -> None:
    cap = paypal_fake.charge("9.00")
    status, _ = paypal._api("POST", f"/v2/payments/captures/{cap}/refund",
                            body={"amount": {"value": "9.00", "currency_code": "USD"}, "custom_id": KEY})
    assert status == 201
    found = paypal.find_refund(f"cap:{cap}", KEY)
    assert found is not None and found.amount == 900


@pytest.mark.parametrize(("currency", "value", "minor"), [("JPY", "5000", 5000), ("KWD", "12.345", 12345)])
def test_zero_and_three_decimal_currencies_cross_the_wire_exactly(
        paypal: PayPalGateway, paypal_fake: FakePayPal, currency: str, value: str, minor: int) -> None:
    cap = paypal_fake.charge(value, currency)
    state = paypal.retrieve(cap)
    assert (state.currency, state.captured) == (currency, minor)
    refund = paypal.create_refund(cap, minor - 1, KEY, META)
    assert refund.amount == minor - 1
    sent = paypal_fake.refunds[refund.refund_id]["amount"]["value"]
    assert sent == {"JPY": "4999", "KWD": "12.344"}[currency]


BUNDLE = {"order_id": "woocommerce:1001", "amount": 2000, "currency": "USD", "carrier": "dhl",
          "tracking_number": "JD0146000012345", "scans": [{"at": "2025-03-01T10:00:00+00:00", "status": "in_transit"}],
          "shipping_date": "2025-03-01T10:00:00+00:00", "delivery_date": None,
          "cancellation_requests": [{"request_id": "r1", "initiator": "buyer", "reason": "changed mind",
                                     "recorded_at": "2025-03-02T09:00:00+00:00"}],
          "refunds": [], "policy": "Cancel free until shipped."}


def test_evidence_maps_carrier_tracking_and_policy() -> None:
    evidences = paypal_evidences(BUNDLE)
    assert [e["evidence_type"] for e in evidences] == ["PROOF_OF_FULFILLMENT", "OTHER"]
    assert evidences[0]["evidence_info"]["tracking_info"] == [{"carrier_name": "DHL",
                                                               "tracking_number": "JD0146000012345"}]
    assert "Cancel free until shipped." in evidences[1]["notes"] and "changed mind" in evidences[1]["notes"]
    other = paypal_evidences({**BUNDLE, "carrier": "Yodel", "refunds": [{"outcome": "refunded", "refund_id": "R1"}]})
    assert other[0]["evidence_info"]["tracking_info"][0] == {"carrier_name": "OTHER", "carrier_name_other": "Yodel",
                                                             "tracking_number": "JD0146000012345"}
    assert other[1] == {"evidence_type": "PROOF_OF_REFUND", "evidence_info": {"refund_ids": ["R1"]}}
    assert all(len(e.get("notes", "")) <= 2000 for e in paypal_evidences({**BUNDLE, "policy": "x" * 5000}))


def test_dispute_evidence_is_provided_once(paypal: PayPalGateway, paypal_fake: FakePayPal) -> None:
    cap = paypal_fake.charge("20.00")
    dispute = paypal_fake.open_dispute(cap)
    sent = paypal.submit_dispute_evidence(dispute, BUNDLE, "backout:evidence:x")
    assert (sent.submitted, sent.status, sent.fields) == (True, "UNDER_REVIEW", ("PROOF_OF_FULFILLMENT", "OTHER"))
    again = paypal.submit_dispute_evidence(dispute, BUNDLE, "backout:evidence:x")  # a retry: looked up, not sent
    assert (again.submitted, again.status) == (False, "UNDER_REVIEW")
    [entry] = paypal_fake.effects("evidence")
    assert entry["evidence_types"] == ["PROOF_OF_FULFILLMENT", "OTHER"]
    stored = paypal_fake.disputes[dispute]["evidences"][0]
    assert stored["evidence_info"]["tracking_info"][0]["tracking_number"] == "JD0146000012345"


def test_dispute_evidence_lost_answer_then_retry_is_one_submission(paypal: PayPalGateway,
                                                                   paypal_fake: FakePayPal) -> None:
    dispute = paypal_fake.open_dispute(paypal_fake.charge("20.00"))
    paypal_fake.drop_next_response(method="POST", path_contains="/provide-evidence")
    with pytest.raises(TransientError):
        paypal.submit_dispute_evidence(dispute, BUNDLE, "k")
    assert paypal.submit_dispute_evidence(dispute, BUNDLE, "k").submitted is False
    assert len(paypal_fake.effects("evidence")) == 1


def test_dispute_evidence_errors(paypal: PayPalGateway, paypal_fake: FakePayPal) -> None:
    with pytest.raises(PaymentNotAllowed, match="RESOURCE_NOT_FOUND|INVALID_RESOURCE_ID"):
        paypal.submit_dispute_evidence("PP-D-NOPE", BUNDLE, "k")
    dispute = paypal_fake.open_dispute(paypal_fake.charge("20.00"))
    paypal_fake.fail_next(1, 503, path_contains="/provide-evidence")
    with pytest.raises(TransientError):
        paypal.submit_dispute_evidence(dispute, BUNDLE, "k")
    assert paypal_fake.effects("evidence") == []
    # a JSON body is refused: PayPal's provide-evidence takes multipart only
    status, body = paypal._api("POST", f"/v1/customer/disputes/{dispute}/provide-evidence",
                               body={"evidences": [{"evidence_type": "OTHER", "notes": "x"}]})
    assert status == 400 and body["details"][0]["issue"] == "MISSING_REQUIRED_PARAMETER"
