"""TikTok Shop Open API: decide a buyer's cancellation request, cancel an order, read both.

Versions, one constant per call family (TikTok versions each endpoint on its own):

* ``POST /return_refund/202309/cancellations/{cancel_id}/approve`` and
  ``/reject`` (body ``{reject_reason, comment}``), with query
  ``idempotency_key`` and ``shop_cipher`` (:data:`DECIDE_VERSION`). The same
  idempotency key replays the first answer, so a retry after a lost answer
  does nothing twice.
* ``POST /return_refund/202602/cancellations/search`` (Search Cancellations,
  :data:`CANCELLATIONS_VERSION`): paging in the query (``page_size``,
  ``page_token``), filters in the body (``{cancel_ids}`` or ``{order_ids}``);
  reads each request's ``cancel_status`` and ``role`` (who opened it).
* ``POST /return_refund/202602/cancellations`` (Cancel Order,
  :data:`CANCELLATIONS_VERSION`) body ``{order_id, cancel_reason}``, query
  ``shop_cipher`` and the signature only: the partner docs list no
  idempotency key ("Query Parameters: app_key, sign, timestamp,
  shop_cipher": TikTok Shop Partner Center, API reference "Cancel Order",
  read through a transcription of that page; its URL is not confirmed).
  Answers ``data {cancel_id, cancel_status}`` (e.g. CANCELLATION_REQUEST_SUCCESS);
  errors include 25001011 "Already cancelling or cancelled", 25001045
  "Shipped. Cannot cancel", 25001051 "Order complete or cancelled".
  :meth:`TikTokClient.cancel_order` is made idempotent by reading first: a
  standing seller request is returned, and a refusal saying the order is
  already cancelling/cancelled is followed by a second read.
* ``GET /order/202309/orders?ids=<id>`` (Get Order Detail, :data:`ORDER_VERSION`):
  what an order holds, for an order Backout learns from TikTok (:meth:`TikTokClient.get_order`).

Every call carries ``app_key``, ``timestamp`` (unix seconds) and ``sign`` in
the query and ``x-tts-access-token`` as a header. ``sign`` is TikTok's v1
scheme: hex HMAC-SHA256 keyed with the app secret over ``secret + path +
key1value1key2value2... (sorted, without sign and access_token) + body +
secret`` (:func:`sign`). Answers are ``{code, message, request_id, data}``;
``code`` 0 is success.

Cancellation statuses (Search Cancellations 202602): CANCELLATION_REQUEST_PENDING,
_SUCCESS and _COMPLETE (the cancel went through), _CANCEL (the request was
closed by the buyer or the system without a cancel; ``_CANCELLED`` is accepted
as a spelling). There is no "rejected" status: a request the seller rejected
shows as closed. The ``role`` field names who opened the request, not who
closed it. A refused decision (HTTP 4xx or a non-zero ``code``) is followed by
a read: if the request is already in the wanted state the decision counts as
done; otherwise PlatformRejected. HTTP 429/5xx raise TransientError.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any, Literal
from collections.abc import Callable

from backout.adapters.http import request_json
from backout.errors import PlatformRejected

#: Approve / Reject Cancellation.
DECIDE_VERSION = "202309"
#: Cancel Order and Search Cancellations, as the partner docs show them.
CANCELLATIONS_VERSION = "202602"
#: Get Order Detail.
ORDER_VERSION = "202309"
PENDING = "CANCELLATION_REQUEST_PENDING"
APPROVED = frozenset({"CANCELLATION_REQUEST_SUCCESS", "CANCELLATION_REQUEST_COMPLETE"})
#: Closed by the buyer or the system (or after the seller's reject) without a cancel.
CLOSED = frozenset({"CANCELLATION_REQUEST_CANCEL", "CANCELLATION_REQUEST_CANCELLED"})
#: Cancel Order refusals that mean "this order is already being cancelled or is cancelled".
ALREADY_CANCELLING = frozenset({25001011, 25001051})
Decision = Literal["decided", "already_decided"]


def decision_of(status: str) -> Literal["approved", "rejected"] | None:
    """A request status as the saga's decision; None while it is pending."""
    if status in APPROVED:
        return "approved"
    if status in CLOSED:
        return "rejected"
    return None


