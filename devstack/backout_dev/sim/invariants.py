"""The end-of-run checks, against records Backout does not keep itself.

* the gateways' own records: localstripe (through the stripe SDK) and the fake
  PayPal (captures, refunds, voids), per order, to the minor unit;
* the platforms' own ledgers: the WooCommerce store's statuses, Shopify's
  ``orderCancel`` calls and order states, Ozon's decisions on its requests;
* the inventory table's counts against the scenarios' lines (and its ledger);
* the order records, their requests and timelines (withdrawals);
* the carrier's intercepts and labels, the disputes' evidence submissions;
* the inbox: no forged delivery is recorded under its key.

Each broken rule is a :class:`Violation`; a run is good when there are none.
Money checks are chosen by the order's gateway and platform checks by its
platform (:data:`MONEY_CHECKS`, :data:`PLATFORM_CHECKS`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from backout_dev.sim.delivery import Delivery, SendStats
from backout_dev.sim.scenarios import CUSTOM_SKUS, SKUS, Scenario

_OPEN_STATES = ("CANCEL_REQUESTED", "CANCELLING")
#: Invariants broken by a bug reproduced in tests/sim/test_findings.py (xfail, strict) and owned elsewhere:
#: reported in their own line of the table, not counted as violations until the fix lands (then remove here).
KNOWN_FINDINGS: dict[str, str] = {}


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
    pair_statuses: dict[str, Counter[str]] = field(default_factory=dict)  # "platform+gateway" -> final states
    withdrawals: Counter[str] = field(default_factory=Counter)  # "honoured" (open again), "too_late" (cancelled)
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


@dataclass(frozen=True)
class Accepted:
    """Which genuine deliveries of the story Backout took (a copy answered 2xx)."""

    cancel: bool  # a cancel request (or an expiry, a system cancellation)
    withdraw: bool

    @classmethod
    def of(cls, deliveries: list[Delivery]) -> Accepted:
        """From the order's deliveries, by their role."""
        taken = {d.role for d in deliveries if d.accepted and not d.forgery}
        return cls("cancel" in taken, "withdraw" in taken)


def _allowed_statuses(sc: Scenario, accepted: Accepted, faults_on: bool) -> set[str]:
    """Where the order may end: terminal (CANCELLED, OPEN) or the operator queue (ON_HOLD).

    A withdrawn request has exactly two consistent ends: OPEN (withdrawn inside the
    window) or CANCELLED (too late); the money, stock and platform checks make sure
    neither is a mix.
    """
    held = {"ON_HOLD"} if faults_on else set()
    withdrawn = {"OPEN"} if accepted.withdraw else set()
    if not accepted.cancel:
        return {"OPEN"}
    if sc.platform_rejects:
        return {"OPEN"} | held  # rule 2 on a marketplace: the posting left, the request is rejected
    if (sc.dispute and not sc.cancel_first) or (sc.expiry and sc.shipped):
        return {"ON_HOLD"} | withdrawn  # rule 10 (disputed: never refunded too), rule 9 (revenue at risk)
    return {"CANCELLED"} | ({"ON_HOLD"} if sc.dispute else set()) | held | withdrawn


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
        found.pair_statuses.setdefault(f"{sc.platform}+{sc.gateway}", Counter())[status] += 1
        accepted = Accepted.of(deliveries)
        allowed = _allowed_statuses(sc, accepted, run.faults_on) | ({"OPEN", "MISSING"} if dead else set())
        if status not in allowed:
            kind = "not_terminal" if status in _OPEN_STATES else "unexpected_status"
            trail = [t.get("step") for t in OrdersRepository().timeline(sc.order_id)]
            found.add(kind, sc.order_id, f"status {status}, expected one of {sorted(allowed)}; story "
                      f"{sc.kinds()} {sc.withdrawal_at if sc.withdrawal else ''}; timeline {trail}")
        if status == "ON_HOLD" and "ON_HOLD" not in _allowed_statuses(sc, accepted, False):
            found.held_after_faults += 1
        MONEY_CHECKS[sc.gateway](sc, status, repo, env, found)
        PLATFORM_CHECKS[sc.platform](sc, status, accepted, env, found)
        _check_requests(sc, repo, found)
        _check_withdrawal(sc, status, accepted, dead, repo, found)
        _check_evidence(sc, env, found)
        expected_stock.update(_check_stock_lines(sc, status, inventory, found))
    _check_stock_counts(run, expected_stock, inventory, found)
    _check_carrier(env, found)
    _check_forged(run, env, found)
    for name in run.stats.refused_genuine:
        found.add("genuine_delivery_refused", "-", name)
    for name in run.stats.accepted_forged:
        found.add("forged_delivery_accepted", "-", name)
    return found


