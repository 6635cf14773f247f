"""TikTokClient against FakeTikTok: signing, idempotent decisions, errors and faults."""

from __future__ import annotations

import hashlib
import hmac
import time

import pytest

from backout.adapters.tiktok import TikTokClient, sign
from backout.errors import PlatformRejected, TransientError
from backout_dev.fakes import FakeTikTok


def test_sign_follows_tiktok_v1_scheme() -> None:
    query = {"timestamp": "1700000000", "app_key": "k", "shop_cipher": "c", "sign": "x", "access_token": "t"}
    expected_base = "s/p" + "app_keyk" + "shop_cipherc" + "timestamp1700000000" + '{"a": 1}' + "s"
    expected = hmac.new(b"s", expected_base.encode(), hashlib.sha256).hexdigest()
    assert sign("/p", query, '{"a": 1}', "s") == expected


def test_approve_once(tiktok: TikTokClient, tiktok_fake: FakeTikTok) -> None:
    cid = tiktok_fake.add_cancellation("576000000000000001")
    assert tiktok.approve_cancellation(cid, "key-1") == "decided"
    assert tiktok.approve_cancellation(cid, "key-1") == "decided"  # same key: replayed answer
    assert tiktok.approve_cancellation(cid, "key-2") == "already_decided"  # new key: read shows approved
    assert tiktok_fake.status(cid) == "CANCELLATION_REQUEST_SUCCESS"
    assert [e["idempotency_key"] for e in tiktok_fake.effects("approve")] == ["key-1"]
    found = tiktok.get_cancellation(cid)
    assert found is not None and (found.order_id, found.role) == ("576000000000000001", "BUYER")


def test_reject_and_conflicts(tiktok: TikTokClient, tiktok_fake: FakeTikTok) -> None:
    cid = tiktok_fake.add_cancellation("576000000000000002")
    assert tiktok.reject_cancellation(cid, "key-r", "seller_reject_apply_product_has_been_packed") == "decided"
    assert tiktok.reject_cancellation(cid, "key-r2", "seller_reject_apply_product_has_been_packed") == "already_decided"
    with pytest.raises(PlatformRejected, match="36009004"):
        tiktok.approve_cancellation(cid, "key-a")
    withdrawn = tiktok_fake.add_cancellation("576000000000000003", status="CANCELLATION_REQUEST_CANCEL")
    with pytest.raises(PlatformRejected):
        tiktok.approve_cancellation(withdrawn, "key-w")
    assert tiktok_fake.effects("approve") == [] and len(tiktok_fake.effects("reject")) == 1


def test_lost_answer_then_retry_is_one_approval(tiktok: TikTokClient, tiktok_fake: FakeTikTok) -> None:
    cid = tiktok_fake.add_cancellation("576000000000000004")
    tiktok_fake.drop_next_response(path_contains="/approve")
    with pytest.raises(TransientError):
        tiktok.approve_cancellation(cid, "key-lost")
    assert tiktok.approve_cancellation(cid, "key-lost") == "decided"
    assert len(tiktok_fake.effects("approve")) == 1


@pytest.mark.parametrize("status", [429, 500])
def test_faults_are_transient(tiktok: TikTokClient, tiktok_fake: FakeTikTok, status: int) -> None:
    cid = tiktok_fake.add_cancellation("576000000000000005")
    tiktok_fake.fail_next(1, status)
    with pytest.raises(TransientError):
        tiktok.approve_cancellation(cid, "key-f")
    assert tiktok_fake.effects("approve") == []
    assert tiktok.approve_cancellation(cid, "key-f") == "decided"


def test_credentials_and_signature_are_checked(tiktok_fake: FakeTikTok) -> None:
    cid = tiktok_fake.add_cancellation("576000000000000006")
    url = tiktok_fake.url
    cases = {
        "105002": TikTokClient(url, "app-key", "app-secret", "wrong-token", "ROW_cipher", timeout=5),
        "106001": TikTokClient(url, "app-key", "wrong-secret", "tts-token", "ROW_cipher", timeout=5),
        "106003": TikTokClient(url, "app-key", "app-secret", "tts-token", "other", timeout=5),
    }
    stale = TikTokClient(url, "app-key", "app-secret", "tts-token", "ROW_cipher", timeout=5,
                         clock=lambda: time.time() - 3600)
    for code, client in [*cases.items(), ("106001", stale)]:
        with pytest.raises(PlatformRejected, match=code):
            client.approve_cancellation(cid, "key-x")
    assert tiktok_fake.effects("approve") == []


