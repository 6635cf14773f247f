"""RestockItems: every line back in stock exactly once; custom goods are not."""

from __future__ import annotations

from typing import Any

from backout.repo.inventory import InventoryRepository
from backout.repo.orders import OrdersRepository


def restock(order_id: str, request_id: str, orders: OrdersRepository, inventory: InventoryRepository) -> dict[str, Any]:
    """Restock the order's standard lines; record custom lines as skipped.

    The counts returned are the same on every retry: they describe the
    order, while the ledger decides what actually moves.
    """
    order = orders.require_order(order_id)
    restocked = skipped = 0
    for line in order.get("lines", []):
        qty = int(line["quantity"])
        if line.get("custom"):
            skipped += qty
            fx = orders.record_intent(order_id, f"restock#{line['line_id']}", "restock_skipped", sku=line["sku"],
                                      quantity=qty, reason="custom or non-standard item")
            if fx.get("status") == "intent":
                orders.record_result(order_id, f"restock#{line['line_id']}", "done")
                orders.append_timeline(order_id, "restock_skipped_custom", {"sku": line["sku"], "quantity": qty})
            continue
        restocked += qty
        if inventory.restock_line(order_id, str(line["line_id"]), str(line["sku"]), qty, request_id):
            orders.append_timeline(order_id, "stock_restored", {"sku": line["sku"], "quantity": qty})
    return {"restocked_units": restocked, "skipped_custom_units": skipped}
