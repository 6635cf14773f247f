"""ShopifyClient against FakeShopify: read-first cancel, async jobs, user errors and faults."""

from __future__ import annotations

import pytest

from backout.adapters.shopify import ShopifyClient, order_gid
from backout.errors import PlatformRejected, TransientError
from backout_dev.fakes import FakeShopify


def test_cancel_happy_path(shopify: ShopifyClient, shopify_fake: FakeShopify) -> None:
    gid = shopify_fake.add_order(1001)
    assert shopify.get_order("1001") == shopify.get_order(gid)
    result = shopify.cancel_order("1001", reason="CUSTOMER", staff_note="Backout request req-1")
    assert (result.order_id, result.status) == (gid, "cancelled")
    order = shopify.get_order(gid)
    assert order is not None and order.cancelled_at and order.financial_status == "REFUNDED"
    [entry] = shopify_fake.effects("cancel")
    assert entry["refund"] is True and entry["restock"] is True and entry["staff_note"] == "Backout request req-1"


def test_cancel_twice_is_one_cancel(shopify: ShopifyClient, shopify_fake: FakeShopify) -> None:
    gid = shopify_fake.add_order()
    shopify.cancel_order(gid)
    assert shopify.cancel_order(gid).status == "already_cancelled"
    assert len(shopify_fake.effects("cancel")) == 1


def test_authorized_order_is_voided_by_cancel(shopify: ShopifyClient, shopify_fake: FakeShopify) -> None:
    gid = shopify_fake.add_order(financial_status="AUTHORIZED")
    shopify.cancel_order(gid, refund=False)
    order = shopify.get_order(gid)
    assert order is not None and order.financial_status == "VOIDED"


def test_lost_answer_then_retry_is_one_cancel(shopify: ShopifyClient, shopify_fake: FakeShopify) -> None:
    gid = shopify_fake.add_order()
    shopify_fake.drop_next_response(body_contains="orderCancel")  # the read goes through, the mutation's answer is lost
    with pytest.raises(TransientError):
        shopify.cancel_order(gid)
    assert len(shopify_fake.effects("cancel")) == 1
    assert shopify.cancel_order(gid).status == "already_cancelled"
    assert len(shopify_fake.effects("cancel")) == 1


def test_async_job(shopify: ShopifyClient, shopify_fake: FakeShopify) -> None:
    shopify_fake.cancel_job_polls = 2
    gid = shopify_fake.add_order()
    result = shopify.cancel_order(gid)
    assert result.status == "cancelling" and result.job_id
    assert shopify.cancel_order(gid).status == "already_cancelled"  # "being cancelled" counts as done
    assert shopify.job_done(result.job_id) is False
    assert shopify.job_done(result.job_id) is True
    order = shopify.get_order(gid)
    assert order is not None and order.cancelled_at
    assert len(shopify_fake.effects("cancel")) == 1


def test_unknown_order_and_bad_token(shopify: ShopifyClient, shopify_fake: FakeShopify) -> None:
    assert shopify.get_order("999") is None
    with pytest.raises(PlatformRejected, match="not found"):
        shopify.cancel_order("999")
    wrong = ShopifyClient(shopify_fake.url, "wrong", timeout=5)
    with pytest.raises(PlatformRejected, match="401"):
        wrong.get_order(shopify_fake.add_order())
    with pytest.raises(ValueError):
        shopify.cancel_order("1", reason="BORED")


def test_throttled_and_server_errors_are_transient(shopify: ShopifyClient, shopify_fake: FakeShopify) -> None:
    gid = shopify_fake.add_order()
    shopify_fake.throttle_next(1)
    with pytest.raises(TransientError, match="THROTTLED"):
        shopify.cancel_order(gid)
    for status in (429, 502):
        shopify_fake.fail_next(1, status)
        with pytest.raises(TransientError):
            shopify.cancel_order(gid)
    assert shopify_fake.effects("cancel") == []
    assert shopify.cancel_order(gid).status == "cancelled"


def test_order_gid() -> None:
    assert order_gid("42") == "gid://shopify/Order/42"
    assert order_gid("gid://shopify/Order/42") == "gid://shopify/Order/42"
