"""One in-memory stand-in for the slice of OrdersRepository the saga steps use (no AWS)."""

from __future__ import annotations

from typing import Any

from backout.domain.ledger import Fact, Ledger
from backout.domain.order import OrderStatus, check_transition
from backout.repo.snapshot import Snapshot

ORDER, REQUEST = "woocommerce:9001", "req-1"


class MemoryRepo:
    """An order record with the domain's transitions; effects and timeline steps kept in memory."""

    def __init__(self, status: str = "CANCEL_REQUESTED", requests: dict[str, Any] | None = None,
                 **order: Any) -> None:
        self.order = {"order_id": ORDER, "status": status, "refunded_total": 0, "gateway": "stripe",
                      "currency": "USD", "total": 1000, "payment_ref": "pi_1", "channel": "woocommerce",
                      "active_request_id": REQUEST, **order}
        self.requests = {REQUEST: {"request_id": REQUEST}} if requests is None else requests
        self.effects: dict[str, dict[str, Any]] = {}
        self.timeline: list[str] = []
        self.facts = Ledger(order_id=ORDER)
        self.links: dict[str, str] = {}

    def require_order(self, order_id: str) -> dict[str, Any]:
        return dict(self.order)

    get_order = require_order

    def get_request(self, order_id: str, request_id: str) -> dict[str, Any] | None:
        return self.requests.get(request_id)

    def record_request(self, order_id: str, request: dict[str, Any]) -> bool:
        return self.requests.setdefault(request["request_id"], request) is request

    def transition(self, order_id: str, new: OrderStatus, current: dict[str, Any] | None = None,
                   **fields: Any) -> dict[str, Any]:
        self.order["status"] = check_transition(self.order["status"], new).value
        self.order.update(fields)
        return dict(self.order)

    def record_intent(self, order_id: str, effect_id: str, kind: str, **detail: Any) -> dict[str, Any]:
        return dict(self.effects.setdefault(effect_id, {"status": "intent", "kind": kind, **detail}))

    def record_result(self, order_id: str, effect_id: str, status: str, **result: Any) -> None:
        self.effects[effect_id].update(status=status, **result)

    def append_timeline(self, order_id: str, step: str, detail: dict[str, Any] | None = None) -> None:
        self.timeline.append(step)

    def add_refunded(self, order_id: str, amount: int, effect_id: str) -> bool:
        counted = self.order.setdefault("refunded_effects", set())
        if effect_id in counted:
            return False
        counted.add(effect_id)
        self.order["refunded_total"] += amount
        return True

    def ledger(self, order_id: str) -> Ledger:
        return self.facts

    def record_fact(self, order_id: str, fact: Fact) -> bool:
        before = self.facts
        self.facts = self.facts.with_fact(fact)
        return self.facts is not before

    def link_payment(self, payment_ref: str, order_id: str) -> bool:
        if payment_ref in self.links:
            return False
        self.links[payment_ref] = order_id
        return True

    def snapshot(self, order_id: str) -> Snapshot:
        return Snapshot(order_id, dict(self.order), dict(self.requests), dict(self.effects), self.facts)
