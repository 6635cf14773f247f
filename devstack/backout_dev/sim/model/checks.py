"""The invariants, after quiescence: the model's story against the providers' ledgers.

Each check returns readable :class:`Violation` s that carry the story. Kinds:
``money_owed``, ``paid_twice``, ``auth_left_holding``, ``refund_without_request``,
``stock``, ``platform``, ``undecided``, ``withdrawal_ignored``, ``status_mismatch``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from backout_dev.sim.model import ledgers
from backout_dev.sim.model.story import Story


@dataclass
class Violation:
    kind: str
    order_id: str
    detail: str
    story: str

    def __str__(self) -> str:
        return f"[{self.kind}] {self.order_id}: {self.detail}\n{self.story}"


def check(env: Any, story: Story, initial_stock: dict[str, int]) -> list[Violation]:
    """Every invariant for one order's story."""
    m = ledgers.money(env, story.gateway, story.ref, story.currency)
    status, reason = ledgers.backout_status(story.order_id)
    queued = status == "ON_HOLD" and bool(reason)
    granted = story.granted(queued)
    out: list[str] = []
    kinds: list[str] = []

    def bad(kind: str, detail: str) -> None:
        kinds.append(kind)
        out.append(detail)

    where = (f"gateway: captured {m.captured}, held {m.held}, voided {m.voided}, refunded {m.refunded}, "
             f"pending {m.pending}, failed {m.failed}, lost dispute {m.lost}; refunds {m.refunds}; "
             f"Backout status {status}{' (' + reason + ')' if reason else ''}; store {ledgers.store_status(env, story.no)}")
    # money owed, to the minor unit
    refused = m.lost + story.returned_if_refused()
    owed = {True: {story.taken}, False: {refused}, None: {refused, story.taken}}[granted]
    if m.returned not in owed:
        bad("money_owed", f"buyer got back {m.returned}, owed {' or '.join(map(str, sorted(owed)))} "
                          f"(cancellation {'granted' if granted else 'refused' if granted is False else 'either'})")
    # never paid twice
    if m.refunded + m.pending + m.lost > max(m.captured, 0):
        bad("paid_twice", f"refunds {m.refunded} (+{m.pending} pending) and lost disputes {m.lost} exceed "
                          f"the {m.captured} captured")
    tags = [r["tag"] for r in m.refunds if r["tag"] and r["status"] not in ("FAILED", "failed")]
    if len(tags) != len(set(tags)):
        bad("paid_twice", f"two live refunds share an effect key: {tags}")
    # no authorization left holding money once cancelled
    cancelled = granted is True or status == "CANCELLED" or ledgers.store_status(env, story.no) == "cancelled"
    if cancelled and m.held:
        bad("auth_left_holding", f"{m.held} still authorized on the card of a cancelled order")
    # no refund without a cancellation request
    if not story.request_sent and (m.refunds or m.voided):
        bad("refund_without_request", f"{len(m.refunds)} refund(s), {m.voided} voided, and no request was made")
    # a withdrawal inside its window is honoured
    if story.withdrawal() == "inside" and (status == "CANCELLED" or m.refunded or m.voided or m.pending):
        bad("withdrawal_ignored", f"withdrawn {story.withdrawal_at - story.request_at:.1f} s after the request "
                                  f"(window {story.window:.0f} s), yet cancelled or refunded")
    # stock: exactly once per returned standard line, never custom, never goods that left
    now = ledgers.stock([ln.sku for ln in story.lines])
    for ln in story.lines:
        moved = now[ln.sku] - initial_stock[ln.sku]
        allowed = story.restock_expected(ln, granted)
        if moved not in allowed:
            bad("stock", f"{ln.sku}{' (custom)' if ln.custom else ''} moved {moved:+d}, expected "
                         f"{' or '.join(f'{a:+d}' for a in sorted(allowed))} (goods {story.location})")
    # the platform told, exactly when cancelled
    store = ledgers.store_status(env, story.no)
    if granted is True and store != "cancelled" and not queued:
        bad("platform", f"the cancellation stands but the store order is {store}")
    if granted is False and store == "cancelled":
        bad("platform", "the store order is cancelled but the cancellation was withdrawn or rejected")
    # every request decided or queued
    if story.request_sent and not (status in ("CANCELLED", "OPEN") or queued):
        bad("undecided", f"the request ended {status}{' without a hold reason' if status == 'ON_HOLD' else ''}: "
                         "neither decided nor in the operator queue")
    if queued and story.decisions and story.decisions[-1]["decision"] == "approve":
        bad("undecided", f"the operator approved ({len(story.decisions)} decision(s)), yet the request is back in "
                         f"the operator queue ({reason})")
    if granted is True and status == "OPEN":
        bad("status_mismatch", "the cancellation stands (not withdrawn, not rejected) but the order is OPEN")
    if granted is False and status == "CANCELLED":
        bad("status_mismatch", "the cancellation was withdrawn inside its window or rejected, yet the order is "
                               "CANCELLED")
    return [Violation(k, story.order_id, f"{d} | {where}", story.story()) for k, d in zip(kinds, out)]
