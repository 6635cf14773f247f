"""Ozon does not push cancellation *requests*: poll them into the inbox.

A scheduled function lists the seller's conditional cancellations that wait for
an answer (``ON_APPROVAL``) and writes each one into the InboxTable exactly as
the receivers do (one conditional put, keyed by the hash of the canonical body),
with Backout's own message type ``TYPE_CANCELLATION_REQUESTED``. From there the
stream and the dispatcher treat it like any webhook: a request listed on every
poll is recorded once. The public ``/webhooks/ozon`` route refuses that type,
so only this poller can create one.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Callable, Protocol

from backout.ingress.keys import OZON_POLLED_TYPE, identify
from backout.ingress.delivery import Delivery
from backout.ingress.inbox import inbox_item, put_inbox_item

#: Marks an inbox item written by the poller rather than received over HTTP.
POLLER_HEADER = "x-backout-poller"


class CancellationLister(Protocol):
    """What the poller needs from the Ozon adapter."""

    def list_cancellations(self, *, posting_numbers: list[str] | None = None, state: str = "ALL",
                           initiators: list[str] | None = None) -> list[Any]: ...


@dataclass(frozen=True)
class PollResult:
    """What one poll saw and recorded."""

    listed: int
    recorded: int


def polled_body(cancellation: Any) -> dict[str, Any]:
    """The inbox body for one listed request (the list item's fields, no state, so the key is stable)."""
    body: dict[str, Any] = {
        "message_type": OZON_POLLED_TYPE,
        "cancellation_id": cancellation.cancellation_id,
        "posting_number": cancellation.posting_number,
        "cancellation_initiator": cancellation.initiator,
        "auto_approve_date": cancellation.auto_approve_date,
    }
    if cancellation.reason:
        body["cancellation_reason"] = {"name": cancellation.reason}
    return body


def poll(client: CancellationLister, put: Callable[[dict[str, Any]], bool] | None = None,
         now: float | None = None) -> PollResult:
    """List the requests waiting for an answer and record the ones not recorded yet."""
    now = time.time() if now is None else now
    listed = client.list_cancellations(state="ON_APPROVAL")
    recorded = 0
    for cancellation in listed:
        body = polled_body(cancellation)
        text = json.dumps(body, sort_keys=True, separators=(",", ":"))
        headers = {"content-type": "application/json", POLLER_HEADER: "1"}
        delivery = Delivery("ozon", text.encode(), headers, "", f"poll:{cancellation.cancellation_id}")
        item = inbox_item(delivery, *identify("ozon", body, headers), text, now)
        recorded += bool((put or put_inbox_item)(item))
    return PollResult(listed=len(listed), recorded=recorded)
