"""The inventory audit on the local stack finds planted discrepancies and nothing else it touched."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from backout.ops.audit import InventoryAudit
from backout.repo.dynamo import to_item
from backout.repo.inventory import InventoryRepository
from tests.conftest import Shop, line


def test_audit_finds_planted_discrepancies(shop: Shop, local_env: Any) -> None:
    tag = uuid.uuid4().hex[:6].upper()
    drift, ghost, honest, platform_off = (f"AU-{name}-{tag}" for name in ("DRIFT", "GHOST", "OK", "PLAT"))
    inventory = InventoryRepository()
    for sku in (drift, ghost, honest, platform_off):
        inventory.set_stock(sku, 10)
    # Given a baseline audit
    InventoryAudit().run()
    # and, since then: an honest cancellation restocks one line through the saga
    order = shop.place([line(1, honest, 2, "20.00")])
    shop.send(shop.cancel, shop.body(order, "cancel-request"))
    local_env.stack.wait_idle()
    assert inventory.stock(honest) == 12
    # and planted: a count changed outside the ledger, a ledger entry for an order that does not exist
    inventory.set_stock(drift, 7)
    inventory.ddb.transact_write_items(TransactItems=[
        {"Put": {"TableName": inventory.table, "Item": to_item({"pk": f"SKU#{ghost}", "sk": "LEDGER#woocommerce:0#1",
                                                                  "order_id": "woocommerce:0", "line_id": "1",
                                                                  "quantity": 1, "request_id": "none", "at": "x"})}},
        {"Update": {"TableName": inventory.table, "Key": to_item({"pk": f"SKU#{ghost}", "sk": "STOCK"}),
                    "UpdateExpression": "ADD on_hand :q", "ExpressionAttributeValues": {":q": {"N": "1"}}}}])
    # When the audit runs, with a platform that reports one SKU differently
    report = InventoryAudit(platform_stock=lambda skus: {platform_off: 9, honest: 12}).run()
    # Then exactly the planted SKUs differ, each with its reason
    mine = {f.sku: f for f in report.findings if f.sku.endswith(tag)}
    assert {s for s, f in mine.items() if f.differs} == {drift, ghost, platform_off}
    assert any("expected 10" in p for p in mine[drift].problems)
    assert any("no such order" in p for p in mine[ghost].problems)
    assert any("platform 9" in p for p in mine[platform_off].problems)
    assert mine[honest].problems == () and mine[honest].expected == 12
    assert report.error_percent == pytest.approx(100.0 * len(report.differing) / len(report.findings))
    assert report.over_threshold
    # And the run is on record; the next audit takes the counts as the new baseline
    again = {f.sku: f for f in InventoryAudit().run().findings if f.sku.endswith(tag)}
    assert not again[drift].differs and again[ghost].differs  # a bad ledger entry stays bad
