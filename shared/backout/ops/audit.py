"""The inventory audit: the stock ledger reconciled with the stock counts (rule 6: error under 0.5 %).

For every SKU in the inventory table:

1. **ledger vs orders**: every ``LEDGER#<order>#<line>`` entry must belong to a
   standard (not custom) line of that order, with that SKU and quantity, on an
   order whose cancellation reached the restock step;
2. **count vs ledger**: the on-hand count must equal the count at the previous
   audit plus the units the ledger restocked since then (the first audit of a
   SKU records its baseline);
3. **count vs platform**: where the platform's adapter reports stock, the
   count must equal it.

A SKU failing any check differs; the error rate is differing SKUs / audited
SKUs. Each run appends a checkpoint per SKU (``AUDIT#<run>``: count and
ledger units) and one run summary (``AUDIT#RUNS / <run>``); nothing is
deleted, so every discrepancy stays on record.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from backout.repo.dynamo import from_item, to_item, values
from backout.repo.inventory import InventoryRepository
from backout.repo.orders import OrdersRepository, now_iso

#: Statuses an order has once the saga may have restocked it.
RESTOCKABLE_STATUSES = frozenset({"CANCELLING", "CANCELLED", "ON_HOLD"})
#: Alarm threshold (percent of SKUs), rule 6.
MAX_ERROR_PERCENT = 0.5
RUNS_PK = "AUDIT#RUNS"

#: The platform's stock by SKU for the SKUs asked (SKUs it does not know are left out).
PlatformStock = Callable[[Sequence[str]], Mapping[str, int]]


@dataclass(frozen=True)
class SkuFinding:
    """One SKU's audit result."""

    sku: str
    on_hand: int
    ledger_units: int
    expected: int | None  # from the previous checkpoint; None on the first audit
    platform: int | None  # the platform's count, where an adapter reports one
    problems: tuple[str, ...] = ()

    @property
    def differs(self) -> bool:
        """True when any check failed."""
        return bool(self.problems)


@dataclass(frozen=True)
class AuditReport:
    """One audit run."""

    run_at: str
    findings: list[SkuFinding] = field(default_factory=list)
    platform_checked: bool = False

    @property
    def differing(self) -> list[SkuFinding]:
        """The SKUs that failed a check."""
        return [f for f in self.findings if f.differs]

    @property
    def error_percent(self) -> float:
        """Differing SKUs per 100 audited (0 with nothing to audit)."""
        return 100.0 * len(self.differing) / len(self.findings) if self.findings else 0.0

    @property
    def over_threshold(self) -> bool:
        """True when the error rate is above 0.5 %."""
        return self.error_percent > MAX_ERROR_PERCENT


def _ledger_problems(entry: Mapping[str, Any], sku: str, orders: OrdersRepository,
                     cache: dict[str, dict[str, Any] | None]) -> list[str]:
    order_id = str(entry.get("order_id", ""))
    if order_id not in cache:
        cache[order_id] = orders.get_order(order_id)
    order = cache[order_id]
    where = f"ledger {order_id}#{entry.get('line_id')}"
    if order is None:
        return [f"{where}: no such order"]
    line = next((ln for ln in order.get("lines", []) if str(ln.get("line_id")) == str(entry.get("line_id"))), None)
    if line is None:
        return [f"{where}: no such line"]
    problems = []
    if str(line.get("sku")) != sku:
        problems.append(f"{where}: line is SKU {line.get('sku')}")
    if int(line.get("quantity", 0)) != int(entry.get("quantity", 0)):
        problems.append(f"{where}: restocked {entry.get('quantity')}, line has {line.get('quantity')}")
    if line.get("custom"):
        problems.append(f"{where}: custom line restocked")
    if order.get("status") not in RESTOCKABLE_STATUSES:
        problems.append(f"{where}: order is {order.get('status')}")
    return problems


