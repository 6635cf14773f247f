"""The local stack's Stripe controls: held (pending) refunds, later refund failures, disputes decided won or
lost, and Stripe Event bodies that the local stack accepts and Backout normalises."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import pytest
import stripe

from backout.adapters.stripe_gateway import StripeGateway
from backout.ingress.normalize import normalize
from backout_dev.fakes import stripe_events as ev

_orders = itertools.count(1)


@pytest.fixture()
def gateway(local_env: Any) -> StripeGateway:
    return StripeGateway(api_key=local_env.secrets["credentials"]["stripe_api_key"])


@pytest.fixture()
def pi(local_env: Any) -> str:
    """A captured PaymentIntent of 50.00 USD on localstripe."""
    from backout_dev.demo import _payment_intent

    return _payment_intent(5000, "USD", True, 90_000 + next(_orders))


def refund(gateway: StripeGateway, pi: str, amount: int, effect: str = "fx") -> str:
    meta = {"backout_order_id": f"woocommerce:ctl-{pi}", "backout_request_id": "r1"}
    return gateway.create_refund(pi, amount, f"{effect}:{pi}", meta).refund_id


def charge_of(pi: str) -> dict[str, Any]:
    charge = stripe.PaymentIntent.retrieve(pi).to_dict()["latest_charge"]
    return dict(stripe.Charge.retrieve(charge if isinstance(charge, str) else charge["id"]).to_dict())


def test_a_held_refund_is_pending_and_counts_on_the_charge_as_on_stripe(local_env: Any, gateway: StripeGateway,
                                                                         pi: str) -> None:
    local_env.stripe.hold_refunds(pi)
    re_id = refund(gateway, pi, 2000)
    assert stripe.Refund.retrieve(re_id).status == "pending"
    found = gateway.find_refund(pi, f"fx:{pi}")
    assert found is not None and (found.refund_id, found.status) == (re_id, "pending")
    assert gateway.retrieve(pi).refunded == 2000  # Backout counts in-flight refunds, as amount_refunded does
    assert (charge_of(pi)["amount_refunded"], charge_of(pi)["refunded"]) == (2000, False)
    assert (local_env.stripe.pending_minor(pi), local_env.stripe.refunded_minor(pi)) == (2000, 0)
    local_env.stripe.hold_refunds(pi, False)
    assert stripe.Refund.retrieve(refund(gateway, pi, 1000, "second")).status == "succeeded"
    assert (local_env.stripe.pending_minor(pi), local_env.stripe.refunded_minor(pi)) == (2000, 1000)


def test_only_the_held_payment_intent_is_held(local_env: Any, gateway: StripeGateway, pi: str) -> None:
    from backout_dev.demo import _payment_intent

    local_env.stripe.hold_refunds(_payment_intent(700, "USD", True, 90_000 + next(_orders)))
    assert stripe.Refund.retrieve(refund(gateway, pi, 500)).status == "succeeded"


def test_a_pending_refund_that_succeeds_counts(local_env: Any, gateway: StripeGateway, pi: str) -> None:
    local_env.stripe.hold_refunds(pi)
    re_id = refund(gateway, pi, 2000)
    answer = local_env.stripe.set_refund_status(re_id, "succeeded")
    keys = ("id", "object", "amount", "currency", "status", "payment_intent", "failure_reason")
    assert {k: answer[k] for k in keys} == {"id": re_id, "object": "refund", "amount": 2000, "currency": "usd",
                                           "status": "succeeded", "payment_intent": pi, "failure_reason": None}
    assert answer["metadata"]["backout_effect"] == f"fx:{pi}" and answer["charge"].startswith("ch_")
    assert (local_env.stripe.pending_minor(pi), local_env.stripe.refunded_minor(pi)) == (0, 2000)
    found = gateway.find_refund(pi, f"fx:{pi}")
    assert found is not None and found.status == "succeeded"
    assert gateway.retrieve(pi).refunded == 2000


def test_a_succeeded_refund_that_fails_later_stops_counting(local_env: Any, gateway: StripeGateway, pi: str) -> None:
    re_id = refund(gateway, pi, 5000)
    assert (charge_of(pi)["refunded"], gateway.retrieve(pi).refunded) == (True, 5000)
    failed = local_env.stripe.set_refund_status(re_id, "failed", "expired_or_canceled_card")
    assert (failed["status"], failed["failure_reason"]) == ("failed", "expired_or_canceled_card")
    assert str(failed["failure_balance_transaction"]).startswith("txn_")
    assert (charge_of(pi)["amount_refunded"], charge_of(pi)["refunded"]) == (0, False)
    assert gateway.retrieve(pi).refunded == 0
    found = gateway.find_refund(pi, f"fx:{pi}")
    assert found is not None and found.status == "failed"
    assert local_env.stripe.refunded_minor(pi) == 0


def test_a_canceled_pending_refund_stops_counting_and_failed_defaults_to_unknown(local_env: Any,
                                                                                 gateway: StripeGateway,
                                                                                 pi: str) -> None:
    local_env.stripe.hold_refunds(pi)
    canceled, failed = refund(gateway, pi, 1000, "a"), refund(gateway, pi, 1500, "b")
    assert local_env.stripe.set_refund_status(canceled, "canceled")["status"] == "canceled"
    assert local_env.stripe.set_refund_status(failed, "failed")["failure_reason"] == "unknown"
    assert (charge_of(pi)["amount_refunded"], gateway.retrieve(pi).refunded) == (0, 0)
    assert local_env.stripe.pending_minor(pi) == 0


@pytest.mark.parametrize(("first", "then", "reason"), [
    ("failed", "succeeded", None),  # a failed refund stays failed
    ("succeeded", "canceled", None),  # only a refund not yet sent can be canceled
    ("succeeded", "failed", "card_was_lost"),  # not one of Stripe's failure reasons
    ("pending", "succeeded", "unknown"),  # a failure reason on a refund that did not fail
])
def test_moves_stripe_does_not_make_are_refused(local_env: Any, gateway: StripeGateway, pi: str, first: str,
                                                then: str, reason: str | None) -> None:
    local_env.stripe.hold_refunds(pi)
    re_id = refund(gateway, pi, 1000)
    if first != "pending":
        local_env.stripe.set_refund_status(re_id, first)
    with pytest.raises(ValueError, match="localstripe 400"):
        local_env.stripe.set_refund_status(re_id, then, reason)
    assert stripe.Refund.retrieve(re_id).status == first


def test_an_unknown_refund_is_a_404(local_env: Any) -> None:
    with pytest.raises(ValueError, match="localstripe 404"):
        local_env.stripe.set_refund_status("re_missing", "succeeded")


def test_a_lost_dispute_is_money_back_to_the_buyer(local_env: Any, gateway: StripeGateway, pi: str) -> None:
    fake = local_env.stripe_disputes
    lost, won = fake.open_dispute(pi, 3000, "usd"), fake.open_dispute(pi, 1000, "usd")
    closed = fake.close_dispute(lost, "lost")
    assert (closed["id"], closed["object"], closed["status"], closed["payment_intent"]) == (lost, "dispute", "lost", pi)
    assert fake.close_dispute(won, "won")["status"] == "won"
    assert fake.lost_minor(pi) == 3000 and fake.lost_minor("pi_other") == 0
    with pytest.raises(ValueError):
        fake.close_dispute(lost, "won")  # decided once
    refund(gateway, pi, 2000)
    assert local_env.stripe.refunded_minor(pi) + fake.lost_minor(pi) == 5000


def test_an_inquiry_closes_as_warning_closed_and_is_never_lost(local_env: Any, pi: str) -> None:
    fake = local_env.stripe_disputes
    dp = fake.open_dispute(pi, 1000, "usd")
    fake.disputes[dp]["status"] = "warning_needs_response"
    with pytest.raises(ValueError):
        fake.close_dispute(dp, "lost")
    assert fake.close_dispute(dp, "won")["status"] == "warning_closed"
    assert fake.lost_minor(pi) == 0


def _new_refund(env: Any, gateway: StripeGateway, pi: str) -> dict[str, Any]:
    refund(gateway, pi, 900)
    return dict(env.stripe.refunds(pi)[0])


def _settled_refund(env: Any, gateway: StripeGateway, pi: str) -> dict[str, Any]:
    env.stripe.hold_refunds(pi)
    return dict(env.stripe.set_refund_status(refund(gateway, pi, 900), "succeeded"))


def _failed_refund(env: Any, gateway: StripeGateway, pi: str) -> dict[str, Any]:
    return dict(env.stripe.set_refund_status(refund(gateway, pi, 1200), "failed", "lost_or_stolen_card"))


def _closed_dispute(env: Any, pi: str) -> dict[str, Any]:
    return dict(env.stripe_disputes.close_dispute(env.stripe_disputes.open_dispute(pi, 800, "usd"), "lost"))


Build = Callable[[Any, StripeGateway, str], dict[str, Any]]
CASES: list[tuple[str, Build, dict[str, Any]]] = [
    ("refund.created", lambda e, g, p: ev.refund_created(_new_refund(e, g, p)),
     {"kind": "refund_settled", "status": "succeeded", "amount": 900}),
    ("refund.updated", lambda e, g, p: ev.refund_updated(_settled_refund(e, g, p), "pending"),
     {"kind": "refund_settled", "status": "succeeded", "amount": 900}),
    ("refund.failed", lambda e, g, p: ev.refund_failed(_failed_refund(e, g, p), "succeeded"),
     {"kind": "refund_settled", "status": "failed", "failure_reason": "lost_or_stolen_card", "amount": 1200}),
    ("charge.refund.updated", lambda e, g, p: ev.charge_refund_updated(_failed_refund(e, g, p), "succeeded"),
     {"kind": "refund_settled", "status": "failed", "failure_reason": "lost_or_stolen_card"}),
    ("charge.dispute.created", lambda e, g, p: ev.dispute_created(
        e.stripe_disputes.disputes[e.stripe_disputes.open_dispute(p, 800, "usd")]),
     {"kind": "dispute_opened", "amount": 800, "reason": "fraudulent"}),
    ("charge.dispute.closed", lambda e, g, p: ev.dispute_closed(_closed_dispute(e, p)),
     {"kind": "dispute_closed", "outcome": "lost"}),
    ("charge.dispute.funds_withdrawn", lambda e, g, p: ev.dispute_funds_withdrawn(_closed_dispute(e, p)),
     {"kind": "ignored", "topic": "charge.dispute.funds_withdrawn"}),
]


@pytest.mark.parametrize(("type_", "build", "expected"), CASES, ids=[c[0] for c in CASES])
def test_each_event_is_accepted_and_normalised(local_env: Any, gateway: StripeGateway, pi: str, type_: str,
                                               build: Build, expected: dict[str, Any]) -> None:
    body = build(local_env, gateway, pi)
    assert (body["type"], body["object"], body["livemode"]) == (type_, "event", False)
    assert body["id"].startswith("evt_") and body["data"]["object"]["id"]
    status, answer = ev.send_stripe_event(local_env, body)
    assert status == 200, answer
    [event] = normalize("stripe", body, {}, datetime.now(timezone.utc))
    assert {k: getattr(event, k) for k in expected} == expected
    if event.kind != "ignored":
        assert event.payment_ref == pi


def test_builders_refuse_the_wrong_object() -> None:
    dispute = {"id": "dp_1", "object": "dispute", "status": "needs_response"}
    with pytest.raises(ValueError):
        ev.refund_created(dispute)
    with pytest.raises(ValueError):
        ev.refund_failed({"id": "re_1", "object": "refund", "status": "succeeded"})
    with pytest.raises(ValueError):
        ev.dispute_closed(dispute)
    updated = ev.refund_updated({"id": "re_1", "object": "refund", "status": "failed"}, "succeeded")
    assert updated["data"]["previous_attributes"] == {"status": "succeeded", "failure_reason": None,
                                                      "failure_balance_transaction": None}
    assert "previous_attributes" not in ev.refund_created({"id": "re_1", "object": "refund"})["data"]
