"""Ozon Seller API: rFBS conditional cancellations (list, approve, reject).

Headers ``Client-Id`` and ``Api-Key`` on every call.

* ``POST /v2/conditional-cancellation/list`` body ``{filters:
  {cancellation_initiator: [...], posting_number: [...], state}, limit,
  last_id, with: {counter}}`` -> ``{result: [...], last_id, counter}``. Each
  result has ``cancellation_id``, ``posting_number``, ``state`` (an object
  whose ``state`` is ON_APPROVAL | APPROVED | REJECTED; a plain string is
  accepted too), ``cancellation_initiator``, ``auto_approve_date``,
  ``cancellation_reason``. Pages follow ``last_id`` until a short page.
* ``POST /v2/conditional-cancellation/approve`` and ``/reject`` body
  ``{cancellation_id, comment}``; Ozon acts only on ON_APPROVAL requests.
* ``POST /v2/posting/fbs/cancel`` body ``{cancel_reason_id,
  cancel_reason_message, posting_number}`` -> ``{result: true}``: the seller
  cancels the posting. Ozon's reference
  (https://docs.ozon.ru/api/seller/#operation/PostingAPI_CancelFbsPosting):
  "Меняет статус отправления на `cancelled`" - it changes the posting's
  status to cancelled; it opens no conditional-cancellation request, so
  nothing is listed afterwards. :meth:`OzonClient.cancel_posting` reads the
  posting first (``POST /v3/posting/fbs/get {posting_number}`` ->
  ``result.status``) and does not cancel a cancelled posting again.

Ozon takes no idempotency key, so the cancel reads the posting first and both
decisions read the request first
(by posting number: the list has no id filter): approving an APPROVED
request is done, approving a REJECTED one raises PlatformRejected (and the
other way round for reject). A refused call is followed by a second read, so
a decision (or cancel) that went through but whose answer was lost is found
and counts as done. HTTP 429/5xx raise TransientError; other 4xx PlatformRejected.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

from backout.adapters.http import request_json
from backout.errors import PlatformRejected

OzonState = Literal["ON_APPROVAL", "APPROVED", "REJECTED"]
PAGE_LIMIT = 500
#: Ozon's cancel reason "other": ``cancel_reason_message`` is then required.
OTHER_REASON_ID = 402
#: A posting's status once cancelled.
CANCELLED = "cancelled"


@dataclass(frozen=True)
class OzonPosting:
    """What Backout reads of a posting."""

    posting_number: str
    status: str

    @property
    def cancelled(self) -> bool:
        """Whether the posting is cancelled."""
        return self.status == CANCELLED


@dataclass(frozen=True)
class OzonCancellation:
    """One conditional-cancellation request."""

    cancellation_id: int
    posting_number: str
    state: str
    initiator: str | None
    auto_approve_date: str | None
    reason: str | None = None

    @property
    def decision(self) -> Literal["approved", "rejected"] | None:
        """Ozon's decision, or None while the request is ON_APPROVAL."""
        return {"APPROVED": "approved", "REJECTED": "rejected"}.get(self.state)  # type: ignore[return-value]


def _parse(item: dict[str, Any]) -> OzonCancellation:
    state = item.get("state")
    if isinstance(state, dict):
        state = state.get("state") or state.get("name")
    reason = item.get("cancellation_reason")
    if isinstance(reason, dict):
        reason = reason.get("name")
    return OzonCancellation(int(item["cancellation_id"]), str(item.get("posting_number") or ""), str(state or ""),
                            item.get("cancellation_initiator"), item.get("auto_approve_date"),
                            str(reason) if reason is not None else None)


