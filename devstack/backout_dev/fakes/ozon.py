"""A fake Ozon Seller API: rFBS conditional cancellations.

Headers ``Client-Id`` / ``Api-Key`` are checked (401 with Ozon's error shape
``{code, message, details}`` otherwise).

* ``POST /v2/conditional-cancellation/list``: filters ``posting_number``
  (list), ``cancellation_initiator`` (list), ``state`` (ALL | ON_APPROVAL |
  APPROVED | REJECTED); ``limit`` 1..500 is required; pages by ``last_id``
  (ascending ids); ``counter`` = requests ON_APPROVAL.
* ``POST /v2/conditional-cancellation/approve`` / ``reject`` ``{cancellation_id,
  comment}``: only an ON_APPROVAL request can be decided (400 code 3
  otherwise); unknown id 404 code 5; answer ``{}``.

* ``POST /v2/posting/fbs/cancel`` ``{cancel_reason_id, cancel_reason_message,
  posting_number}``: the seller cancels the posting itself. Ozon's reference
  (https://docs.ozon.ru/api/seller/#operation/PostingAPI_CancelFbsPosting):
  "Меняет статус отправления на `cancelled`" (changes the posting's status
  to cancelled), answer "200 Отправление отменено" ``{"result": true}``;
  "Условно-доставленные отправления отменить нельзя" (a conditionally
  delivered posting cannot be cancelled); reason 402 needs
  ``cancel_reason_message``. It opens no conditional-cancellation request.
  The fake answers 400 code 3 for a missing message, for a posting already
  ``cancelled`` and for one ``conditionally_delivered`` or later (Ozon's
  wording for these errors is not documented: the messages are the fake's).
* ``POST /v3/posting/fbs/get`` ``{posting_number}`` -> ``{result:
  {posting_number, status, ...}}`` (PostingAPI_GetFbsPostingV3; the fake
  answers only ``posting_number``, ``status``, ``cancellation``). Every
  posting number is known to the fake, as ``awaiting_packaging`` until
  :meth:`FakeOzon.set_posting_status` or a cancel changes it (Ozon answers
  404 for a number it does not know: not modelled).

Conditional cancellations are the buyer's (``CLIENT``) or Ozon's own
(``OZON``) requests, which the seller approves or rejects; the v1 methods
were switched off in Aug 2025, v2 is what the fake serves.

Seed with :meth:`FakeOzon.add_cancellation`; :meth:`FakeOzon.auto_approve`
plays the platform deciding at ``auto_approve_date`` and
:meth:`FakeOzon.decide` Ozon deciding a request itself. Ledger ops:
``approve``, ``reject``, ``auto_approve``, ``cancel_posting``, ``platform_decision``.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, UTC
from typing import Any

from backout_dev.fakes._base import FakeServer, Request, Response

STATE_NAMES = {"ON_APPROVAL": "На согласовании", "APPROVED": "Подтверждена", "REJECTED": "Отклонена"}
_ids = itertools.count(1001)
#: Postings the seller can no longer cancel: the reference names conditionally delivered ones; the status
#: string for that state is the fake's guess (unconfirmed), ``delivered`` follows from it.
UNCANCELLABLE = frozenset({"conditionally_delivered", "delivered"})


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _error(status: int, code: int, message: str) -> Response:
    return Response(status, {"code": code, "message": message, "details": []})


class FakeOzon(FakeServer):
    """Stateful Ozon cancellation requests."""

    def __init__(self, client_id: str, api_key: str) -> None:
        super().__init__()
        self.client_id, self.api_key = client_id, api_key
        self.cancellations: dict[int, dict[str, Any]] = {}
        self.postings: dict[str, str] = {}

    def add_cancellation(self, posting_number: str, *, initiator: str = "CLIENT", state: str = "ON_APPROVAL",
                         auto_approve_in: timedelta = timedelta(days=2), reason: str = "Покупатель передумал") -> int:
        """A new cancellation request; returns its ``cancellation_id``."""
        with self.lock:
            cid = next(_ids)
            self.cancellations[cid] = {
                "cancellation_id": cid, "posting_number": posting_number, "state": state,
                "cancellation_initiator": initiator, "cancellation_reason": {"id": 507, "name": reason},
                "cancellation_reason_message": reason, "cancelled_at": _now(), "order_date": _now(),
                "auto_approve_date": (datetime.now(UTC) + auto_approve_in).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "approve_comment": "", "approve_date": None, "tpl_integration_type": "NON_INTEGRATED"}
            return cid

    def auto_approve(self, cancellation_id: int) -> None:
        """The deadline passed: Ozon approves the request itself."""
        with self.lock:
            item = self.cancellations[cancellation_id]
            item.update(state="APPROVED", approve_date=_now(), approve_comment="auto")
            self.record("auto_approve", cancellation_id=cancellation_id)

    def decide(self, cancellation_id: int, state: str) -> None:
        """Ozon decides a request itself (APPROVED or REJECTED), as it does for a seller's request."""
        with self.lock:
            item = self.cancellations[cancellation_id]
            item.update(state=state, approve_date=_now(), approve_comment="ozon")
            self.record("platform_decision", cancellation_id=cancellation_id, state=state)

    def requests_for(self, posting_number: str, initiator: str | None = None) -> list[int]:
        """The ids of a posting's requests (of one initiator), oldest first."""
        with self.lock:
            return [cid for cid, c in sorted(self.cancellations.items()) if c["posting_number"] == posting_number
                    and (initiator is None or c["cancellation_initiator"] == initiator)]

    def posting_status(self, posting_number: str) -> str:
        """A posting's status (``awaiting_packaging`` unless set or cancelled)."""
        return self.postings.get(posting_number, "awaiting_packaging")

    def set_posting_status(self, posting_number: str, status: str) -> None:
        """Move a posting (e.g. ``delivering``, ``conditionally_delivered``) as Ozon's logistics would."""
        with self.lock:
            self.postings[posting_number] = status

    def state(self, cancellation_id: int) -> str:
        """A request's current state."""
        return str(self.cancellations[cancellation_id]["state"])

    def fault_body(self, status: int) -> Any:
        return {"code": 8 if status == 429 else 13, "message": "injected fault", "details": []}

    def handle(self, req: Request) -> Response:
        if req.header("Client-Id") != self.client_id or req.header("Api-Key") != self.api_key:
            return _error(401, 16, "Invalid Api-Key, please contact support")
        if req.method != "POST":
            return _error(404, 5, "Not Found")
        body = req.body if isinstance(req.body, dict) else {}
        if req.path == "/v2/conditional-cancellation/list":
            return self._list(body)
        if req.path == "/v2/posting/fbs/cancel":
            return self._cancel_posting(body)
        if req.path == "/v3/posting/fbs/get":
            return self._get_posting(body)
        for verb, state in (("approve", "APPROVED"), ("reject", "REJECTED")):
            if req.path == f"/v2/conditional-cancellation/{verb}":
                return self._decide(verb, state, body)
        return _error(404, 5, "Not Found")

    def _view(self, item: dict[str, Any]) -> dict[str, Any]:
        state = item["state"]
        return {**item, "state": {"id": list(STATE_NAMES).index(state) + 1, "name": STATE_NAMES[state],
                                  "state": state}}

    def _list(self, body: dict[str, Any]) -> Response:
        limit = body.get("limit")
        if not isinstance(limit, int) or not 1 <= limit <= 500:
            return _error(400, 3, "limit must be between 1 and 500")
        filters = body.get("filters") or {}
        state = filters.get("state") or "ALL"
        if state != "ALL" and state not in STATE_NAMES:
            return _error(400, 3, f"unknown state {state}")
        postings = set(filters.get("posting_number") or [])
        initiators = set(filters.get("cancellation_initiator") or [])
        last_id = int(body.get("last_id") or 0)
        items = [c for cid, c in sorted(self.cancellations.items()) if cid > last_id
                 and (state == "ALL" or c["state"] == state)
                 and (not postings or c["posting_number"] in postings)
                 and (not initiators or c["cancellation_initiator"] in initiators)][:limit]
        counter = sum(1 for c in self.cancellations.values() if c["state"] == "ON_APPROVAL")
        return Response(200, {"result": [self._view(c) for c in items],
                              "last_id": items[-1]["cancellation_id"] if items else 0, "counter": counter})

    def _decide(self, verb: str, state: str, body: dict[str, Any]) -> Response:
        try:
            cid = int(body.get("cancellation_id") or 0)
        except (TypeError, ValueError):
            return _error(400, 3, "cancellation_id must be an integer")
        item = self.cancellations.get(cid)
        if item is None:
            return _error(404, 5, f"cancellation {cid} not found")
        if item["state"] != "ON_APPROVAL":
            return _error(400, 3, f"cancellation {cid} is in state {item['state']}, expected ON_APPROVAL")
        item.update(state=state, approve_comment=str(body.get("comment") or ""), approve_date=_now())
        self.record(verb, cancellation_id=cid, posting_number=item["posting_number"], comment=body.get("comment"))
        return Response(200, {})

    def _cancel_posting(self, body: dict[str, Any]) -> Response:
        posting, reason_id = body.get("posting_number"), body.get("cancel_reason_id")
        if not isinstance(posting, str) or not posting or not isinstance(reason_id, int):
            return _error(400, 3, "posting_number and cancel_reason_id are required")
        message = str(body.get("cancel_reason_message") or "")
        if reason_id == 402 and not message:
            return _error(400, 3, "cancel_reason_message is required for cancel_reason_id 402")
        status = self.posting_status(posting)
        if status == "cancelled":
            return _error(400, 3, f"posting {posting} is already cancelled")
        if status in UNCANCELLABLE:
            return _error(400, 3, f"posting {posting} is {status} and cannot be cancelled")
        with self.lock:
            self.postings[posting] = "cancelled"
        self.record("cancel_posting", posting_number=posting, cancel_reason_id=reason_id, message=message)
        return Response(200, {"result": True})

    def _get_posting(self, body: dict[str, Any]) -> Response:
        posting = body.get("posting_number")
        if not isinstance(posting, str) or not posting:
            return _error(400, 3, "posting_number is required")
        return Response(200, {"result": {"posting_number": posting, "status": self.posting_status(posting),
                                         "cancellation": None}})