class InventoryAudit:
    """Reads the inventory table, checks every SKU, records the run."""

    def __init__(self, inventory: InventoryRepository | None = None, orders: OrdersRepository | None = None,
                 platform_stock: PlatformStock | None = None) -> None:
        self.inventory = inventory or InventoryRepository()
        self.orders = orders or OrdersRepository()
        self.platform_stock = platform_stock

    def _scan_skus(self) -> list[str]:
        ddb, skus = self.inventory.ddb, set()
        kwargs: dict[str, Any] = {"TableName": self.inventory.table, "ProjectionExpression": "pk",
                                  "FilterExpression": "begins_with(pk, :p)",
                                  "ExpressionAttributeValues": values({":p": "SKU#"})}
        while True:
            resp = ddb.scan(**kwargs)
            skus.update(str((from_item(i) or {})["pk"])[4:] for i in resp.get("Items", []))
            if "LastEvaluatedKey" not in resp:
                return sorted(skus)
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    def _items(self, sku: str) -> list[dict[str, Any]]:
        ddb, out = self.inventory.ddb, []
        kwargs: dict[str, Any] = {"TableName": self.inventory.table, "KeyConditionExpression": "pk = :pk",
                                  "ExpressionAttributeValues": values({":pk": f"SKU#{sku}"}), "ConsistentRead": True}
        while True:
            resp = ddb.query(**kwargs)
            out.extend(from_item(i) or {} for i in resp.get("Items", []))
            if "LastEvaluatedKey" not in resp:
                return out
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    def _snapshot(self, sku: str) -> list[dict[str, Any]]:
        """The SKU's items, read until two reads agree (a restock between them would look like an error)."""
        items = self._items(sku)
        for _ in range(3):
            again = self._items(sku)
            if again == items:
                break
            items = again
        return items

    def _audit_sku(self, sku: str, platform: Mapping[str, int], cache: dict[str, dict[str, Any] | None]) -> SkuFinding:
        items = self._snapshot(sku)
        stock = next((i for i in items if i["sk"] == "STOCK"), {})
        ledger = [i for i in items if str(i["sk"]).startswith("LEDGER#")]
        checkpoints = sorted((i for i in items if str(i["sk"]).startswith("AUDIT#")), key=lambda i: str(i["sk"]))
        on_hand, units = int(stock.get("on_hand", 0)), sum(int(e.get("quantity", 0)) for e in ledger)
        problems = [p for e in ledger for p in _ledger_problems(e, sku, self.orders, cache)]
        expected = None
        if checkpoints:
            last = checkpoints[-1]
            expected = int(last["on_hand"]) + units - int(last["ledger_units"])
            if on_hand != expected:
                problems.append(f"count {on_hand}, expected {expected} (last audit {last['on_hand']} "
                                f"+ {units - int(last['ledger_units'])} restocked)")
        theirs = platform.get(sku)
        if theirs is not None and int(theirs) != on_hand:
            problems.append(f"count {on_hand}, platform {theirs}")
        return SkuFinding(sku, on_hand, units, expected, None if theirs is None else int(theirs), tuple(problems))

    def run(self) -> AuditReport:
        """Audit every SKU and record the run (checkpoints and summary)."""
        run_at = now_iso()
        skus = self._scan_skus()
        platform = dict(self.platform_stock(skus)) if self.platform_stock and skus else {}
        cache: dict[str, dict[str, Any] | None] = {}
        report = AuditReport(run_at, [self._audit_sku(sku, platform, cache) for sku in skus],
                             self.platform_stock is not None)
        self._record(report)
        return report

    def _record(self, report: AuditReport) -> None:
        ddb, table = self.inventory.ddb, self.inventory.table
        for f in report.findings:
            ddb.put_item(TableName=table, Item=to_item({
                "pk": f"SKU#{f.sku}", "sk": f"AUDIT#{report.run_at}", "on_hand": f.on_hand,
                "ledger_units": f.ledger_units, "problems": list(f.problems)}))
        ddb.put_item(TableName=table, Item=to_item({
            "pk": RUNS_PK, "sk": report.run_at, "skus_audited": len(report.findings),
            "error_percent": f"{report.error_percent:.3f}",
            "differing": [{"sku": f.sku, "problems": list(f.problems)} for f in report.differing]}))
