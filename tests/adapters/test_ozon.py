"""OzonClient against FakeOzon: list filters and pages, approve/reject once, errors and faults."""

from __future__ import annotations

from datetime import timedelta

import pytest

from backout.adapters import ozon as ozon_module
from backout.adapters.ozon import OzonClient
from backout.errors import PlatformRejected, TransientError
from backout_dev.fakes import FakeOzon


def test_list_filters_and_fields(ozon: OzonClient, ozon_fake: FakeOzon) -> None:
    cid = ozon_fake.add_cancellation("1111-0001-1", initiator="CLIENT", auto_approve_in=timedelta(days=3))
    ozon_fake.add_cancellation("2222-0001-1", initiator="SELLER", state="APPROVED")
    [found] = ozon.list_cancellations(posting_numbers=["1111-0001-1"])
    assert (found.cancellation_id, found.state, found.initiator) == (cid, "ON_APPROVAL", "CLIENT")
    assert found.auto_approve_date and found.reason
    assert [c.posting_number for c in ozon.list_cancellations(initiators=["SELLER"])] == ["2222-0001-1"]
    assert [c.cancellation_id for c in ozon.list_cancellations(state="ON_APPROVAL")] == [cid]


def test_list_follows_pages(ozon: OzonClient, ozon_fake: FakeOzon, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ozon_module, "PAGE_LIMIT", 2)
    ids = [ozon_fake.add_cancellation("3333-0001-1") for _ in range(5)]
    assert [c.cancellation_id for c in ozon.list_cancellations(posting_numbers=["3333-0001-1"])] == ids
    assert ozon.find_cancellation("3333-0001-1").cancellation_id == ids[-1]  # type: ignore[union-attr]


def test_approve_once(ozon: OzonClient, ozon_fake: FakeOzon) -> None:
    cid = ozon_fake.add_cancellation("4444-0001-1")
    assert ozon.approve(cid, "4444-0001-1", "stock returned").state == "APPROVED"
    assert ozon.approve(cid, "4444-0001-1").state == "APPROVED"  # already approved: done, no second call
    assert ozon_fake.state(cid) == "APPROVED"
    assert ozon_fake.effects("approve") == [{"op": "approve", "cancellation_id": cid,
                                             "posting_number": "4444-0001-1", "comment": "stock returned"}]


def test_approve_rejected_is_refused(ozon: OzonClient, ozon_fake: FakeOzon) -> None:
    cid = ozon_fake.add_cancellation("5555-0001-1")
    assert ozon.reject(cid, "5555-0001-1", "already shipped").state == "REJECTED"
    assert ozon.reject(cid, "5555-0001-1", "again").state == "REJECTED"
    with pytest.raises(PlatformRejected, match="REJECTED"):
        ozon.approve(cid, "5555-0001-1")
    assert len(ozon_fake.effects("reject")) == 1 and ozon_fake.effects("approve") == []


def test_auto_approved_at_deadline_counts_as_done(ozon: OzonClient, ozon_fake: FakeOzon) -> None:
    cid = ozon_fake.add_cancellation("6666-0001-1")
    ozon_fake.auto_approve(cid)
    assert ozon.approve(cid, "6666-0001-1").state == "APPROVED"
    assert ozon_fake.effects("approve") == []
    with pytest.raises(PlatformRejected, match="APPROVED"):
        ozon.reject(cid, "6666-0001-1", "too late")


def test_lost_answer_then_retry_is_one_approval(ozon: OzonClient, ozon_fake: FakeOzon) -> None:
    cid = ozon_fake.add_cancellation("7777-0001-1")
    ozon_fake.drop_next_response(path_contains="/approve")
    with pytest.raises(TransientError):
        ozon.approve(cid, "7777-0001-1")
    assert ozon.approve(cid, "7777-0001-1").state == "APPROVED"
    assert len(ozon_fake.effects("approve")) == 1


def test_refused_call_is_checked_against_state(ozon: OzonClient, ozon_fake: FakeOzon) -> None:
    """Approved between our read and our call (e.g. by Ozon's deadline): the 400 is read as done."""
    cid = ozon_fake.add_cancellation("8888-0001-1")
    original = ozon_fake.handle

    def approve_first(req):  # type: ignore[no-untyped-def]
        if req.path.endswith("/approve") and ozon_fake.state(cid) == "ON_APPROVAL":
            ozon_fake.auto_approve(cid)
        return original(req)

    ozon_fake.handle = approve_first  # type: ignore[method-assign]
    assert ozon.approve(cid, "8888-0001-1").state == "APPROVED"
    assert ozon_fake.effects("approve") == []


