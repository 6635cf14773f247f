"""The model: what happened to one order in the story drawn so far, and what Backout therefore owes.

Everything here comes from the story itself (what the buyer, the shop, the
gateway, the carrier and the operator did, and when), never from Backout.
``granted`` is three-valued: True (the cancellation stands), False (withdrawn
inside its window, or rejected by the operator), None (either end is correct:
a withdrawal close to or after the window's end, or a request still in the
operator queue); the checks then accept either end, but only a consistent one.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any

#: Margin around the cooling-off window's end inside which a withdrawal may go either way (machine load).
WINDOW_MARGIN = 1.5
_numbers = itertools.count(int(time.time()) % 100_000 * 10 + 7_000_000)


@dataclass
class Line:
    sku: str
    qty: int
    minor: int
    custom: bool = False


@dataclass
class Story:
    """One order's story (one example of the state machine drives one or a few of these)."""

    gateway: str  # stripe | paypal
    shape: str  # captured | authorized | auth_1capture | auth_2captures
    window: float  # the run's cooling-off seconds
    currency: str = "USD"
    no: int = field(default_factory=lambda: next(_numbers))
    lines: list[Line] = field(default_factory=list)
    ref: str = ""  # PaymentIntent, PayPal authorization or capture
    capture_ids: list[str] = field(default_factory=list)
    captured: int = 0  # captured at the gateway when the story began
    tracking: str = ""
    location: str = "warehouse"  # warehouse | transit | buyer | back (the goods)
    request_at: float | None = None  # when the buyer asked (the event's own time)
    request_sent: bool = False
    withdrawal_at: float | None = None
    withdrawal_sent: bool = False
    dispute: dict[str, Any] | None = None  # id, state (open|won|lost), amount
    decisions: list[dict[str, Any]] = field(default_factory=list)  # accepted operator decisions
    log: list[str] = field(default_factory=list)  # the story, step by step
    sent: list[tuple[str, dict[str, Any], dict[str, Any], dict[str, str]]] = field(default_factory=list)
    clock: float = 0.0  # the store's last modification time (WooCommerce stamps have 1 s resolution)
    window_passed: bool = False  # the cooling-off window of the request has closed (a step waited it out)
    refunds_held: bool = False  # new refunds start pending at the gateway
    plan: str = ""  # the buyer's part, as staged by the machine (see machine.BUYER_PLANS)

    @property
    def order_id(self) -> str:
        return f"woocommerce:{self.no}"

    @property
    def total(self) -> int:
        return sum(ln.minor for ln in self.lines)

    @property
    def taken(self) -> int:
        """Everything the buyer paid or has held on the card for the order."""
        return self.total

    def stamp(self) -> float:
        """A store modification time after every earlier one (distinct seconds: distinct dedupe keys)."""
        self.clock = max(time.time(), self.clock + 1.0)
        return self.clock

    def note(self, text: str) -> None:
        self.log.append(text)

    # ------------------------------------------------------------ what the story says
    def withdrawal(self) -> str:
        """none | inside | outside | edge (the withdrawal's time against the request's window)."""
        if not (self.request_sent and self.withdrawal_sent) or self.request_at is None or self.withdrawal_at is None:
            return "none"
        dt = self.withdrawal_at - self.request_at
        if dt < self.window - WINDOW_MARGIN:
            return "inside"
        if dt > self.window + WINDOW_MARGIN:
            return "outside"
        return "edge"

    def granted(self, queued: bool) -> bool | None:
        """Does the cancellation stand? ``queued``: the request sits in the operator queue at the end."""
        if not self.request_sent:
            return False
        w = self.withdrawal()
        if w == "inside":
            return False
        if self.decisions and self.decisions[-1]["decision"] == "reject":
            return False
        if w in ("outside", "edge") or queued:
            return None
        return True

    def returned_if_refused(self) -> int:
        """What the buyer may have back when the cancellation does not stand: the lost dispute's money
        (read at check time) plus what was already returned when an operator rejected."""
        rejects = [d for d in self.decisions if d["decision"] == "reject"]
        return int(rejects[-1]["returned_before"]) if rejects else 0

    def restock_expected(self, line: Line, granted: bool | None) -> set[int]:
        """Units the line's SKU may move by: standard lines of goods that are here (never left or came back)."""
        if line.custom or self.location in ("transit", "buyer"):
            return {0}
        if granted is None:
            return {0, line.qty}
        return {line.qty} if granted else {0}

    def summary(self) -> str:
        lines = ", ".join(f"{ln.sku} x{ln.qty} {ln.minor}{' custom' if ln.custom else ''}" for ln in self.lines)
        plan = f" plan {self.plan}" if self.plan else ""
        return f"{self.order_id} {self.gateway} {self.shape} total {self.total} [{lines}]{plan}"

    def story(self) -> str:
        return "\n".join([f"  order {self.summary()}"] + [f"  {i + 1}. {s}" for i, s in enumerate(self.log)])
