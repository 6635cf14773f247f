"""The Ozon cancellation-request poller: what it writes to the inbox, and that a request is recorded once."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from backout.adapters.ozon import OzonCancellation
from backout.domain.events import CancelRequested, Initiator
from backout.ingress.normalize import normalize
from backout.ozon_poller import poll


class Lister:
    def __init__(self, items: list[OzonCancellation]) -> None:
        self.items = items
        self.calls: list[str] = []

    def list_cancellations(self, *, posting_numbers: list[str] | None = None, state: str = "ALL",
                           initiators: list[str] | None = None) -> list[OzonCancellation]:
        self.calls.append(state)
        return [c for c in self.items if state in ("ALL", c.state)]


class Inbox:
    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}

    def __call__(self, item: dict[str, Any]) -> bool:
        key = item["pk"]["S"]
        if key in self.items:
            return False
        self.items[key] = item
        return True


def _request(cid: int, posting: str, state: str = "ON_APPROVAL", initiator: str = "CLIENT") -> OzonCancellation:
    return OzonCancellation(cid, posting, state, initiator, "2026-11-25T10:00:00Z", "changed my mind")


def test_each_waiting_request_is_recorded_once_across_polls() -> None:
    lister = Lister([_request(11, "0001-1"), _request(12, "0002-1"), _request(13, "0003-1", state="APPROVED")])
    inbox = Inbox()
    first = poll(lister, inbox, now=1_800_000_000.0)
    second = poll(lister, inbox, now=1_800_000_300.0)
    assert (first.listed, first.recorded) == (2, 2)
    assert (second.listed, second.recorded) == (2, 0)
    assert lister.calls == ["ON_APPROVAL", "ON_APPROVAL"]
    assert len(inbox.items) == 2


def test_a_polled_item_normalises_to_a_formal_cancel_request() -> None:
    inbox = Inbox()
    poll(Lister([_request(11, "0001-1")]), inbox, now=1_800_000_000.0)
    item = next(iter(inbox.items.values()))
    meta = json.loads(item["meta"]["S"])
    assert item["pk"]["S"].startswith("ozon:") and meta["topic"] == "TYPE_CANCELLATION_REQUESTED"
    events = normalize("ozon", json.loads(item["body"]["S"]), meta["headers"],
                       datetime.now(timezone.utc))
    assert len(events) == 1 and isinstance(events[0], CancelRequested)
    request = events[0]
    assert (request.order_id, request.request_id, request.initiator) == ("ozon:0001-1", "ozon:11", Initiator.BUYER)
    assert request.auto_approve_at == datetime(2026, 11, 25, 10, tzinfo=timezone.utc)


def test_an_unconfigured_ozon_poller_does_nothing_and_says_so_once(monkeypatch: Any) -> None:
    """Issue 15: for a seller not on Ozon the poller failed every 5 minutes (KeyError 'ozon_client_id')."""
    import importlib.util
    from pathlib import Path
    from types import SimpleNamespace

    import backout.saga.providers as providers

    path = Path(__file__).resolve().parents[2] / "functions" / "ozon_poller" / "app.py"
    spec = importlib.util.spec_from_file_location("ozon_poller_app_under_test", path)
    assert spec is not None and spec.loader is not None
    app = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(app)
    monkeypatch.setattr(providers, "_creds", lambda: {"stripe_api_key": "sk_test_x"})  # no Ozon keys
    monkeypatch.setattr(app, "ozon_client", lambda: (_ for _ in ()).throw(AssertionError("must not be called")))
    said: list[str] = []
    monkeypatch.setattr(app.logger, "warning", lambda message, *a, **k: said.append(str(message)))
    context = SimpleNamespace(function_name="OzonPoller", memory_limit_in_mb=128, aws_request_id="r-1",
                              invoked_function_arn="arn:aws:lambda:eu-west-1:123456789012:function:OzonPoller")
    first = app.handler({"source": "aws.events"}, context)
    second = app.handler({"source": "aws.events"}, context)
    assert first == second == {"skipped": "ozon is not configured"}
    assert len(said) == 1 and "poller does nothing" in said[0]
    monkeypatch.setattr(providers, "_creds", lambda: {"ozon_client_id": "1", "ozon_api_key": "k"})
    assert providers.ozon_configured()
