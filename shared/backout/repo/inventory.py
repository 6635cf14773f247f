"""The inventory table: stock counts and the restock ledger.

``SKU#<sku> / STOCK``                    on-hand count
``SKU#<sku> / LEDGER#<order>#<line>``    one restock of one order line

A restock is one transaction: the ledger entry (only if absent) and the
count increment. Replays and retries find the ledger entry and change
nothing, so stock comes back exactly once per line.
"""

from __future__ import annotations

from typing import Any

from backout import aws
from backout.repo.dynamo import from_item, to_item, values, written_once
from backout.repo.orders import now_iso


class InventoryRepository:
    """Stock counts and the restock ledger."""

    def __init__(self, table_name: str | None = None, ddb: Any = None) -> None:
        self.table = table_name or aws.env("INVENTORY_TABLE")
        self.ddb = ddb or aws.client("dynamodb")

    def set_stock(self, sku: str, on_hand: int) -> None:
        """Set a SKU's on-hand count (seeding, audits)."""
        self.ddb.put_item(TableName=self.table, Item=to_item({"pk": f"SKU#{sku}", "sk": "STOCK", "on_hand": on_hand}))

    def stock(self, sku: str) -> int:
        """A SKU's on-hand count (0 when unknown)."""
        resp = self.ddb.get_item(TableName=self.table, Key=to_item({"pk": f"SKU#{sku}", "sk": "STOCK"}),
                                 ConsistentRead=True)
        item = from_item(resp.get("Item"))
        return int(item["on_hand"]) if item else 0

    def restock_line(self, order_id: str, line_id: str, sku: str, quantity: int, request_id: str) -> bool:
        """Put one order line back in stock exactly once; False if already done."""
        ledger = {"pk": f"SKU#{sku}", "sk": f"LEDGER#{order_id}#{line_id}", "order_id": order_id,
                  "line_id": line_id, "quantity": quantity, "request_id": request_id, "at": now_iso()}
        return written_once(lambda: self.ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": self.table, "Item": to_item(ledger),
                         "ConditionExpression": "attribute_not_exists(pk)"}},
                {"Update": {"TableName": self.table,
                            "Key": to_item({"pk": f"SKU#{sku}", "sk": "STOCK"}),
                            "UpdateExpression": "ADD on_hand :q",
                            "ExpressionAttributeValues": values({":q": quantity})}},
            ]
        ))

    def ledger_entry(self, sku: str, order_id: str, line_id: str) -> dict[str, Any] | None:
        """The restock ledger entry of one order line, or None."""
        resp = self.ddb.get_item(TableName=self.table,
                                 Key=to_item({"pk": f"SKU#{sku}", "sk": f"LEDGER#{order_id}#{line_id}"}),
                                 ConsistentRead=True)
        return from_item(resp.get("Item"))
