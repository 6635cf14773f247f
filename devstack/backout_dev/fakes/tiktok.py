"""A fake TikTok Shop Open API for cancellations and Get Order Detail.

Every call must carry query ``app_key``, ``timestamp`` (within 300 s),
``shop_cipher`` and a valid ``sign`` (TikTok's v1 HMAC scheme, see
:func:`backout.adapters.tiktok.sign`), and header ``x-tts-access-token``.
Answers are ``{code, message, request_id, data}``. Codes from the partner
docs' Cancel Order page (TikTok Shop Partner Center, "Cancel Order" 202602,
as transcribed): 25001011 already cancelling or cancelled, 25001045 shipped,
25001051 order complete or cancelled. The other numeric codes are the fake's
own (not confirmed): 105002 bad token (401), 106001 bad sign or app key
(401), 106003 bad shop_cipher (403), 36009003 unknown cancellation (404),
36009004 wrong state (400), 36009005 missing idempotency key (400). The
HTTP status that goes with a business error is not documented: the fake
answers 400.

* ``POST /return_refund/202309/cancellations/{cancel_id}/approve`` and
  ``/reject`` (body ``{reject_reason, comment}``, query ``idempotency_key``
  required): only a CANCELLATION_REQUEST_PENDING request can be decided;
  approve -> CANCELLATION_REQUEST_SUCCESS (the order becomes CANCELLED);
  reject -> CANCELLATION_REQUEST_CANCEL (TikTok documents no "rejected"
  status; what it shows after a seller's reject is unconfirmed, the fake
  shows the request closed). The same ``idempotency_key`` replays the first
  answer and does nothing else.
* ``POST /return_refund/202602/cancellations/search`` (paging in the query,
  filters ``{cancel_ids, order_ids}`` in the body) -> ``data.cancellations[]``
  with ``cancel_id, order_id, cancel_status, role`` (who opened it: BUYER,
  SELLER, SYSTEM), ``cancel_type``, times.
* ``POST /return_refund/202602/cancellations`` (Cancel Order) body
  ``{order_id, cancel_reason}``, no idempotency key (the partner docs list
  none; a key sent is ignored, and shown in the ledger as ``idempotency_key_sent``): the seller cancels the order at once, the
  answer is ``data {cancel_id, cancel_status: CANCELLATION_REQUEST_SUCCESS}``
  and the order becomes CANCELLED. A second call on that order answers
  25001011; an order seeded as shipped (IN_TRANSIT, DELIVERED, ...) answers
  25001045.
* ``GET /order/202309/orders?ids=<id>[,<id>...]`` (Get Order Detail) ->
  ``data.orders[]`` for the orders seeded with :meth:`FakeTikTok.add_order`.
  None of the ids known: HTTP 200 with code 21011001 (the fake's own code).

Seed with :meth:`FakeTikTok.add_cancellation` and :meth:`FakeTikTok.add_order`;
:meth:`FakeTikTok.decide` is the buyer or TikTok closing or completing a
request itself. Ledger ops: ``approve``, ``reject``, ``seller_cancel``,
``platform_decision`` (order reads are no effect: they show in ``requests`` only).
"""

from __future__ import annotations

import itertools
import re
import secrets
import time
from typing import Any

from backout.adapters.tiktok import sign
from backout_dev.fakes._base import FakeServer, Request, Response

_ids = itertools.count(577_000_000_000_000_001)
BASE = "/return_refund/202309/cancellations"  # approve / reject
CANCELLATIONS = "/return_refund/202602/cancellations"  # Cancel Order, Search Cancellations
SHIPPED = frozenset({"AWAITING_COLLECTION", "IN_TRANSIT", "DELIVERED", "COMPLETED"})
ORDERS = "/order/202309/orders"


#: Statuses in which an order's request stands (being cancelled, or cancelled).
_LIVE = frozenset({"CANCELLATION_REQUEST_PENDING", "CANCELLATION_REQUEST_SUCCESS", "CANCELLATION_REQUEST_COMPLETE"})


def _answer(status: int, code: int, message: str, data: Any = None) -> Response:
    return Response(status, {"code": code, "message": message, "request_id": secrets.token_hex(10), "data": data})


