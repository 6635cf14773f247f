"""What the acknowledgement path does once per process and what it still does on every delivery, without AWS.

The ack budget (``backout bench`` table 1) is met by doing less per request:
the inbox item's headers and audit-only fields in one attribute (four
attributes in all), the metric line rendered
by Powertools once and re-stamped, PayPal's certificate parsed and its chain
verified once per certificate and roots, Ozon's allowlist parsed once. These
tests hold that nothing a request must check moved out of the request.
"""

from __future__ import annotations

import contextlib
import io
import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from backout.ingress import receiver
from backout_dev import signing
from backout.ingress.receiver import delivery_from_api_event
from backout_dev.sender import paypal_cert_fetcher
from tests.ingress import kit

DAY = 86400


@pytest.fixture()
def secrets(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Fresh secrets (a new fake PayPal CA, so no certificate is cached yet), served by the fake cert host."""
    fresh = kit.fresh_secrets()
    monkeypatch.setattr(receiver, "fetch_paypal_cert", paypal_cert_fetcher(fresh))
    receiver.clear_paypal_cert_cache()
    return fresh


def _receive(d: kit.Delivery, config: dict[str, Any], now: float | None = None,
             event: dict[str, Any] | None = None) -> tuple[receiver.Answer, list[dict[str, Any]]]:
    """Answer one delivery with ``config``; the items it would have written."""
    items: list[dict[str, Any]] = []
    answer = receiver.receive(delivery_from_api_event(d.provider, event or d.api_event()), now=now, config=config,
                              put=lambda item: items.append(item) or True)
    return answer, items


# ----------------------------------------------------------------- the inbox item


@pytest.mark.parametrize("provider", kit.PROVIDERS)
def test_the_inbox_item_keeps_every_field_in_four_attributes(provider: str, secrets: dict[str, Any]) -> None:
    d = kit.make(provider, secrets)
    event = d.api_event()
    before = time.time()
    answer, (item,) = _receive(d, secrets["webhooks"], event=event)
    assert answer.status == 200
    assert set(item) == {"pk", "body", "meta", "expires_at"}
    assert item["pk"]["S"] == d.key and d.key.startswith(f"{provider}:") and item["body"]["S"] == d.raw.decode()
    meta = json.loads(item["meta"]["S"])
    assert {k: v for k, v in meta.items() if k not in ("headers", "received_at")} == {
        "topic": answer.log["topic"], "source_ip": event["requestContext"]["http"]["sourceIp"],
        "request_id": event["requestContext"]["requestId"]}
    assert int(before * 1000) - 1000 <= meta["received_at"] <= int(time.time() * 1000)
    assert int(item["expires_at"]["N"]) == meta["received_at"] // 1000 + 35 * DAY
    sent = {k.lower(): v for k, v in event["headers"].items()}
    assert kit.AUTH_HEADER[provider] not in meta["headers"]  # signatures are not stored
    assert meta["headers"].items() <= sent.items() and meta["headers"]  # the rest is, as sent
    assert not [k for k in meta["headers"] if any(h in k for h in ("signature", "hmac", "authorization", "-sig"))]


def test_an_item_reads_back_as_the_delivery_it_records(secrets: dict[str, Any]) -> None:
    d = kit.make("shopify", secrets)
    _, (item,) = _receive(d, secrets["webhooks"], now=1_800_000_000.25)
    plain = {name: next(iter(value.values())) for name, value in item.items()}
    record = receiver.read_inbox_item(plain)
    assert record == receiver.InboxRecord(d.key, "shopify", d.raw.decode(), json.loads(plain["meta"])["headers"],
                                          1_800_000_000_250, record.topic)
    assert record.topic == "refunds/create" and record.headers["x-shopify-topic"] == "refunds/create"


def test_an_item_written_before_meta_still_reads() -> None:
    """The seven-attribute shape (provider, headers, audit, received_at of their own) stays readable after a deploy."""
    old = {"pk": "stripe:evt_1", "provider": "stripe", "body": "{}", "headers": '{"content-type":"application/json"}',
           "audit": '{"topic":"charge.refunded","source_ip":"","request_id":""}', "received_at": 1_800_000_000_000,
           "expires_at": 1_803_024_000}
    assert receiver.read_inbox_item(old) == receiver.InboxRecord(
        "stripe:evt_1", "stripe", "{}", {"content-type": "application/json"}, 1_800_000_000_000, "charge.refunded")


def test_the_dispatcher_reads_the_new_item() -> None:
    from backout.dispatch import Dispatcher

    fresh = kit.fresh_secrets()
    d = kit.make("stripe", fresh)
    _, (item,) = _receive(d, fresh["webhooks"])
    plain = {name: next(iter(value.values())) for name, value in item.items()}
    applied: list[Any] = []
    dispatcher = Dispatcher(repo=object())  # type: ignore[arg-type]
    dispatcher.apply = applied.append  # type: ignore[method-assign]
    assert dispatcher.handle_delivery(plain) == kit.SAMPLE["stripe"][1]
    assert [e.source_id for e in applied] == [d.key]


# ----------------------------------------------------------------- the metric line


def test_each_answer_prints_one_metric_line_exactly_as_powertools_renders_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from aws_lambda_powertools.metrics import MetricUnit, single_metric

    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "backout")
    answers = iter([receiver.Answer(200, {}, {"provider": "stripe", "status": 200, "duplicate": False}),
                    receiver.Answer(200, {}, {"provider": "stripe", "status": 200, "duplicate": True}),
                    receiver.Answer(401, {}, {"provider": "paypal", "status": 401})])
    monkeypatch.setattr(receiver, "answer_api_event", lambda event, served, settings=None, fetch_cert=None: next(answers))
    handler = receiver.api_handler(frozenset({"stripe", "paypal"}), _SilentLogger(), load_config=lambda settings: {})
    expected = [("WebhooksReceived", "stripe"), ("WebhooksDuplicate", "stripe"), ("WebhooksRejected", "paypal")]
    for name, provider in expected:
        ours = _printed(lambda: handler({}, None))
        with _capture() as theirs, single_metric(name=name, unit=MetricUnit.Count, value=1, namespace="Backout") as m:
            m.add_dimension(name="provider", value=provider)
        assert len(ours) == 1 and _without_time(ours[0]) == _without_time(theirs.getvalue().strip())
        assert abs(json.loads(ours[0])["_aws"]["Timestamp"] / 1000 - time.time()) < 60


class _SilentLogger:
    def __getattr__(self, name: str) -> Callable[..., None]:
        return lambda *args, **kwargs: None


@contextlib.contextmanager
def _capture() -> Any:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        yield out


def _printed(fn: Callable[[], Any]) -> list[str]:
    with _capture() as out:
        fn()
    return [line for line in out.getvalue().splitlines() if line.startswith('{"_aws"')]


def _without_time(line: str) -> dict[str, Any]:
    doc = json.loads(line)
    doc["_aws"].pop("Timestamp")
    return dict(doc)


# ----------------------------------------------------------------- PayPal's certificate


def _counting(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> list[int]:
    calls: list[int] = []
    inner = getattr(module, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return inner(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return calls


def test_paypal_certificate_is_parsed_and_its_chain_verified_once(secrets: dict[str, Any],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from cryptography import x509

    one_loads = _counting(monkeypatch, x509, "load_pem_x509_certificate")
    loads = _counting(monkeypatch, x509, "load_pem_x509_certificates")  # served chain, anchors, the config check
    assert _receive(kit.make("paypal", secrets), secrets["webhooks"])[0].status == 200
    first = (len(one_loads), len(loads))
    for _ in range(3):
        assert _receive(kit.make("paypal", secrets), secrets["webhooks"])[0].status == 200
    assert first[1] > 0 and (len(one_loads), len(loads)) == first  # nothing parsed again after the first delivery


def test_a_cached_paypal_certificate_is_still_refused_once_it_expires(secrets: dict[str, Any]) -> None:
    assert _receive(kit.make("paypal", secrets), secrets["webhooks"])[0].status == 200
    later = time.time() + 31 * DAY
    answer, items = _receive(kit.make("paypal", secrets, now=later), secrets["webhooks"], now=later)
    assert (answer.status, answer.body["error"], items) == (401, "signature: cert_expired", [])


def test_a_cached_paypal_certificate_is_refused_when_the_trusted_roots_change(secrets: dict[str, Any]) -> None:
    assert _receive(kit.make("paypal", secrets), secrets["webhooks"])[0].status == 200
    other_root, _, _ = signing.make_fake_paypal_ca(time.time())
    rotated = dict(secrets["webhooks"], paypal=dict(secrets["webhooks"]["paypal"],
                                                    trusted_roots_pem=other_root.decode()))
    answer, items = _receive(kit.make("paypal", secrets), rotated)
    assert (answer.status, answer.body["error"], items) == (401, "signature: untrusted_cert", [])
    both = dict(rotated, paypal=dict(rotated["paypal"],
                                     trusted_roots_pem=other_root.decode() + secrets["webhooks"]["paypal"][
                                         "trusted_roots_pem"]))
    assert _receive(kit.make("paypal", secrets), both)[0].status == 200  # a rotation lists old and new roots


def test_a_paypal_signature_is_still_verified_on_every_delivery(secrets: dict[str, Any]) -> None:
    assert _receive(kit.make("paypal", secrets), secrets["webhooks"])[0].status == 200
    d = kit.make("paypal", secrets)
    answer, items = _receive(d, secrets["webhooks"], event=d.api_event(*kit.tampered(d)))
    assert (answer.status, answer.body["error"], items) == (401, "signature: bad_signature", [])


# ----------------------------------------------------------------- Ozon's allowlist


def test_a_changed_ozon_allowlist_applies_to_the_next_delivery(secrets: dict[str, Any]) -> None:
    assert _receive(kit.make("ozon", secrets), secrets["webhooks"])[0].status == 200
    elsewhere = dict(secrets["webhooks"], ozon=dict(secrets["webhooks"]["ozon"], allowed_networks=["10.0.0.0/8"]))
    answer, items = _receive(kit.make("ozon", secrets), elsewhere)
    assert (answer.status, items) == (401, [])
