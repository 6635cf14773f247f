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
    from backout.domain.rules import goods_with_buyer
    from backout.saga.platforms import has_shipped

    snap = orders.snapshot(order_id)
    order = snap.require_order()
    if goods_with_buyer(has_shipped(order, orders, snap.facts()), snap.facts(),
                        str(order.get("return_tracking_number") or "")):
        return _goods_left(order_id, order, orders)
    restocked = skipped = moved_units = skipped_now = 0
    for line in order.get("lines", []):
        qty, sku, line_id = int(line["quantity"]), str(line.get("sku") or "").strip(), str(line["line_id"])
        custom = bool(line.get("custom"))
        if not sku and not custom:  # never restocked under a made-up key: a person finds the goods
            skipped += qty
            if orders.record_intent(order_id, f"restock#{line_id}", "restock_unidentified").get("status") != "done":
                orders.append_timeline(order_id, "restock_needs_a_person",
                                       {"line_id": line_id, "quantity": qty, "reason": "the line names no SKU"})
                orders.set_flag(order_id, "needs_attention", "a line without a SKU was not restocked")
                orders.record_result(order_id, f"restock#{line_id}", "done")
            continue
        if custom:
            skipped += qty
        else:
            restocked += qty
        effect_id = f"restock#{line_id}"
        fx = orders.record_intent(order_id, effect_id, "restock_skipped" if custom else "restock", sku=sku, quantity=qty)
        if fx.get("status") == "done":
            continue
        if custom:
            orders.append_timeline(order_id, "restock_skipped_custom",
                                   {"sku": sku, "quantity": qty, "reason": "custom or non-standard item"})
            skipped_now += qty
        else:
            # the ledger decides; a retry after a crash finds the entry and moves nothing
            moved = inventory.restock_line(order_id, line_id, sku, qty, request_id)
            moved_units += qty if moved else 0
            orders.append_timeline(order_id, "stock_restored", {"sku": sku, "quantity": qty,
                                                                "ledger": "written" if moved else "already_written"})
        orders.record_result(order_id, effect_id, "done")
    return {"restocked_units": restocked, "skipped_custom_units": skipped, "moved_units": moved_units,
            "skipped_now_units": skipped_now}


def _goods_left(order_id: str, order: dict[str, Any], orders: OrdersRepository) -> dict[str, Any]:
    """The goods are with the buyer (shipped, never came back): nothing is restocked; a person is told, once."""
    units = sum(int(line["quantity"]) for line in order.get("lines", []))
    if orders.record_intent(order_id, "restock#goods_left", "restock_goods_left").get("status") != "done":
        orders.append_timeline(order_id, "restock_skipped_goods_with_buyer",
                               {"units": units, "reason": "shipped and not returned: the goods are not here"})
        orders.set_flag(order_id, "needs_attention", "cancelled with the goods still with the buyer")
        orders.record_result(order_id, "restock#goods_left", "done")
    return {"restocked_units": 0, "skipped_custom_units": 0, "moved_units": 0, "skipped_now_units": 0,
            "goods_with_buyer_units": units}