def sign(path: str, query: dict[str, str], body: str, app_secret: str) -> str:
    """TikTok Shop's request signature (v1)."""
    params = "".join(f"{k}{query[k]}" for k in sorted(query) if k not in ("sign", "access_token"))
    base = f"{app_secret}{path}{params}{body}{app_secret}"
    return hmac.new(app_secret.encode(), base.encode(), hashlib.sha256).hexdigest()


def _code(error: PlatformRejected) -> int | None:
    """TikTok's numeric ``code`` carried by a refusal (HTTP 200 with a code, or an HTTP 4xx body)."""
    code = error.detail.get("code")
    if code is None:
        found = re.search(r'"code":\s*(\d+)', str(error))
        code = found.group(1) if found else None
    try:
        return int(str(code))
    except ValueError:
        return None


class TikTokOrderNotFound(PlatformRejected):
    """TikTok answered, but not with the order asked for."""


@dataclass(frozen=True)
class TikTokCancellation:
    """A cancellation request as the search call reports it."""

    cancel_id: str
    order_id: str
    status: str
    role: str | None = None


def _cancellation(item: dict[str, Any]) -> TikTokCancellation:
    return TikTokCancellation(str(item["cancel_id"]), str(item.get("order_id") or ""),
                              str(item.get("cancel_status") or ""), item.get("role"))


