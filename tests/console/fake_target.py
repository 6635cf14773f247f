"""An in-memory OperatorTarget for the console's unit tests.

It follows the interface's own document, devstack/backout_dev/targets/base.py (the item fields of
holds, find, dead_letters, replay, report, audit; DecisionRefused 409 when nothing waits), with
records shaped like GET /operator/orders/{id}/timeline answers on the local stack.
It carries planted secrets and card data, so the tests can check the console never shows them.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from backout_dev.targets.base import DecisionRefused

SECRETS = ("sk_live_PLANTED_SECRET", "4242424242424242", "whsec_PLANTED", "tok_PLANTED_TOKEN")
PNG = b"\x89PNG\r\n\x1a\n" + b"fake chart bytes"


def _order(order_id: str, status: str, total: int, currency: str, reason: str = "") -> dict[str, Any]:
    return {"order": {"order_id": order_id, "channel": order_id.split(":")[0], "external_id": order_id.split(":")[1],
                      "status": status, "currency": currency, "total": total, "gateway": "stripe",
                      "payment_ref": "pi_TEST1", "shipped": False, "placed_at": "2026-12-07T10:00:00+00:00",
                      "hold_reason": reason, "api_secret": SECRETS[0],
                      "lines": [{"line_id": "1", "sku": "MUG-1", "quantity": 2, "unit_price": total // 2, "custom": False}]},
            "ledger": [{"kind": "capture", "object_id": "ch_1", "state": "captured", "at": "2026-12-07T10:00:01Z",
                        "source_id": "stripe:evt_1", "amount": total, "currency": currency, "payment_ref": "pi_TEST1",
                        "detail": {"card_number": SECRETS[1]}},
                       {"kind": "dispute", "object_id": "dp_1", "state": "open", "at": "2026-12-07T11:00:00Z",
                        "source_id": "stripe:evt_2", "amount": total, "currency": currency, "payment_ref": "pi_TEST1",
                        "detail": {}}],
            "timeline": [{"at": "2026-12-07T10:00:02+00:00", "step": "order_recorded",
                          "detail": {"total": total, "source": f"{order_id}:order.created", "signature": SECRETS[2]}},
                         {"at": "2026-12-07T11:05:00+00:00", "step": "held_for_operator",
                          "detail": {"request_id": f"{order_id}#r1", "task_token": SECRETS[3]}}]}


class FakeTarget:
    """OperatorTarget over dicts; ``calls`` records every method called, in order."""

    name = "fake"

    def __init__(self) -> None:
        self.orders = {"woocommerce:1": _order("woocommerce:1", "ON_HOLD", 251000, "USD", "OperatorRequired"),
                       "ozon:77": _order("ozon:77", "ON_HOLD", 150000, "JPY", "DisputeOpen")}
        self.letters = [{"id": "m-1", "queue": "DispatchDeadLetterQueue", "age_seconds": 4000,
                         "summary": "stream batch of 3 records (DispatcherFunction)"}]
        self.calls: list[tuple[str, Any]] = []

    def holds(self) -> list[dict[str, Any]]:
        self.calls.append(("holds", None))
        items = [{"order_id": "woocommerce:1", "channel": "woocommerce", "platform_order_id": "1",
                 "reason": "OperatorRequired", "since": "2026-12-07T11:05:00+00:00", "age_seconds": 7260,
                 "owed_minor": 251000, "currency": "USD", "deadline": None, "deadline_kind": None},
                {"order_id": "ozon:77", "channel": "ozon", "platform_order_id": "77", "reason": "DisputeOpen",
                 "since": "2026-12-06T09:00:00+00:00", "age_seconds": 100000, "owed_minor": 150000, "currency": "JPY",
                 "deadline": "2026-12-20T00:00:00+00:00", "deadline_kind": "dispute_evidence_due"}
                 ]
        return [h for h in items if self.orders[h["order_id"]]["order"]["status"] == "ON_HOLD"]

    def order(self, order_id: str) -> dict[str, Any]:
        self.calls.append(("order", order_id))
        if order_id not in self.orders:
            raise DecisionRefused(404, f"unknown order {order_id}")
        return copy.deepcopy(self.orders[order_id])

    def decide(self, order_id: str, verb: str, note: str) -> dict[str, Any]:
        self.calls.append(("decide", (order_id, verb, note)))
        record = self.order(order_id)["order"]
        if record["status"] != "ON_HOLD":
            raise DecisionRefused(409, f"order {order_id} is {record['status']}, not on hold: nothing waits for a decision")
        data = self.orders[order_id]
        data["order"]["status"] = "CANCELLED" if verb == "approve" else "CANCELLED_REJECTED"
        data["timeline"].append({"at": "2026-12-07T12:00:00+00:00", "step": f"operator_{verb}d",
                                 "detail": {"actor": "arn:aws:iam::1:user/ops", "note": note}})
        return {"order_id": order_id, "decision": verb, "request_id": f"{order_id}#r1", "actor": "arn:aws:iam::1:user/ops"}

    def find(self, query: str) -> list[dict[str, Any]]:
        self.calls.append(("find", query))
        return [{"order_id": k, "matched": "payment_ref", "status": v["order"]["status"]}
                for k, v in self.orders.items() if query in (k, v["order"]["payment_ref"])]

    def dead_letters(self) -> list[dict[str, Any]]:
        self.calls.append(("dead_letters", None))
        return list(self.letters)

    def replay(self) -> dict[str, Any]:
        self.calls.append(("replay", None))
        n, self.letters = len(self.letters), []
        return {"queues": [{"queue": "DispatchDeadLetterQueue", "messages": n, "redriven": n, "failures": []}],
                "replayed": n, "skipped": 0}

    def report(self) -> dict[str, Any]:
        self.calls.append(("report", None))
        return {"end": "2026-12-07", "margin_percent": 0.5,
                "rates": [{"guardrail": "PayPal3Month", "window_days": 91, "cancelled": 16, "placed": 100,
                           "percent": 16.0, "threshold_percent": 15.0, "breached": True},
                          {"guardrail": "OzonSellerInitiated", "window_days": 30, "cancelled": 0, "placed": 0,
                           "percent": None, "threshold_percent": 3.0, "breached": False}],
                "week": {"week": "2026-12-07", "cancellations": 9, "mean": 5.0, "limit": 6.0, "exceeded": True},
                "trend": [{"week": "2026-11-30", "cancellations": 4, "mean": 5.5, "limit": 6.6, "rates": {}}]}

    def chart(self, path: str) -> str:
        self.calls.append(("chart", path))
        Path(path).write_bytes(PNG)
        return path

    def audit(self) -> dict[str, Any]:
        self.calls.append(("audit", None))
        return {"run_at": "2026-12-07T12:00:00+00:00", "skus_audited": 40, "error_percent": 2.5, "over_threshold": True,
                "platform_checked": False, "differing": [{"sku": "MUG-9", "on_hand": 3, "problems": ["ledger says 5"]}]}
