"""A polled Ozon request that overtook its posting is parked; a crash of the posting's delivery must not lose it.

Found by the simulation (``ozon+platform``, ``cancel_first``): the buyer's request was polled before
Ozon's ``TYPE_NEW_POSTING`` push was dispatched, so it was parked under the order. The posting's
delivery recorded the order, then died while replaying the parked request (a Lambda crash, a DynamoDB
timeout). The stream retried the delivery, but the order was no longer new ("stale"), so nothing was
replayed again: the request was lost (OPEN, no request), or recorded and never started (OPEN,
``cancel_requested`` and nothing after it), or started as far as CANCEL_REQUESTED with no saga.
Ozon lists the request on every poll, but the poll's inbox key is already taken, so only the retry
of the posting's delivery can finish the job. Driven through the dispatcher, the code the stream runs.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from backout.dispatch import Dispatcher
from backout.domain.events import DomainEvent
from backout.ingress.normalize import normalize
from backout.repo.orders import OrdersRepository
from tests.integration.flow import status, steps, wait_until

_numbers = itertools.count(41_000_000)
CRASH_POINTS = ("reading_parked", "after_request_recorded", "before_saga_started")


class SimulatedCrash(RuntimeError):
    """The Lambda invocation dying mid-task."""


def _events(body: dict[str, Any]) -> list[DomainEvent]:
    return normalize("ozon", body, {}, datetime.now(timezone.utc))


def _posting(posting: str, offset_s: float = -60) -> list[DomainEvent]:
    """Ozon's TYPE_NEW_POSTING push, normalised (``offset_s`` moves its time, i.e. makes it a newer push)."""
    at = (datetime.now(timezone.utc) + timedelta(seconds=offset_s)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return _events({"message_type": "TYPE_NEW_POSTING", "posting_number": posting, "currency_code": "RUB",
                    "products": [{"sku": 148_000_001, "offer_id": "OZ-PARK", "quantity": 1, "price": "700.00"}],
                    "in_process_at": at})


def _polled(env: Any, cancellation_id: int) -> list[DomainEvent]:
    """The buyer's request as the poller feeds it in."""
    return _events({**env.ozon.cancellations[cancellation_id], "message_type": "TYPE_CANCELLATION_REQUESTED"})


def _apply(events: list[DomainEvent]) -> None:
    dispatcher = Dispatcher()
    for event in events:
        dispatcher.apply(event)


def _crash_once(monkeypatch: pytest.MonkeyPatch, point: str, order_id: str) -> list[str]:
    """Make this order's dispatch die once at ``point``; returns the list the crash is noted in."""
    crashed: list[str] = []
    target = {"reading_parked": (OrdersRepository, "parked"),
              "after_request_recorded": (OrdersRepository, "transition"),
              "before_saga_started": (Dispatcher, "_start_saga")}[point]
    original = getattr(*target)

    def crash(self: Any, oid: str, *args: Any, **kwargs: Any) -> Any:
        if oid == order_id and not crashed:
            crashed.append(point)
            raise SimulatedCrash(f"simulated crash at {point}")
        return original(self, oid, *args, **kwargs)

    monkeypatch.setattr(*target, crash)
    return crashed


@pytest.mark.parametrize("point", CRASH_POINTS)
def test_a_parked_request_survives_a_crash_of_its_postings_delivery(local_env: Any, monkeypatch: pytest.MonkeyPatch,
                                                                    point: str) -> None:
    # Given a buyer's request polled before Ozon's push of the posting: it is parked under the order
    posting = f"{next(_numbers)}-0001-1"
    order_id = f"ozon:{posting}"
    cid = local_env.ozon.add_cancellation(posting, initiator="CLIENT")
    _apply(_polled(local_env, cid))
    assert status(order_id) == "None" and OrdersRepository().parked(order_id)
    # When the posting's delivery dies after recording the order, at one point of applying the parked request ...
    crashed = _crash_once(monkeypatch, point, order_id)
    posting_events = _posting(posting)
    with pytest.raises(SimulatedCrash):
        _apply(posting_events)
    assert crashed == [point] and status(order_id) in ("OPEN", "CANCEL_REQUESTED")
    # ... and the stream retries that delivery
    _apply(posting_events)
    # Then the request is recorded once and its saga runs: Backout approves it at Ozon
    wait_until(lambda: local_env.ozon.state(cid) == "APPROVED")
    repo = OrdersRepository()
    assert repo.get_request(order_id, f"ozon:{cid}") is not None
    assert status(order_id) == "CANCEL_REQUESTED"  # until Ozon confirms the cancellation
    assert steps(order_id).count("cancel_requested") == 1 and steps(order_id).count("order_recorded") == 1
    assert sum(1 for e in local_env.ozon.effects("approve") if e["cancellation_id"] == cid) == 1


def test_a_later_push_of_a_cancelled_posting_does_not_replay_its_parked_request(local_env: Any) -> None:
    # Given a request parked before its posting, applied when the posting was recorded, and the order cancelled
    posting = f"{next(_numbers)}-0001-1"
    order_id = f"ozon:{posting}"
    cid = local_env.ozon.add_cancellation(posting, initiator="CLIENT")
    _apply(_polled(local_env, cid))
    _apply(_posting(posting))
    wait_until(lambda: local_env.ozon.state(cid) == "APPROVED")
    _apply(_events({"message_type": "TYPE_POSTING_CANCELLED", "posting_number": posting,
                    "products": [{"sku": 148_000_001, "quantity": 1}], "new_state": "posting_canceled",
                    "changed_state_date": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")}))
    wait_until(lambda: status(order_id) == "CANCELLED")
    before = steps(order_id)
    # When Ozon pushes the posting again, newer, and a retry of the first push comes too
    _apply(_posting(posting, offset_s=-30))
    _apply(_posting(posting))
    # Then nothing of the parked request is applied again: the timeline has no new step about it
    after = steps(order_id)
    assert after[:len(before)] == before
    assert not {"cancel_requested", "cancel_request_not_started"} & set(after[len(before):])
