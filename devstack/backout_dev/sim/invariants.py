"""The end-of-run checks, against records Backout does not keep itself.

* localstripe (through the stripe SDK): every refund and PaymentIntent;
* the inventory table's counts against the scenarios' lines (and its ledger);
* the order records and their requests;
* the fakes' ledgers: the store's order statuses, the carrier's intercepts and labels;
* the inbox: no forged delivery is recorded under its key.

Each broken rule is a :class:`Violation`; a run is good when there are none.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from backout_dev.sim.delivery import Delivery, SendStats
from backout_dev.sim.scenarios import CUSTOM_SKUS, SKUS, Scenario

_OPEN_STATES = ("CANCEL_REQUESTED", "CANCELLING")
#: Invariants broken by a bug reproduced in tests/sim/test_findings.py (xfail, strict) and owned elsewhere:
#: reported in their own line of the table, not counted as violations until the fix lands (then remove here).
KNOWN_FINDINGS: dict[str, str] = {}  # empty: the refunded-total finding is fixed (tests/sim/test_findings.py)


@dataclass(frozen=True)
class Violation:
    """One broken invariant."""

    kind: str
    order_id: str
    detail: str


@dataclass
class Findings:
    """Violations plus what the checker saw (for the summary)."""

    violations: list[Violation] = field(default_factory=list)
    known: list[Violation] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    held_after_faults: int = 0
    dead_lettered_orders: int = 0
    refunds_checked: int = 0

    def add(self, kind: str, order_id: str, detail: str) -> None:
        """Record a violation (or a known finding, see KNOWN_FINDINGS)."""
        (self.known if kind in KNOWN_FINDINGS else self.violations).append(Violation(kind, order_id, detail))

    def by_kind(self) -> Counter[str]:
        """Violations counted per kind."""
        return Counter(v.kind for v in self.violations)


@dataclass
class RunRecord:
    """What the run did, as the checker needs it."""

    scenarios: list[Scenario]
    deliveries: list[Delivery]
    stats: SendStats
    initial_stock: dict[str, int]
    dead_letter_keys: set[str]
    faults_on: bool


def _refunds(payment_ref: str) -> list[dict[str, Any]]:
    import stripe

    return [r.to_dict() for r in stripe.Refund.list(payment_intent=payment_ref, limit=100).auto_paging_iter()]


def _cancel_accepted(sc: Scenario, deliveries: list[Delivery]) -> bool:
    wanted = ("order.updated cancel-request", "payment_intent.canceled")
    return any(d.accepted and not d.forgery and d.label in wanted for d in deliveries)


def _allowed_statuses(sc: Scenario, cancelled: bool, faults_on: bool) -> set[str]:
    """Where the order may end: terminal (CANCELLED, OPEN) or the operator queue (ON_HOLD)."""
    if not cancelled:
        return {"OPEN"}
    if (sc.dispute and not sc.cancel_first) or (sc.expiry and sc.shipped):
        return {"ON_HOLD"}  # rule 10 (disputed: never refunded too), rule 9 (revenue at risk)
    allowed = {"CANCELLED"} | ({"ON_HOLD"} if sc.dispute else set())
    return allowed | ({"ON_HOLD"} if faults_on else set())


def check(run: RunRecord, env: Any) -> Findings:
    """Every invariant over every order of the run."""
    from backout.repo.inventory import InventoryRepository
    from backout.repo.orders import OrdersRepository

    repo, inventory, found = OrdersRepository(), InventoryRepository(), Findings()
    per_order: dict[int, list[Delivery]] = {}
    for d in run.deliveries:
        per_order.setdefault(d.order_index, []).append(d)
    expected_stock: Counter[str] = Counter()
    for sc in run.scenarios:
        deliveries = per_order.get(sc.index, [])
        dead = any(d.key in run.dead_letter_keys for d in deliveries)
        found.dead_lettered_orders += dead
        order = repo.get_order(sc.order_id)
        status = str((order or {}).get("status", "MISSING"))
        found.statuses[status] += 1
        cancelled = _cancel_accepted(sc, deliveries)
        allowed = _allowed_statuses(sc, cancelled, run.faults_on) | ({"OPEN", "MISSING"} if dead else set())
        if status not in allowed:
            kind = "not_terminal" if status in _OPEN_STATES else "unexpected_status"
            found.add(kind, sc.order_id, f"status {status}, expected one of {sorted(allowed)}")
        if status == "ON_HOLD" and "ON_HOLD" not in _allowed_statuses(sc, cancelled, False):
            found.held_after_faults += 1
        _check_money(sc, status, repo, found)
        _check_requests(sc, repo, found)
        expected_stock.update(_check_stock_lines(sc, status, inventory, found))
        _check_store(sc, status, env, found)
    _check_stock_counts(run, expected_stock, inventory, found)
    _check_carrier(env, found)
    _check_forged(run, env, found)
    for name in run.stats.refused_genuine:
        found.add("genuine_delivery_refused", "-", name)
    for name in run.stats.accepted_forged:
        found.add("forged_delivery_accepted", "-", name)
    return found


def _check_money(sc: Scenario, status: str, repo: Any, found: Findings) -> None:
    """Refunded equals owed, to the minor unit; nothing refunded twice; every refund traced to a request."""
    import stripe

    pi = stripe.PaymentIntent.retrieve(sc.payment_ref).to_dict()
    refunds = _refunds(sc.payment_ref)
    found.refunds_checked += len(refunds)
    ours = [r for r in refunds if (r.get("metadata") or {}).get("backout_effect")]
    ours_total = sum(int(r["amount"]) for r in ours if r.get("status") in ("succeeded", "pending"))
    # localstripe leaves amount_received at 0: a succeeded intent has received its amount
    received = int(pi.get("amount_received") or (pi.get("amount") if pi.get("status") == "succeeded" else 0) or 0)
    owed = received - sc.prerefund if sc.captured else 0
    keys = Counter(r["metadata"]["backout_effect"] for r in ours)
    for key, n in keys.items():
        if n > 1:
            found.add("double_refund", sc.order_id, f"{n} refunds for effect {key}")
    if sum(int(r["amount"]) for r in refunds) > received:
        found.add("over_refund", sc.order_id, f"refunds {sum(int(r['amount']) for r in refunds)} > captured {received}")
    if status == "CANCELLED" and ours_total != owed:
        found.add("refund_not_owed_amount", sc.order_id, f"refunded {ours_total}, owed {owed} {sc.currency}")
    elif status == "ON_HOLD" and ours_total not in (0, owed):
        found.add("refund_not_owed_amount", sc.order_id, f"held with {ours_total} refunded of {owed}")
    elif status not in ("CANCELLED", "ON_HOLD") and ours:
        found.add("refund_without_cancellation", sc.order_id, f"{len(ours)} refunds on a {status} order")
    for r in ours:
        if str(r["currency"]).upper() != sc.currency:
            found.add("refund_currency", sc.order_id, f"{r['currency']} != {sc.currency}")
    if not sc.captured and status == "CANCELLED" and pi.get("status") != "canceled":
        found.add("authorization_not_voided", sc.order_id, f"PaymentIntent is {pi.get('status')}")
    if not sc.captured and refunds:
        found.add("refund_on_authorization", sc.order_id, f"{len(refunds)} refunds on an uncaptured payment")
    if status == "CANCELLED" and sc.captured:
        order = repo.get_order(sc.order_id) or {}
        if int(order.get("refunded_total") or 0) != ours_total:
            found.add("order_record_refunded_total", sc.order_id,
                      f"record says {order.get('refunded_total')}, Stripe holds {ours_total}")
    _check_trace(sc, ours, repo, found)


def _check_trace(sc: Scenario, ours: list[dict[str, Any]], repo: Any, found: Findings) -> None:
    """Rule 3: each of Backout's refunds names its effect, and the effect names a recorded request."""
    prefix = f"backout:settle:{sc.order_id}:"
    for r in ours:
        key = str(r["metadata"]["backout_effect"])
        if not key.startswith(prefix) or repo.get_request(sc.order_id, key[len(prefix):]) is None:
            found.add("refund_without_request", sc.order_id, f"refund {r['id']} effect {key}")


