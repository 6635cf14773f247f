"""TikTok Shop (TikTok holds the money): CANCELLATION_STATUS_CHANGE (the buyer's request, and its states:
approved, closed by the buyer or the system), ORDER_STATUS_CHANGE; Backout learns the order from TikTok
(Get Order Detail) on the first webhook that names it.

Envelope and data fields: PROVIDERS.md "TikTok Shop". The status names are the fake's
(``backout_dev.fakes.tiktok``); they are kept here, in :data:`STATUS`, so a change of TikTok's
vocabulary is one line. The fake's records (``approve``, ``reject``, ``platform_decision``) are the ledger.
"""

from __future__ import annotations

import itertools
import json
import time
from typing import Any

from backout_dev.sim.model.drive import sample
from backout_dev.sim.model.platforms import PlatformLedger, Send

STATUS = {"pending": "CANCELLATION_REQUEST_PENDING", "approved": "CANCELLATION_REQUEST_SUCCESS",
          "closed": "CANCELLATION_REQUEST_CANCEL", "rejected": "CANCELLATION_REQUEST_REJECT"}
ORDER_STATUSES = ("AWAITING_SHIPMENT", "AWAITING_COLLECTION", "UNPAID")  # noise: Backout ignores these
_notifications = itertools.count(int(time.time()) * 1000)


def _post(send: Send, s: Any, kind: int, data: dict[str, Any], label: str) -> int:
    event = sample("tiktok/cancellation_status_change.pending")
    shop_id = json.loads(event["body"]).get("shop_id", "7494049642642441621")
    now = int(time.time())
    body = {"type": kind, "tts_notification_id": str(next(_notifications)), "shop_id": shop_id, "timestamp": now,
            "data": {"order_id": s.external, "update_time": now, **data}}
    return send(f"tiktok {label}", event, body, {})


class TikTok:
    channel = "tiktok"
    shippable = False  # a shipped TikTok order gets a return, not a cancellation request
    withdrawable = True
    shapes = ("paid",)

    def place(self, env: Any, s: Any, send: Send) -> None:
        from backout.money import to_decimal_string

        units = [{"sku_id": f"{i + 1}729", "seller_sku": ln.sku,
                  "sale_price": to_decimal_string(ln.minor // ln.qty, s.currency)}
                 for i, ln in enumerate(s.lines) for _ in range(ln.qty)]
        env.tiktok.add_order(s.external, s.currency, to_decimal_string(s.total, s.currency), units)
        s.clock0 = s.stamp()

    def created(self, env: Any, s: Any, send: Send) -> None:
        self.noise(env, s, send, 0)

    def _status(self, s: Any, status: str, label: str, send: Send) -> int:
        data = {"cancel_id": s.cancel_id, "cancellations_role": "BUYER", "cancel_status": status,
                "create_time": int(s.request_at or time.time())}
        return _post(send, s, 11, data, f"CANCELLATION_STATUS_CHANGE {label}")

    def request(self, env: Any, s: Any, send: Send) -> None:
        if not s.cancel_id:
            s.cancel_id = env.tiktok.add_cancellation(s.external, status=STATUS["pending"], role="BUYER")
            s.request_id = f"tiktok:{s.cancel_id}"
        self._status(s, STATUS["pending"], "pending", send)

    def withdraw(self, env: Any, s: Any, send: Send) -> str:
        """The buyer closes the request at TikTok, which TikTok allows only while it is pending."""
        if not s.cancel_id:
            return "tiktok: no request to close yet (nothing sent)"
        if env.tiktok.status(s.cancel_id) != STATUS["pending"]:
            return f"tiktok: the request is {env.tiktok.status(s.cancel_id)}; the buyer cannot close it (nothing sent)"
        env.tiktok.decide(s.cancel_id, STATUS["closed"])
        s.platform_decided = "closed"
        self._status(s, STATUS["closed"], "closed by the buyer", send)
        return "tiktok: the buyer closed the request"

    def noise(self, env: Any, s: Any, send: Send, i: int) -> None:
        _post(send, s, 1, {"order_status": ORDER_STATUSES[i % len(ORDER_STATUSES)]},
              f"ORDER_STATUS_CHANGE {ORDER_STATUSES[i % len(ORDER_STATUSES)]}")

    def answer(self, env: Any, s: Any, send: Send) -> bool:
        """Once approved, TikTok says so and cancels the order (two webhooks)."""
        if not s.cancel_id or env.tiktok.status(s.cancel_id) != STATUS["approved"] or s.answered:
            return False
        s.answered += 1
        self._status(s, STATUS["approved"], "approved", send)
        _post(send, s, 1, {"order_status": "CANCELLED"}, "ORDER_STATUS_CHANGE CANCELLED")
        return True

    def own_move(self, env: Any, s: Any, send: Send) -> bool:
        """TikTok's system approves a pending request the seller did not answer in time."""
        if not s.cancel_id or env.tiktok.status(s.cancel_id) != STATUS["pending"]:
            return False
        env.tiktok.decide(s.cancel_id, STATUS["approved"])
        s.platform_decided = "approved"
        s.note("tiktok: the seller did not answer in time, TikTok approved the request itself")
        return True

    def pending(self, env: Any, s: Any) -> bool:
        """The buyer's request waits at TikTok for an answer."""
        return bool(s.cancel_id) and env.tiktok.status(s.cancel_id) == STATUS["pending"]

    def lose_answer(self, env: Any, s: Any) -> str:
        env.tiktok.drop_next_response(method="POST", path_contains="/cancellations/")
        return "fault armed: TikTok's next approve/reject answer is lost (the decision is recorded)"

    def ledger(self, env: Any, s: Any) -> PlatformLedger:
        def mine(op: str) -> int:
            return sum(1 for e in env.tiktok.effects(op) if e.get("cancel_id") == s.cancel_id)

        state = env.tiktok.status(s.cancel_id) if s.cancel_id else ""
        return PlatformLedger(asked_cancel=mine("approve"), asked_reject=mine("reject"),
                              cancelled=state == STATUS["approved"], refunded=state == STATUS["approved"],
                              by_platform=s.platform_decided == "approved", state=state)


PLATFORM = TikTok()
