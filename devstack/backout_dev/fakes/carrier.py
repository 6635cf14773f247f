"""A fake carrier keeping the contract in :mod:`backout.adapters.carrier`.

Parcels are seeded with :meth:`FakeCarrier.add_shipment`. An intercept's
outcome is decided by ``intercept_outcome`` (``"succeed"`` -> the intercept
ends ``returned_to_sender``; ``"fail"`` -> ``delivered``), or per parcel
with :meth:`FakeCarrier.set_outcome`; it is settled after
``resolve_after_polls`` reads of the intercept (default 1), or at once by
:meth:`FakeCarrier.resolve`. Ledger ops: ``intercept``, ``label``.
"""

from __future__ import annotations

import itertools
import json
import re
from datetime import datetime, UTC
from typing import Any, Literal

from backout_dev.fakes._base import FakeServer, Request, Response

Outcome = Literal["succeed", "fail"]
_ids = itertools.count(1)


def _error(status: int, code: str, message: str) -> Response:
    return Response(status, {"error": {"code": code, "message": message}})


class FakeCarrier(FakeServer):
    """Stateful parcels, intercepts and return labels."""

    def __init__(self, api_key: str, intercept_cost: tuple[str, str] = ("15.00", "USD")) -> None:
        super().__init__()
        self.api_key = api_key
        self.intercept_cost = intercept_cost
        self.intercept_outcome: Outcome = "succeed"
        self.resolve_after_polls = 1
        self.shipments: dict[str, dict[str, Any]] = {}
        self.intercepts: dict[str, dict[str, Any]] = {}
        self.labels: dict[str, dict[str, Any]] = {}

    def add_shipment(self, tracking_number: str, status: str = "in_transit", outcome: Outcome | None = None) -> None:
        """A parcel the carrier knows (``delivered`` ones cannot be intercepted)."""
        with self.lock:
            self.shipments[tracking_number] = {"status": status, "outcome": outcome}

    def set_outcome(self, tracking_number: str, outcome: Outcome) -> None:
        """How an intercept of this parcel will end."""
        with self.lock:
            self.shipments[tracking_number]["outcome"] = outcome

    def resolve(self, intercept_id: str) -> str:
        """Settle an intercept now; returns its final status."""
        with self.lock:
            item = self.intercepts[intercept_id]
            if item["status"] == "requested":
                parcel = self.shipments[item["tracking_number"]]
                succeed = (parcel["outcome"] or self.intercept_outcome) == "succeed"
                item["status"] = "returned_to_sender" if succeed else "delivered"
                parcel["status"] = item["status"]
            return str(item["status"])

    def fault_body(self, status: int) -> Any:
        return {"error": {"code": "RATE_LIMITED" if status == 429 else "INTERNAL", "message": "injected fault"}}

    @staticmethod
    def _view(item: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in item.items() if not k.startswith("_")}

    def handle(self, req: Request) -> Response:
        if req.header("X-Api-Key") != self.api_key:
            return _error(401, "UNAUTHORIZED", "Invalid API key")
        if req.method == "GET" and req.path == "/v1/intercepts":
            number = req.query.get("tracking_number")
            return Response(200, {"intercepts": [self._view(i) for i in self.intercepts.values()
                                                 if i["tracking_number"] == number]})
        match = re.fullmatch(r"/v1/intercepts/([\w-]+)", req.path)
        if req.method == "GET" and match:
            return self._get(match.group(1))
        if req.method == "POST" and req.path in ("/v1/intercepts", "/v1/return-labels"):
            key = req.header("Idempotency-Key")
            if not key:
                return _error(400, "IDEMPOTENCY_KEY_MISSING", "Idempotency-Key header is required")
            action = self._intercept if req.path == "/v1/intercepts" else self._label
            body = req.body if isinstance(req.body, dict) else {}
            return self.idempotent(req.path, key, json.dumps(body, sort_keys=True), lambda: action(body),
                                   lambda: _error(422, "IDEMPOTENCY_KEY_REUSED", "Key reused with another body"))
        return _error(404, "NOT_FOUND", "Not found")

    def _get(self, intercept_id: str) -> Response:
        item = self.intercepts.get(intercept_id)
        if item is None:
            return _error(404, "INTERCEPT_NOT_FOUND", f"No intercept {intercept_id}")
        if item["status"] == "requested":
            item["_polls"] += 1
            if item["_polls"] >= self.resolve_after_polls:
                self.resolve(intercept_id)
        return Response(200, self._view(item))

    def _intercept(self, body: dict[str, Any]) -> Response:
        number = str(body.get("tracking_number") or "")
        parcel = self.shipments.get(number)
        if parcel is None:
            return _error(404, "TRACKING_NOT_FOUND", f"Unknown tracking number {number!r}")
        if parcel["status"] == "delivered":
            return _error(422, "ALREADY_DELIVERED", "The shipment has been delivered")
        if any(i["tracking_number"] == number and i["status"] != "delivered" for i in self.intercepts.values()):
            return _error(422, "INTERCEPT_ALREADY_REQUESTED", "An intercept exists for this shipment")
        amount, currency = self.intercept_cost
        intercept_id = f"INT-{next(_ids):06d}"
        item: dict[str, Any] = {"intercept_id": intercept_id, "tracking_number": number, "status": "requested",
                "cost": {"amount": amount, "currency": currency},
                "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "_polls": 0}
        self.intercepts[intercept_id] = item
        self.record("intercept", intercept_id=intercept_id, tracking_number=number, cost=amount,
                    currency=currency)
        return Response(201, self._view(item))

    def _label(self, body: dict[str, Any]) -> Response:
        order_id = str(body.get("order_id") or "")
        if not order_id:
            return _error(400, "INVALID_REQUEST", "order_id is required")
        n = next(_ids)
        label = {"label_id": f"LBL-{n:06d}", "order_id": order_id, "tracking_number": f"RT{n:010d}",
                 "url": f"{self.url}/labels/LBL-{n:06d}.pdf"}
        self.labels[label["label_id"]] = label
        self.record("label", label_id=label["label_id"], order_id=order_id, tracking_number=label["tracking_number"])
        return Response(201, label)