class FakeTikTok(FakeServer):
    """Stateful TikTok Shop cancellation requests."""

    def __init__(self, app_key: str, app_secret: str, access_token: str, shop_cipher: str) -> None:
        super().__init__()
        self.app_key, self.app_secret = app_key, app_secret
        self.access_token, self.shop_cipher = access_token, shop_cipher
        self.cancellations: dict[str, dict[str, Any]] = {}
        self.orders: dict[str, dict[str, Any]] = {}

    def add_cancellation(self, order_id: str, *, status: str = "CANCELLATION_REQUEST_PENDING",
                         role: str = "BUYER") -> str:
        """A new cancellation request; returns its ``cancel_id``."""
        with self.lock:
            cancel_id = str(next(_ids))
            self.cancellations[cancel_id] = {"cancel_id": cancel_id, "order_id": order_id, "cancel_status": status,
                                             "role": role, "cancel_type": "CANCEL", "create_time": int(time.time()),
                                             "update_time": int(time.time())}
            return cancel_id

    def add_order(self, order_id: str, currency: str, total: str, line_items: list[dict[str, Any]],
                  status: str = "AWAITING_SHIPMENT") -> dict[str, Any]:
        """An order as Get Order Detail answers it; ``total`` is ``payment.total_amount`` (a decimal
        string) and each line item (one per unit) gets an ``id``, ``currency`` and ``is_gift`` unless given."""
        with self.lock:
            now = int(time.time())
            items = [{"id": str(next(_ids)), "currency": currency, "is_gift": False, **item} for item in line_items]
            self.orders[order_id] = {"id": order_id, "status": status, "create_time": now, "update_time": now,
                                     "payment": {"currency": currency, "total_amount": total},
                                     "line_items": items}
            return self.orders[order_id]

    def decide(self, cancel_id: str, status: str) -> None:
        """TikTok (or the buyer) settles a request itself."""
        with self.lock:
            self.cancellations[cancel_id].update(cancel_status=status, update_time=int(time.time()))
            self.record("platform_decision", cancel_id=cancel_id, status=status)

    def status(self, cancel_id: str) -> str:
        """A request's current status."""
        return str(self.cancellations[cancel_id]["cancel_status"])

    def fault_body(self, status: int) -> Any:
        return {"code": 36009001 if status == 429 else 36009002, "message": "injected fault",
                "request_id": secrets.token_hex(10), "data": None}

    def _auth(self, req: Request) -> Response | None:
        if req.header("x-tts-access-token") != self.access_token:
            return _answer(401, 105002, "Expired credentials or invalid access token")
        try:
            fresh = abs(time.time() - int(req.query.get("timestamp", "0"))) <= 300
        except ValueError:
            fresh = False
        body = req.raw.decode("utf-8", "replace")
        expected = sign(req.path, req.query, body, self.app_secret)
        if req.query.get("app_key") != self.app_key or not fresh or req.query.get("sign") != expected:
            return _answer(401, 106001, "Invalid signature or app key")
        if req.query.get("shop_cipher") != self.shop_cipher:
            return _answer(403, 106003, "Invalid shop_cipher")
        return None

    def handle(self, req: Request) -> Response:
        refused = self._auth(req)
        if refused is not None:
            return refused
        if req.method == "GET" and req.path == ORDERS:
            found = [self.orders[i] for i in req.query.get("ids", "").split(",") if i in self.orders]
            if not found:
                return _answer(200, 21011001, "order not found")
            return _answer(200, 0, "Success", {"orders": found})
        if req.method == "POST" and req.path == f"{CANCELLATIONS}/search":
            return self._search(req.body if isinstance(req.body, dict) else {})
        if req.method == "POST" and req.path == CANCELLATIONS:
            return self._seller_cancel(req.body if isinstance(req.body, dict) else {}, req.query.get("idempotency_key"))
        match = re.fullmatch(rf"{BASE}/(\w+)/(approve|reject)", req.path)
        if req.method != "POST" or not match:
            return _answer(404, 36009000, "Not Found")
        cancel_id, verb = match.groups()
        key = req.query.get("idempotency_key")
        if not key:
            return _answer(400, 36009005, "idempotency_key is required")
        return self.idempotent(f"{verb}:{cancel_id}", key, "", lambda: self._decide(req, cancel_id, verb, key))

    def _search(self, body: dict[str, Any]) -> Response:
        ids, orders = set(body.get("cancel_ids") or []), set(body.get("order_ids") or [])
        found = [c for c in self.cancellations.values()
                 if (not ids or c["cancel_id"] in ids) and (not orders or c["order_id"] in orders)]
        return _answer(200, 0, "Success", {"cancellations": found, "total_count": len(found), "next_page_token": ""})

    def _decide(self, req: Request, cancel_id: str, verb: str, key: str) -> Response:
        item = self.cancellations.get(cancel_id)
        if item is None:
            return _answer(404, 36009003, f"cancellation {cancel_id} not found")
        if item["cancel_status"] != "CANCELLATION_REQUEST_PENDING":
            return _answer(400, 36009004, f"cancellation is {item['cancel_status']}; only a pending request "
                                          "can be decided")
        body = req.body if isinstance(req.body, dict) else {}
        if verb == "reject" and not body.get("reject_reason"):
            return _answer(400, 36009006, "reject_reason is required")
        item["cancel_status"] = "CANCELLATION_REQUEST_SUCCESS" if verb == "approve" else "CANCELLATION_REQUEST_CANCEL"
        item["update_time"] = int(time.time())
        order = self.orders.get(item["order_id"])
        if verb == "approve" and order is not None:
            order.update(status="CANCELLED", update_time=int(time.time()))
        self.record(verb, cancel_id=cancel_id, idempotency_key=key, reject_reason=body.get("reject_reason"))
        return _answer(200, 0, "Success", {})

    def _seller_cancel(self, body: dict[str, Any], key: str | None) -> Response:
        order_id, reason = body.get("order_id"), body.get("cancel_reason")
        if not order_id or not reason:
            return _answer(400, 25001001, "order_id and cancel_reason are required")
        with self.lock:
            order = self.orders.get(str(order_id))
            if (order is not None and order["status"] == "CANCELLED") or any(
                    c["order_id"] == str(order_id) and c["cancel_status"] in _LIVE
                    for c in self.cancellations.values()):
                return _answer(400, 25001011, "Already cancelling or cancelled")
            if order is not None and order["status"] in SHIPPED:
                return _answer(400, 25001045, "Shipped. Cannot cancel")
            cancel_id = self.add_cancellation(str(order_id), role="SELLER", status="CANCELLATION_REQUEST_SUCCESS")
            if order is not None:
                order.update(status="CANCELLED", update_time=int(time.time()))
        self.record("seller_cancel", cancel_id=cancel_id, order_id=str(order_id), cancel_reason=reason,
                    idempotency_key_sent=key)
        return _answer(200, 0, "Success", {"cancel_id": cancel_id, "cancel_status": "CANCELLATION_REQUEST_SUCCESS"})
