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

Seed with :meth:`FakeOzon.add_cancellation`; :meth:`FakeOzon.auto_approve`
plays the platform deciding at ``auto_approve_date``. Ledger ops:
``approve``, ``reject``, ``auto_approve``.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, UTC
from typing import Any

from backout_dev.fakes._base import FakeServer, Request, Response

STATE_NAMES = {"ON_APPROVAL": "На согласовании", "APPROVED": "Подтверждена", "REJECTED": "Отклонена"}
_ids = itertools.count(1001)


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