class OzonClient:
    """One seller's cancellation endpoints."""

    def __init__(self, base_url: str, client_id: str, api_key: str, timeout: float = 8.0) -> None:
        self.base = base_url.rstrip("/")
        self.headers = {"Client-Id": client_id, "Api-Key": api_key}
        self.timeout = timeout

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        return request_json("POST", self.base + path, headers=self.headers, body=body, timeout=self.timeout)

    def list_cancellations(self, *, posting_numbers: list[str] | None = None, state: str = "ALL",
                           initiators: list[str] | None = None) -> list[OzonCancellation]:
        """Every request matching the filters (all pages)."""
        filters: dict[str, Any] = {"state": state}
        if posting_numbers:
            filters["posting_number"] = posting_numbers
        if initiators:
            filters["cancellation_initiator"] = initiators
        found: list[OzonCancellation] = []
        last_id = 0
        while True:
            page = self._post("/v2/conditional-cancellation/list",
                              {"filters": filters, "limit": PAGE_LIMIT, "last_id": last_id, "with": {"counter": True}})
            items = list((page or {}).get("result") or [])
            found.extend(_parse(item) for item in items)
            next_id = int((page or {}).get("last_id") or 0)
            if len(items) < PAGE_LIMIT or not next_id or next_id == last_id:
                return found
            last_id = next_id

    def find_cancellation(self, posting_number: str, cancellation_id: int | None = None) -> OzonCancellation | None:
        """The posting's request with that id (or its newest request), if any."""
        items = self.list_cancellations(posting_numbers=[posting_number])
        if cancellation_id is not None:
            items = [c for c in items if c.cancellation_id == int(cancellation_id)]
        return max(items, key=lambda c: c.cancellation_id, default=None)

    def get_posting(self, posting_number: str) -> OzonPosting:
        """The posting's current status (``awaiting_packaging``, ``delivering``, ``cancelled``, ...)."""
        found = (self._post("/v3/posting/fbs/get", {"posting_number": posting_number}) or {}).get("result") or {}
        return OzonPosting(str(found.get("posting_number") or posting_number), str(found.get("status") or ""))

    def cancel_posting(self, posting_number: str, message: str, reason_id: int = OTHER_REASON_ID) -> OzonPosting:
        """Cancel a posting (seller-initiated); Ozon cancels it at once, no request is opened.

        Ozon takes no idempotency key: the posting is read first and a cancelled one is
        not cancelled again; a refused call is followed by a second read (the first
        answer may have been lost, or someone cancelled it meanwhile).
        """
        current = self.get_posting(posting_number)
        if current.cancelled:
            return current
        body = {"cancel_reason_id": reason_id, "cancel_reason_message": message, "posting_number": posting_number}
        try:
            self._post("/v2/posting/fbs/cancel", body)
        except PlatformRejected:
            again = self.get_posting(posting_number)
            if again.cancelled:
                return again
            raise
        return replace(current, status=CANCELLED)

    def approve(self, cancellation_id: int, posting_number: str, comment: str = "") -> OzonCancellation:
        """Approve a buyer's request; already approved is done, rejected raises PlatformRejected."""
        return self._decide("approve", "APPROVED", "REJECTED", cancellation_id, posting_number, comment)

    def reject(self, cancellation_id: int, posting_number: str, comment: str) -> OzonCancellation:
        """Reject a request (the order must then ship); already rejected is done."""
        return self._decide("reject", "REJECTED", "APPROVED", cancellation_id, posting_number, comment)

    def _decide(self, verb: str, done: OzonState, opposite: OzonState, cancellation_id: int, posting_number: str,
                comment: str) -> OzonCancellation:
        current = self._require(posting_number, cancellation_id)
        if current.state == done:
            return current
        if current.state == opposite:
            raise PlatformRejected(f"ozon: cancellation {cancellation_id} is {opposite}; cannot {verb} it",
                                   state=current.state)
        try:
            self._post(f"/v2/conditional-cancellation/{verb}",
                       {"cancellation_id": int(cancellation_id), "comment": comment})
        except PlatformRejected:
            again = self._require(posting_number, cancellation_id)
            if again.state == done:
                return again
            raise
        return replace(current, state=done)

    def _require(self, posting_number: str, cancellation_id: int) -> OzonCancellation:
        found = self.find_cancellation(posting_number, cancellation_id)
        if found is None:
            raise PlatformRejected(f"ozon: no cancellation {cancellation_id} for posting {posting_number}")
        return found
