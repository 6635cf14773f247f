"""TikTok Shop Open API (202309): decide a buyer's cancellation request.

* ``POST /return_refund/202309/cancellations/{cancel_id}/approve`` and
  ``/reject`` (body ``{reject_reason, comment}``), with query
  ``idempotency_key`` and ``shop_cipher``. The same idempotency key replays
  the first answer, so a retry after a lost answer does nothing twice.
* ``POST /return_refund/202309/cancellations/search`` body ``{cancel_ids}``
  (or ``{order_ids}``) reads a request's ``cancel_status``.
* ``POST /return_refund/202309/cancellations`` body ``{order_id,
  cancel_reason}`` with query ``idempotency_key``: the seller cancels an
  order; answers ``{cancel_id, cancel_status}``. The order's standing seller
  request is looked up first (:meth:`TikTokClient.cancel_order`), so a key
  that expired does not make a second request.
* ``GET /order/202309/orders?ids=<id>`` (Get Order Detail, below): what an
  order holds, for an order Backout learns from TikTok (:meth:`TikTokClient.get_order`).

Every call carries ``app_key``, ``timestamp`` (unix seconds) and ``sign`` in
the query and ``x-tts-access-token`` as a header. ``sign`` is TikTok's v1
scheme: hex HMAC-SHA256 keyed with the app secret over ``secret + path +
key1value1key2value2... (sorted, without sign and access_token) + body +
secret`` (:func:`sign`). Answers are ``{code, message, request_id, data}``;
``code`` 0 is success.

A refused decision (HTTP 4xx or a non-zero ``code``) is followed by a read:
if the request is already in the wanted state the decision counts as done
(approving an approved request, e.g. by another attempt with a new key);
otherwise PlatformRejected. HTTP 429/5xx raise TransientError. Status names:
CANCELLATION_REQUEST_PENDING, _SUCCESS / _COMPLETE (approved), _REJECT(ED)
(rejected; the exact spelling is unconfirmed, both are accepted),
_CANCEL(LED) (withdrawn by the buyer).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any, Literal
from collections.abc import Callable

from backout.adapters.http import request_json
from backout.errors import PlatformRejected

VERSION = "202309"
PENDING = "CANCELLATION_REQUEST_PENDING"
APPROVED = frozenset({"CANCELLATION_REQUEST_SUCCESS", "CANCELLATION_REQUEST_COMPLETE"})
REJECTED = frozenset({"CANCELLATION_REQUEST_REJECT", "CANCELLATION_REQUEST_REJECTED"})
WITHDRAWN = frozenset({"CANCELLATION_REQUEST_CANCEL", "CANCELLATION_REQUEST_CANCELLED"})
Decision = Literal["decided", "already_decided"]


def decision_of(status: str) -> Literal["approved", "rejected"] | None:
    """A request status as the saga's decision; None while it is pending."""
    if status in APPROVED:
        return "approved"
    if status in REJECTED | WITHDRAWN:
        return "rejected"
    return None


def sign(path: str, query: dict[str, str], body: str, app_secret: str) -> str:
    """TikTok Shop's request signature (v1)."""
    params = "".join(f"{k}{query[k]}" for k in sorted(query) if k not in ("sign", "access_token"))
    base = f"{app_secret}{path}{params}{body}{app_secret}"
    return hmac.new(app_secret.encode(), base.encode(), hashlib.sha256).hexdigest()


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
        data = self._call(f"/order/{VERSION}/orders", {"ids": str(order_id)}, None, method="GET")
        for order in data.get("orders") or []:
            if str(order.get("id")) == str(order_id):
                return dict(order)
        raise TikTokOrderNotFound(f"tiktok order {order_id} not found", code=None)

    def get_cancellation(self, cancel_id: str) -> TikTokCancellation | None:
        """The request's current status, or None when TikTok does not know it."""
        data = self._call(f"/return_refund/{VERSION}/cancellations/search", {"page_size": "50"},
                          {"cancel_ids": [str(cancel_id)]})
        for item in data.get("cancellations") or []:
            if str(item.get("cancel_id")) == str(cancel_id):
                return _cancellation(item)
        return None

    def order_cancellations(self, order_id: str) -> list[TikTokCancellation]:
        """Every cancellation request TikTok holds for an order."""
        data = self._call(f"/return_refund/{VERSION}/cancellations/search", {"page_size": "50"},
                          {"order_ids": [str(order_id)]})
        return [_cancellation(item) for item in data.get("cancellations") or []]

    def cancel_order(self, order_id: str, cancel_reason: str, idempotency_key: str) -> TikTokCancellation:
        """Seller-initiated cancel of an order; a standing seller request is returned, not repeated."""
        standing = self._seller_request(order_id)
        if standing is not None:
            return standing
        try:
            data = self._call(f"/return_refund/{VERSION}/cancellations", {"idempotency_key": idempotency_key},
                              {"order_id": str(order_id), "cancel_reason": cancel_reason})
        except PlatformRejected:
            standing = self._seller_request(order_id)
            if standing is not None:
                return standing
            raise
        return TikTokCancellation(str(data["cancel_id"]), str(order_id), str(data.get("cancel_status") or PENDING),
                                  "SELLER")

    def _seller_request(self, order_id: str) -> TikTokCancellation | None:
        live = [c for c in self.order_cancellations(order_id)
                if c.role == "SELLER" and c.status not in REJECTED | WITHDRAWN]
        return live[-1] if live else None

    def approve_cancellation(self, cancel_id: str, idempotency_key: str) -> Decision:
        """Approve; ``"already_decided"`` when it was approved before (by another key or person)."""
        return self._decide("approve", cancel_id, idempotency_key, None, APPROVED)

    def reject_cancellation(self, cancel_id: str, idempotency_key: str, reject_reason: str,
                            comment: str = "") -> Decision:
        """Reject (the order must then ship); ``"already_decided"`` when it was rejected before."""
        body = {"reject_reason": reject_reason, **({"comment": comment} if comment else {})}
        return self._decide("reject", cancel_id, idempotency_key, body, REJECTED)

    def _decide(self, verb: str, cancel_id: str, key: str, body: dict[str, Any] | None,
                done: frozenset[str]) -> Decision:
        if not key or len(key) > 255:
            raise ValueError("idempotency_key must be 1..255 characters")
        path = f"/return_refund/{VERSION}/cancellations/{urllib.parse.quote(str(cancel_id), safe='')}/{verb}"
        try:
            self._call(path, {"idempotency_key": key}, body)
        except PlatformRejected:
            current = self.get_cancellation(cancel_id)
            if current is not None and current.status in done:
                return "already_decided"
            raise
        return "decided"