# ---------------------------------------------------------------------------- money, per gateway
def _judge(sc: Scenario, status: str, refunded: int, owed: int, refunds: int, found: Findings) -> None:
    """Refunded equals owed to the minor unit when cancelled; 0 or owed on hold; nothing otherwise."""
    if status == "CANCELLED" and refunded != owed:
        found.add("refund_not_owed_amount", sc.order_id, f"refunded {refunded}, owed {owed} {sc.currency}")
    elif status == "ON_HOLD" and refunded not in (0, owed):
        found.add("refund_not_owed_amount", sc.order_id, f"held with {refunded} refunded of {owed}")
    elif status not in ("CANCELLED", "ON_HOLD") and refunds:
        found.add("refund_without_cancellation", sc.order_id, f"{refunds} refunds on a {status} order")


def _check_record(sc: Scenario, status: str, refunded: int, repo: Any, found: Findings) -> None:
    """A cancelled captured order's ``refunded_total`` is what the gateway holds as Backout's refunds."""
    if status == "CANCELLED" and sc.captured:
        order = repo.get_order(sc.order_id) or {}
        if int(order.get("refunded_total") or 0) != refunded:
            found.add("order_record_refunded_total", sc.order_id,
                      f"record says {order.get('refunded_total')}, the gateway holds {refunded}")


def _check_trace(sc: Scenario, keys: list[tuple[str, str]], repo: Any, found: Findings) -> None:
    """Rule 3: each of Backout's refunds (id, effect key) names a request recorded on the order."""
    prefix = f"backout:settle:{sc.order_id}:"
    for refund_id, key in keys:
        if not key.startswith(prefix) or repo.get_request(sc.order_id, key[len(prefix):]) is None:
            found.add("refund_without_request", sc.order_id, f"refund {refund_id} effect {key}")


def _doubles(sc: Scenario, keys: list[str], found: Findings) -> None:
    for key, n in Counter(keys).items():
        if n > 1:
            found.add("double_refund", sc.order_id, f"{n} refunds for effect {key}")


def _check_money_stripe(sc: Scenario, status: str, repo: Any, env: Any, found: Findings) -> None:
    """localstripe: refunds and the PaymentIntent."""
    import stripe

    pi = stripe.PaymentIntent.retrieve(sc.payment_ref).to_dict()
    refunds = [r.to_dict() for r in stripe.Refund.list(payment_intent=sc.payment_ref, limit=100).auto_paging_iter()]
    found.refunds_checked += len(refunds)
    ours = [r for r in refunds if (r.get("metadata") or {}).get("backout_effect")]
    ours_total = sum(int(r["amount"]) for r in ours if r.get("status") in ("succeeded", "pending"))
    # localstripe leaves amount_received at 0: a succeeded intent has received its amount
    received = int(pi.get("amount_received") or (pi.get("amount") if pi.get("status") == "succeeded" else 0) or 0)
    _doubles(sc, [r["metadata"]["backout_effect"] for r in ours], found)
    if sum(int(r["amount"]) for r in refunds) > received:
        found.add("over_refund", sc.order_id, f"refunds {sum(int(r['amount']) for r in refunds)} > captured {received}")
    _judge(sc, status, ours_total, received - sc.prerefund if sc.captured else 0, len(ours), found)
    for r in ours:
        if str(r["currency"]).upper() != sc.currency:
            found.add("refund_currency", sc.order_id, f"{r['currency']} != {sc.currency}")
    if not sc.captured and status == "CANCELLED" and pi.get("status") != "canceled":
        found.add("authorization_not_voided", sc.order_id, f"PaymentIntent is {pi.get('status')}")
    if not sc.captured and refunds:
        found.add("refund_on_authorization", sc.order_id, f"{len(refunds)} refunds on an uncaptured payment")
    _check_record(sc, status, ours_total, repo, found)
    _check_trace(sc, [(r["id"], str(r["metadata"]["backout_effect"])) for r in ours], repo, found)


