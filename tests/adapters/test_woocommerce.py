"""WooCommerceClient against the stack's FakeWooCommerce: read-before-write and errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from backout.adapters.woocommerce import WooCommerceClient
from backout.errors import PlatformRejected, TransientError
from backout_dev.processes import FakeWooCommerce, free_port


@pytest.fixture(scope="module")
def woo() -> Iterator[FakeWooCommerce]:
    fake = FakeWooCommerce("ck_test", "cs_test").start()
    yield fake
    fake.stop()


def test_set_status_once(woo: FakeWooCommerce) -> None:
    woo.orders["1001"] = {"id": 1001, "status": "processing"}
    client = WooCommerceClient(woo.url, "ck_test", "cs_test")
    assert client.set_status("1001", "cancelled", "by Backout")["status"] == "cancelled"
    client.set_status("1001", "cancelled", "by Backout")  # replay: read shows it done
    assert len(woo.updates) == 1


def test_errors(woo: FakeWooCommerce) -> None:
    woo.orders["1002"] = {"id": 1002, "status": "processing"}
    with pytest.raises(PlatformRejected, match="401"):
        WooCommerceClient(woo.url, "ck_test", "wrong").get_order("1002")
    client = WooCommerceClient(woo.url, "ck_test", "cs_test")
    with pytest.raises(PlatformRejected, match="404"):
        client.get_order("9999")
    with pytest.raises(PlatformRejected, match="400"):
        client.set_status("1002", "exploded", "")
    with pytest.raises(TransientError):
        WooCommerceClient(f"http://127.0.0.1:{free_port()}", "ck_test", "cs_test").get_order("1002")
