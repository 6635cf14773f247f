"""ShopifyClient against FakeShopify: read-first cancel, async jobs, user errors and faults."""

from __future__ import annotations

import re
from datetime import date

import pytest

from backout.adapters import shopify as shopify_module
from backout.adapters.http import request_json
from backout.adapters.shopify import ShopifyClient, order_gid
from backout.errors import PlatformRejected, TransientError
from backout_dev.fakes import FakeShopify
from backout_dev.fakes import shopify as fake_shopify_module


def test_cancel_happy_path(shopify: ShopifyClient, shopify_fake: FakeShopify) -> None:
    gid = shopify_fake.add_order(1001)
    assert shopify.get_order("1001") == shopify.get_order(gid)
    result = shopify.cancel_order("1001", reason="CUSTOMER", staff_note="Backout request req-1")
    assert (result.order_id, result.status) == (gid, "cancelled")
    order = shopify.get_order(gid)
    assert order is not None and order.cancelled_at and order.financial_status == "REFUNDED"
    [entry] = shopify_fake.effects("cancel")
    assert entry["refund_method"] == {"originalPaymentMethodsRefund": True} and entry["restock"] is True and entry["staff_note"] == "Backout request req-1"


def test_cancel_twice_is_one_cancel(shopify: ShopifyClient, shopify_fake: FakeShopify) -> None:
    gid = shopify_fake.add_order()
    shopify.cancel_order(gid)
    assert shopify.cancel_order(gid).status == "already_cancelled"
    assert len(shopify_fake.effects("cancel")) == 1


def test_authorized_order_is_voided_by_cancel(shopify: ShopifyClient, shopify_fake: FakeShopify) -> None:
    gid = shopify_fake.add_order(financial_status="AUTHORIZED")
    shopify.cancel_order(gid, refund_to="none")
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


# ------------------------------------------------------------------ API version and refundMethod (issue 14, item 6)
def _support_ends(version: str) -> date:
    """Shopify: "Each stable version is supported for a minimum of 12 months"; e.g. "2023-01 | January 1, 2023 |
    January 1, 2024" (https://shopify.dev/docs/api/usage/versioning, Release schedule)."""
    year, month = (int(part) for part in version.split("-"))
    months = year * 12 + (month - 1) + shopify_module.SUPPORT_MONTHS
    return date(months // 12, months % 12 + 1, 1)


def test_pinned_version_is_inside_shopifys_support_window() -> None:
    version = shopify_module.API_VERSION
    assert re.fullmatch(r"\d{4}-(01|04|07|10)", version), "stable versions are quarterly: YYYY-01/04/07/10"
    assert _support_ends("2023-01") == date(2024, 1, 1)  # the example row of Shopify's release schedule
    assert date.today() < _support_ends(version), f"Admin API {version} is out of Shopify's support window"
    assert version >= "2025-07", "orderCancel's refundMethod exists from 2025-07"
    assert fake_shopify_module.API_VERSION == version  # the fake serves the version the client pins


def test_client_calls_the_pinned_version(shopify: ShopifyClient) -> None:
    assert f"/admin/api/{shopify_module.API_VERSION}/graphql.json" in shopify.endpoint
    assert "2025-01" not in shopify.endpoint


def test_cancel_sends_refund_method_not_the_deprecated_refund(shopify: ShopifyClient,
                                                              shopify_fake: FakeShopify) -> None:
    """"As of GraphQL Admin API version 2025-07, the orderCancel mutation allows you to issue refunds as store
    credit ... introduces a new refundMethod input ... and deprecates" refund
    (https://shopify.dev/changelog/ordercancel-mutation-now-supports-refunds-to-store-credit)."""
    gid = shopify_fake.add_order()
    shopify.cancel_order(gid, refund_to="store_credit")
    [entry] = shopify_fake.effects("cancel")
    assert entry["refund_method"] == {"storeCreditRefund": {}}
    assert "refund:" not in shopify_module.CANCEL_MUTATION.replace("refundMethod:", "")


def test_fake_refuses_the_deprecated_refund_argument(shopify_fake: FakeShopify) -> None:
    gid = shopify_fake.add_order()
    old = ("mutation C($orderId: ID!, $reason: OrderCancelReason!, $refund: Boolean!, $restock: Boolean!) "
           "{ orderCancel(orderId: $orderId, reason: $reason, refund: $refund, restock: $restock) "
           "{ job { id done } orderCancelUserErrors { code field message } } }")
    answer = request_json("POST", f"{shopify_fake.url}{shopify_fake.path}", headers={"X-Shopify-Access-Token":
                          "shpat_test"}, body={"query": old, "variables": {"orderId": gid, "reason": "CUSTOMER",
                                                                           "refund": True, "restock": False}})
    assert answer["errors"][0]["extensions"]["code"] == "argumentNotAccepted"
    assert shopify_fake.effects("cancel") == [] and shopify_fake.orders[gid]["cancelledAt"] is None