def _check_money_paypal(sc: Scenario, status: str, repo: Any, env: Any, found: Findings) -> None:
    """The fake PayPal: captures, refunds (Backout's carry the effect key as ``invoice_id``) and voids."""
    from backout.money import to_minor

    paypal = env.paypal
    with paypal.lock:
        captures = {cid: dict(paypal.captures[cid]) for cid in sc.extra.get("capture_ids", [])}
        refunds = [dict(r) for r in paypal.refunds.values() if r["capture_id"] in captures]
        authorization = dict(paypal.authorizations.get(sc.payment_ref) or {})
        voids = [e for e in paypal.ledger if e["op"] == "void" and e["authorization_id"] == sc.payment_ref]
    found.refunds_checked += len(refunds)

    def minor(money: dict[str, str]) -> int:
        return to_minor(money["value"], money["currency_code"])

    live = [r for r in refunds if r["status"] in ("COMPLETED", "PENDING")]
    ours = [r for r in live if str(r.get("invoice_id") or "").startswith("backout:")]
    ours_total = sum(minor(r["amount"]) for r in ours)
    captured = sum(minor(c["amount"]) for c in captures.values())
    _doubles(sc, [str(r["invoice_id"]) for r in ours], found)
    for cid, capture in captures.items():
        refunded = sum(minor(r["amount"]) for r in live if r["capture_id"] == cid)
        if refunded > minor(capture["amount"]):
            found.add("over_refund", sc.order_id, f"capture {cid}: refunds {refunded} > captured")
    _judge(sc, status, ours_total, captured - sc.prerefund if sc.captured else 0, len(ours), found)
    for r in ours:
        if r["amount"]["currency_code"] != sc.currency:
            found.add("refund_currency", sc.order_id, f"{r['amount']['currency_code']} != {sc.currency}")
    if not sc.captured:
        if status == "CANCELLED" and authorization.get("status") not in ("VOIDED", "EXPIRED"):
            found.add("authorization_not_voided", sc.order_id, f"authorization is {authorization.get('status')}")
        if len(voids) > 1:
            found.add("double_void", sc.order_id, f"{len(voids)} voids of {sc.payment_ref}")
        if voids and status not in ("CANCELLED", "ON_HOLD"):
            found.add("void_without_cancellation", sc.order_id, f"authorization voided on a {status} order")
    _check_record(sc, status, ours_total, repo, found)
    # several captures: each refund's key is the settlement's key + "#<capture id>"
    _check_trace(sc, [(r["id"], str(r["invoice_id"]).removesuffix(f"#{r['capture_id']}")) for r in ours], repo,
                 found)


def _check_money_platform(sc: Scenario, status: str, repo: Any, env: Any, found: Findings) -> None:
    """The marketplace refunds (Shopify, Ozon): Backout settles the whole total in the order's currency, once,
    and only for a cancelled order. Whether the platform really refunded is its ledger's check."""
    done = [fx for fx in repo.items(sc.order_id, "FX#settle#") if fx.get("status") == "done"]
    results = [dict(fx.get("result") or {}) for fx in done]
    if len(done) > 1:
        found.add("double_settlement", sc.order_id, f"{len(done)} settlements")
    settled = [r for r in results if r.get("outcome") == "platform_refunds"]
    total = sum(int(r.get("amount") or 0) for r in settled)
    _judge(sc, status, total, sc.total, len(settled), found)
    for r in settled:
        if r.get("currency") != sc.currency:
            found.add("refund_currency", sc.order_id, f"{r.get('currency')} != {sc.currency}")


MONEY_CHECKS: dict[str, Callable[[Scenario, str, Any, Any, Findings], None]] = {
    "stripe": _check_money_stripe, "paypal": _check_money_paypal, "platform": _check_money_platform,
}


# ---------------------------------------------------------------------------- platforms' ledgers
def _check_store(sc: Scenario, status: str, accepted: Accepted, env: Any, found: Findings) -> None:
    """WooCommerce: the store shows cancelled exactly the orders Backout cancelled."""
    store = str(env.woo.orders.get(str(sc.no), {}).get("status"))
    if (status == "CANCELLED") != (store == "cancelled"):
        found.add("store_status", sc.order_id, f"Backout {status}, store {store}")