def _check_requests(sc: Scenario, repo: Any, found: Findings) -> None:
    """A forged cancel request recorded nothing: the order has no request at all."""
    if sc.forged_cancel and not sc.cancel and not sc.expiry:
        requests = repo.items(sc.order_id, "REQ#")
        if requests:
            found.add("forged_request_recorded", sc.order_id, f"{len(requests)} requests")


def _check_stock_lines(sc: Scenario, status: str, inventory: Any, found: Findings) -> Counter[str]:
    """Ledger entries exist exactly for the standard lines of cancelled orders; returns the units they moved."""
    moved: Counter[str] = Counter()
    for line in sc.lines:
        entry = inventory.ledger_entry(line.sku, sc.order_id, str(line.line_id))
        if entry is not None:
            moved[line.sku] += int(entry["quantity"])
        if line.custom and entry is not None:
            found.add("custom_item_restocked", sc.order_id, f"{line.sku} line {line.line_id}")
        elif not line.custom and status == "CANCELLED" and (entry is None or int(entry["quantity"]) != line.qty):
            found.add("stock_not_restored", sc.order_id, f"{line.sku} line {line.line_id}: ledger {entry}")
        elif status not in ("CANCELLED", "ON_HOLD") and entry is not None:
            found.add("restock_without_cancellation", sc.order_id, f"{line.sku} line {line.line_id}")
    return moved