def test_unknown_cancellation_and_bad_key(tiktok: TikTokClient) -> None:
    assert tiktok.get_cancellation("123") is None
    with pytest.raises(PlatformRejected, match="36009003"):
        tiktok.approve_cancellation("123", "key-u")
    with pytest.raises(ValueError):
        tiktok.approve_cancellation("123", "")


# ------------------------------------------------------------------ Cancel Order 202602 (issue 14, item 7)
# Partner Center, "Cancel Order": "POST /return_refund/202602/cancellations"; query parameters "app_key, sign,
# timestamp, shop_cipher" (no idempotency key); data "cancel_id", "cancel_status (e.g.
# CANCELLATION_REQUEST_SUCCESS)"; "25001011: Already cancelling or cancelled", "25001045: Shipped. Cannot cancel".
def test_cancel_order_at_202602_without_an_idempotency_key(tiktok: TikTokClient, tiktok_fake: FakeTikTok) -> None:
    from backout.adapters.tiktok import decision_of

    tiktok_fake.add_order("576000000000000001", "USD", "9.00", [{"sale_price": "9.00"}])
    made = tiktok.cancel_order("576000000000000001", "seller_cancel_reason_out_of_stock")
    assert (made.status, made.role, decision_of(made.status)) == ("CANCELLATION_REQUEST_SUCCESS", "SELLER", "approved")
    assert tiktok_fake.orders["576000000000000001"]["status"] == "CANCELLED"
    assert [p for m, p in tiktok_fake.requests if p.endswith("/cancellations")] == ["/return_refund/202602/cancellations"]
    assert tiktok_fake.effects("seller_cancel")[0]["idempotency_key_sent"] is None
    again = tiktok.cancel_order("576000000000000001", "seller_cancel_reason_out_of_stock")  # read first
    assert again.cancel_id == made.cancel_id and len(tiktok_fake.effects("seller_cancel")) == 1
    searches = [p for m, p in tiktok_fake.requests if p.endswith("/search")]
    assert searches and set(searches) == {"/return_refund/202602/cancellations/search"}


def test_cancel_order_lost_answer_is_found_not_repeated(tiktok: TikTokClient, tiktok_fake: FakeTikTok) -> None:
    tiktok_fake.drop_next_response(path_contains="/cancellations", body_contains="cancel_reason")
    with pytest.raises(TransientError):
        tiktok.cancel_order("576000000000000002", "seller_cancel_reason_out_of_stock")
    made = tiktok.cancel_order("576000000000000002", "seller_cancel_reason_out_of_stock")
    assert [e["cancel_id"] for e in tiktok_fake.effects("seller_cancel")] == [made.cancel_id]


def test_cancel_order_already_cancelled_by_the_buyer_is_done(tiktok: TikTokClient, tiktok_fake: FakeTikTok) -> None:
    cid = tiktok_fake.add_cancellation("576000000000000004")
    tiktok.approve_cancellation(cid, "key-approve")  # the buyer's request went through first
    done = tiktok.cancel_order("576000000000000004", "seller_cancel_reason_out_of_stock")
    assert done.cancel_id == cid and tiktok_fake.effects("seller_cancel") == []


def test_cancel_order_on_a_shipped_order_is_rejected(tiktok: TikTokClient, tiktok_fake: FakeTikTok) -> None:
    tiktok_fake.add_order("576000000000000005", "USD", "9.00", [{"sale_price": "9.00"}], status="IN_TRANSIT")
    with pytest.raises(PlatformRejected, match="25001045"):
        tiktok.cancel_order("576000000000000005", "seller_cancel_reason_out_of_stock")


def test_statuses_have_no_rejected_value(tiktok: TikTokClient, tiktok_fake: FakeTikTok) -> None:
    """Search Cancellations 202602 statuses: PENDING, SUCCESS, CANCEL (closed by the buyer or the system),
    COMPLETE. A seller's reject leaves the request closed; "REJECT" is not a status Backout reads."""
    from backout.adapters.tiktok import decision_of

    cid = tiktok_fake.add_cancellation("576000000000000006")
    assert tiktok.reject_cancellation(cid, "key-reject", "seller_reject_apply_product_has_been_packed") == "decided"
    assert tiktok_fake.status(cid) == "CANCELLATION_REQUEST_CANCEL"
    assert decision_of("CANCELLATION_REQUEST_CANCEL") == "rejected"
    assert decision_of("CANCELLATION_REQUEST_REJECT") is None  # undocumented: never read as a decision
    assert tiktok.reject_cancellation(cid, "key-reject-2", "again") == "already_decided"