class TikTokClient:
    """One shop's cancellation endpoints."""

    def __init__(self, base_url: str, app_key: str, app_secret: str, access_token: str, shop_cipher: str, *,
                 timeout: float = 8.0, clock: Callable[[], float] = time.time) -> None:
        self.base = base_url.rstrip("/")
        self.app_key, self.app_secret = app_key, app_secret
        self.access_token, self.shop_cipher = access_token, shop_cipher
        self.timeout = timeout
        self._clock = clock

    def _call(self, path: str, query: dict[str, str], body: dict[str, Any] | None, method: str = "POST") -> Any:
        """A signed call; returns ``data``; a non-zero ``code`` raises PlatformRejected."""
        full = {**query, "app_key": self.app_key, "timestamp": str(int(self._clock())), "shop_cipher": self.shop_cipher}
        full["sign"] = sign(path, full, json.dumps(body) if body is not None else "", self.app_secret)
        url = f"{self.base}{path}?{urllib.parse.urlencode(full)}"
        answer = request_json(method, url, headers={"x-tts-access-token": self.access_token}, body=body,
                              timeout=self.timeout) or {}
        if answer.get("code") not in (0, "0"):
            raise PlatformRejected(f"tiktok {path}: code {answer.get('code')} {answer.get('message')}",
                                   code=answer.get("code"))
        return answer.get("data") or {}

    def get_order(self, order_id: str) -> dict[str, Any]:
        """One order as TikTok Shop's Get Order Detail (202309) answers it: ``data.orders[0]``.

        Documented at https://partner.tiktokshop.com/docv2/page/get-order-detail-202309 (read through
        the OAS transcription of @tts-open-toolkit): ``GET /order/202309/orders``, query ``ids``
        (array<string>, max 50) and ``shop_cipher``, header ``x-tts-access-token``; answer
        ``{code, message, request_id, data: {orders: [...]}}``. An order carries ``id``, ``status``,
        ``update_time`` (unix), ``payment {currency, total_amount, sub_total, ...}`` (decimal strings;
        ``total_amount = sub_total + shipping_fee + taxes + retail_delivery_fee``) and ``line_items
        [{id, sku_id, seller_sku, sale_price, is_gift, ...}]``. A line item has no quantity field.
        What TikTok answers for an unknown id is not documented there: an empty ``orders`` (or a
        non-zero ``code``) raises :class:`TikTokOrderNotFound` (or PlatformRejected).
        """
        data = self._call(f"/order/{ORDER_VERSION}/orders", {"ids": str(order_id)}, None, method="GET")
        for order in data.get("orders") or []:
            if str(order.get("id")) == str(order_id):
                return dict(order)
        raise TikTokOrderNotFound(f"tiktok order {order_id} not found", code=None)

    def get_cancellation(self, cancel_id: str) -> TikTokCancellation | None:
        """The request's current status, or None when TikTok does not know it."""
        data = self._call(f"/return_refund/{CANCELLATIONS_VERSION}/cancellations/search", {"page_size": "50"},
                          {"cancel_ids": [str(cancel_id)]})
        for item in data.get("cancellations") or []:
            if str(item.get("cancel_id")) == str(cancel_id):
                return _cancellation(item)
        return None

    def order_cancellations(self, order_id: str) -> list[TikTokCancellation]:
        """Every cancellation request TikTok holds for an order."""
        data = self._call(f"/return_refund/{CANCELLATIONS_VERSION}/cancellations/search", {"page_size": "50"},
                          {"order_ids": [str(order_id)]})
        return [_cancellation(item) for item in data.get("cancellations") or []]

    def cancel_order(self, order_id: str, cancel_reason: str) -> TikTokCancellation:
        """Seller-initiated cancel of an order; a standing seller request is returned, not repeated.

        Cancel Order takes no idempotency key, so the order's requests are read first and a
        refusal that says it is already cancelling or cancelled is followed by a second read.
        """
        standing = self._seller_request(order_id)
        if standing is not None:
            return standing
        try:
            data = self._call(f"/return_refund/{CANCELLATIONS_VERSION}/cancellations", {},
                              {"order_id": str(order_id), "cancel_reason": cancel_reason})
        except PlatformRejected as refused:
            standing = self._seller_request(order_id)
            if standing is not None:
                return standing
            if _code(refused) in ALREADY_CANCELLING:
                live = [c for c in self.order_cancellations(order_id) if c.status in APPROVED]
                if live:
                    return live[-1]
            raise
        return TikTokCancellation(str(data["cancel_id"]), str(order_id), str(data.get("cancel_status") or PENDING),
                                  "SELLER")

    def _seller_request(self, order_id: str) -> TikTokCancellation | None:
        live = [c for c in self.order_cancellations(order_id) if c.role == "SELLER" and c.status not in CLOSED]
        return live[-1] if live else None

    def approve_cancellation(self, cancel_id: str, idempotency_key: str) -> Decision:
        """Approve; ``"already_decided"`` when it was approved before (by another key or person)."""
        return self._decide("approve", cancel_id, idempotency_key, None, APPROVED)

    def reject_cancellation(self, cancel_id: str, idempotency_key: str, reject_reason: str,
                            comment: str = "") -> Decision:
        """Reject (the order must then ship); ``"already_decided"`` when it was rejected before."""
        body = {"reject_reason": reject_reason, **({"comment": comment} if comment else {})}
        return self._decide("reject", cancel_id, idempotency_key, body, CLOSED)

    def _decide(self, verb: str, cancel_id: str, key: str, body: dict[str, Any] | None,
                done: frozenset[str]) -> Decision:
        if not key or len(key) > 255:
            raise ValueError("idempotency_key must be 1..255 characters")
        path = f"/return_refund/{DECIDE_VERSION}/cancellations/{urllib.parse.quote(str(cancel_id), safe='')}/{verb}"
        try:
            self._call(path, {"idempotency_key": key}, body)
        except PlatformRejected:
            current = self.get_cancellation(cancel_id)
            if current is not None and current.status in done:
                return "already_decided"
            raise
        return "decided"