def _check_stock_counts(run: RunRecord, moved: Counter[str], inventory: Any, found: Findings) -> None:
    """Per SKU: the count moved by exactly the cancelled standard units (custom SKUs never move)."""
    cancelled_units: Counter[str] = Counter()
    for sku in SKUS + CUSTOM_SKUS:
        delta = inventory.stock(sku) - run.initial_stock.get(sku, 0)
        if delta != moved.get(sku, 0):
            found.add("stock_count_mismatch", sku, f"count moved {delta}, ledger says {moved.get(sku, 0)}")
        cancelled_units[sku] = delta
    for sku in CUSTOM_SKUS:
        if cancelled_units[sku]:
            found.add("custom_stock_changed", sku, f"moved {cancelled_units[sku]}")


def _check_store(sc: Scenario, status: str, env: Any, found: Findings) -> None:
    """The store shows cancelled exactly the orders Backout cancelled."""
    store = str(env.woo.orders.get(str(sc.no), {}).get("status"))
    if (status == "CANCELLED") != (store == "cancelled"):
        found.add("store_status", sc.order_id, f"Backout {status}, store {store}")


def _check_carrier(env: Any, found: Findings) -> None:
    """At most one intercept per parcel and one return label per order."""
    intercepts = Counter(e["tracking_number"] for e in env.carrier.effects("intercept"))
    labels = Counter(e["order_id"] for e in env.carrier.effects("label"))
    for number, n in intercepts.items():
        if n > 1 and number.startswith("SIMTRK"):
            found.add("double_intercept", number, f"{n} intercepts")
    for order_id, n in labels.items():
        if n > 1:
            found.add("double_return_label", order_id, f"{n} labels")


def _check_forged(run: RunRecord, env: Any, found: Findings) -> None:
    """No forged delivery was recorded in the inbox."""
    from backout.repo.dynamo import to_item

    ddb = env.stack.client("dynamodb")
    table = env.stack.refs["InboxTable"]
    for d in run.deliveries:
        if d.forgery and d.key and "Item" in ddb.get_item(TableName=table, Key=to_item({"pk": d.key})):
            found.add("forged_delivery_recorded", d.key, d.label)