def _check_shopify(sc: Scenario, status: str, accepted: Accepted, env: Any, found: Findings) -> None:
    """Shopify: ``orderCancel`` at most once, only on a genuine request; cancelled there exactly when
    Backout cancelled (on hold: either); the cancel refunded a paid order and released an authorized one."""
    from backout_dev.sim.builders_shopify import cancel_effects, gid

    effects = cancel_effects(env, sc)
    with env.shopify.lock:
        order = dict(env.shopify.orders.get(gid(sc)) or {})
    there = bool(order.get("cancelledAt"))
    if len(effects) > 1:
        found.add("double_platform_cancel", sc.order_id, f"{len(effects)} orderCancel calls")
    if effects and not accepted.cancel:
        found.add("platform_cancel_without_request", sc.order_id, "orderCancel without an accepted request")
    if status != "ON_HOLD" and (status == "CANCELLED") != there:
        found.add("store_status", sc.order_id, f"Backout {status}, Shopify cancelledAt {order.get('cancelledAt')}")
    money = "REFUNDED" if sc.captured else "VOIDED"
    if there and (order.get("displayFinancialStatus") != money or not all(e["refund"] for e in effects)):
        found.add("platform_refund", sc.order_id,
                  f"Shopify shows {order.get('displayFinancialStatus')}, expected {money}")


def _check_ozon(sc: Scenario, status: str, accepted: Accepted, env: Any, found: Findings) -> None:
    """Ozon: each buyer request decided at most once, only a genuine one; approved exactly when Backout
    cancelled (Ozon then refunds the buyer); a shipped posting's request rejected, never approved."""
    from backout_dev.sim.builders_ozon import decisions

    n = decisions(env, sc)
    approved, decided = n["approve"] + n["auto_approve"], sum(n.values())
    if decided > 1:
        found.add("double_platform_decision", sc.order_id, f"decisions {n}")
    if decided and not accepted.cancel:
        found.add("platform_decision_without_request", sc.order_id, f"decisions {n} without an accepted request")
    if status != "ON_HOLD" and (status == "CANCELLED") != bool(approved):
        found.add("store_status", sc.order_id, f"Backout {status}, Ozon decisions {n}")
    if sc.platform_rejects and approved:
        found.add("shipped_request_approved", sc.order_id, f"the posting had left; decisions {n}")


PLATFORM_CHECKS: dict[str, Callable[[Scenario, str, Accepted, Any, Findings], None]] = {
    "woocommerce": _check_store, "shopify": _check_shopify, "ozon": _check_ozon,
}


# ---------------------------------------------------------------------------- requests, withdrawals, disputes
def _check_requests(sc: Scenario, repo: Any, found: Findings) -> None:
    """A forged cancel request recorded nothing: the order has no request at all."""
    if sc.forged_cancel and not sc.cancel and not sc.expiry:
        requests = repo.items(sc.order_id, "REQ#")
        if requests:
            found.add("forged_request_recorded", sc.order_id, f"{len(requests)} requests")


def _check_withdrawal(sc: Scenario, status: str, accepted: Accepted, dead: bool, repo: Any, found: Findings) -> None:
    """A withdrawn request ends one of two ways, and the timeline says which: ``cancel_withdrawn`` and
    OPEN, or (too late) CANCELLED without it. Money, stock and the platform are checked elsewhere."""
    if not sc.withdrawal:
        return
    withdrawn = any(s["step"] == "cancel_withdrawn" for s in repo.timeline(sc.order_id))
    if withdrawn:
        found.withdrawals["honoured"] += 1
        if status != "OPEN":
            found.add("withdrawal_mixed", sc.order_id, f"withdrawn inside the window, yet {status}")
    elif accepted.withdraw:
        found.withdrawals["too_late"] += 1
        if status == "OPEN" and accepted.cancel and not dead:
            found.add("withdrawal_mixed", sc.order_id, "OPEN, but the timeline shows no withdrawal")


def _check_evidence(sc: Scenario, env: Any, found: Findings) -> None:
    """A dispute's evidence is submitted at most once (the gateway's own count)."""
    if not sc.dispute:
        return
    if sc.gateway == "stripe":
        dispute = env.stripe_disputes.disputes.get(f"dp_sim_{sc.no}") or {}
        n = int((dispute.get("evidence_details") or {}).get("submission_count") or 0)
    else:
        n = sum(1 for e in env.paypal.effects("evidence") if e["dispute_id"] == sc.extra.get("dispute_id"))
    if n > 1:
        found.add("double_evidence", sc.order_id, f"evidence submitted {n} times")


# ---------------------------------------------------------------------------- stock
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


# ---------------------------------------------------------------------------- carrier, inbox
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