@pytest.mark.parametrize("status", [429, 500])
def test_faults_are_transient(ozon: OzonClient, ozon_fake: FakeOzon, status: int) -> None:
    cid = ozon_fake.add_cancellation("9999-0001-1")
    ozon_fake.fail_next(1, status, path_contains="/approve")
    with pytest.raises(TransientError):
        ozon.approve(cid, "9999-0001-1")
    assert ozon_fake.effects("approve") == []
    assert ozon.approve(cid, "9999-0001-1").state == "APPROVED"


def test_bad_credentials_and_unknown_request(ozon: OzonClient, ozon_fake: FakeOzon) -> None:
    with pytest.raises(PlatformRejected, match="401"):
        OzonClient(ozon_fake.url, "12345", "wrong", timeout=5).list_cancellations()
    with pytest.raises(PlatformRejected, match="no cancellation"):
        ozon.approve(424242, "0000-0000-0")


# ------------------------------------------------------------------ seller cancel (issue 14, item 5)
# Ozon's reference, PostingAPI_CancelFbsPosting (https://docs.ozon.ru/api/seller/#operation/PostingAPI_CancelFbsPosting):
# "Меняет статус отправления на `cancelled`" (it changes the posting's status to cancelled; 200 "Отправление
# отменено"). It opens no conditional-cancellation request: nothing is listed afterwards.
def test_cancel_posting_cancels_it_and_opens_no_request(ozon: OzonClient, ozon_fake: FakeOzon) -> None:
    done = ozon.cancel_posting("1010-0001-1", "out of stock")
    assert (done.posting_number, done.status, done.cancelled) == ("1010-0001-1", "cancelled", True)
    assert ozon_fake.posting_status("1010-0001-1") == "cancelled"
    assert ozon.list_cancellations(posting_numbers=["1010-0001-1"]) == []  # no seller request exists
    assert ozon.get_posting("1010-0001-1").cancelled
    [effect] = ozon_fake.effects("cancel_posting")
    assert (effect["posting_number"], effect["cancel_reason_id"]) == ("1010-0001-1", 402)


def test_cancel_posting_twice_is_one_cancel(ozon: OzonClient, ozon_fake: FakeOzon) -> None:
    ozon.cancel_posting("1111-0002-1", "out of stock")
    assert ozon.cancel_posting("1111-0002-1", "out of stock").cancelled  # read first: not cancelled again
    assert len(ozon_fake.effects("cancel_posting")) == 1


def test_cancel_posting_lost_answer_is_found_not_repeated(ozon: OzonClient, ozon_fake: FakeOzon) -> None:
    ozon_fake.drop_next_response(path_contains="/posting/fbs/cancel")
    with pytest.raises(TransientError):  # the answer never came: the saga retries ...
        ozon.cancel_posting("1212-0001-1", "out of stock")
    assert ozon.cancel_posting("1212-0001-1", "out of stock").cancelled  # ... and finds it cancelled
    assert len(ozon_fake.effects("cancel_posting")) == 1


def test_cancel_posting_refused_after_someone_else_cancelled_counts_as_done(ozon: OzonClient,
                                                                            ozon_fake: FakeOzon) -> None:
    original = ozon_fake.handle

    def cancelled_meanwhile(req):  # type: ignore[no-untyped-def]
        if req.path == "/v2/posting/fbs/cancel":
            ozon_fake.set_posting_status("1414-0001-1", "cancelled")  # Ozon or the buyer got there first
        return original(req)

    ozon_fake.handle = cancelled_meanwhile  # type: ignore[method-assign]
    assert ozon.cancel_posting("1414-0001-1", "out of stock").cancelled
    assert ozon_fake.effects("cancel_posting") == []


def test_cancel_posting_refusals_are_rejected(ozon: OzonClient, ozon_fake: FakeOzon) -> None:
    with pytest.raises(PlatformRejected, match="cancel_reason_message"):
        ozon.cancel_posting("1313-0001-1", "")
    ozon_fake.set_posting_status("1515-0001-1", "conditionally_delivered")  # "Условно-доставленные ... нельзя"
    with pytest.raises(PlatformRejected, match="cannot be cancelled"):
        ozon.cancel_posting("1515-0001-1", "too late")
    assert ozon_fake.effects("cancel_posting") == []
