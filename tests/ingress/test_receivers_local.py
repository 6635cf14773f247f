"""Every provider's route on the local stack: authentic deliveries in, everything else out, once.

Requests go through the local HTTP API (the template's routes, the real
handlers, moto's DynamoDB), signed by ``backout_dev.sender.sign`` as
``backout send`` signs them. Rejections are checked against the inbox table:
nothing may be written.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest

from backout_dev.sender import OZON_LOCAL_SOURCE_IP, load_sample, post, send_event
from tests.ingress import kit
from tests.ingress.conftest import Downstream, Inbox, put_webhook_config, wait_for_stream

# every test here records instead of acting on what reaches the dispatcher (see conftest.downstream)
pytestmark = pytest.mark.usefixtures("ingress_secrets", "downstream")


def _post(env: Any, d: kit.Delivery, raw: bytes | None = None, headers: dict[str, str] | None = None,
          path: str | None = None) -> tuple[int, dict[str, Any]]:
    return post(env.url + (path or d.path), d.raw if raw is None else raw, d.headers if headers is None else headers)


def _refused(env: Any, inbox: Inbox, d: kit.Delivery, status: int, raw: bytes | None = None,
             headers: dict[str, str] | None = None, path: str | None = None, keyed: bool = True) -> dict[str, Any]:
    before = inbox.count()
    code, answer = _post(env, d, raw, headers, path)
    assert code == status, answer
    assert inbox.count() == before
    if keyed:
        assert inbox.get(d.key) is None
    return answer


def _error_code(provider: str, answer: dict[str, Any]) -> str:
    """The machine-readable reason of a refusal (Ozon wraps it in its envelope)."""
    error = answer["error"]
    return error["code"] if provider == "ozon" else error


# ----------------------------------------------------------------- signature scheme


@pytest.mark.parametrize("provider", kit.PROVIDERS)
def test_valid_delivery_is_accepted(provider: str, local_env: Any, ingress_secrets: dict[str, Any],
                                    inbox: Inbox) -> None:
    d = kit.make(provider, ingress_secrets)
    status, answer = _post(local_env, d)
    assert status == 200, answer
    assert answer == ({"result": True} if provider == "ozon" else {"received": True, "duplicate": False, "key": d.key})
    item = inbox.get(d.key)
    assert item is not None and item["pk"]["S"].split(":", 1)[0] == provider
    assert item["body"]["S"] == d.raw.decode()
    assert kit.AUTH_HEADER[provider] not in json.loads(item["meta"]["S"])["headers"]  # signatures are not stored


@pytest.mark.parametrize("provider", kit.PROVIDERS)
def test_dedupe_key_is_the_documented_one(provider: str, local_env: Any, ingress_secrets: dict[str, Any],
                                          inbox: Inbox) -> None:
    d = kit.make(provider, ingress_secrets)
    assert _post(local_env, d)[0] == 200
    assert inbox.get(kit.expected_key(provider, d.body, d.headers)) is not None


@pytest.mark.parametrize("provider", kit.PROVIDERS)
def test_tampered_body_is_rejected(provider: str, local_env: Any, ingress_secrets: dict[str, Any],
                                   inbox: Inbox) -> None:
    d = kit.make(provider, ingress_secrets)
    raw, headers = kit.tampered(d)
    answer = _refused(local_env, inbox, d, 401, raw, headers)
    assert "signature" in (answer["error"]["message"] if provider == "ozon" else answer["error"])


@pytest.mark.parametrize("provider", kit.PROVIDERS)
def test_wrong_secret_is_rejected(provider: str, local_env: Any, ingress_secrets: dict[str, Any],
                                  inbox: Inbox) -> None:
    if provider == "ozon":  # no secret: a source outside Ozon's networks is the forgery
        d = kit.make(provider, ingress_secrets)
        _refused(local_env, inbox, d, 401, headers=kit.wrong_source(d))
        return
    d = kit.make(provider, kit.other_secrets(ingress_secrets, provider))
    _refused(local_env, inbox, d, 401)


@pytest.mark.parametrize("provider", kit.PROVIDERS)
def test_missing_signature_header_is_rejected(provider: str, local_env: Any, ingress_secrets: dict[str, Any],
                                              inbox: Inbox) -> None:
    d = kit.make(provider, ingress_secrets)
    answer = _refused(local_env, inbox, d, 401, headers=kit.without_auth_header(d))
    if provider == "ozon":
        assert answer["error"] == {"code": "ERROR_UNKNOWN", "message": "signature: source_not_allowed",
                                   "details": None}


@pytest.mark.parametrize("provider", kit.PROVIDERS)
def test_rotated_secret_is_accepted(provider: str, local_env: Any, ingress_secrets: dict[str, Any],
                                    inbox: Inbox) -> None:
    # Given a rotation in progress: a new secret first, the old one still listed
    put_webhook_config(local_env.stack, kit.rotated(ingress_secrets, provider))
    try:
        # When the provider still signs with the old secret
        d = kit.make(provider, ingress_secrets)
        status, answer = _post(local_env, d)
    finally:
        put_webhook_config(local_env.stack, ingress_secrets["webhooks"])
    # Then the delivery is accepted
    assert status == 200, answer
    assert inbox.get(d.key) is not None


# ----------------------------------------------------------------- replay window


@pytest.mark.parametrize("skew", [-330, 330], ids=["stale", "future"])
@pytest.mark.parametrize("provider", kit.TIMESTAMPED)
def test_stale_and_future_timestamps_are_rejected(provider: str, skew: int, local_env: Any,
                                                  ingress_secrets: dict[str, Any], inbox: Inbox) -> None:
    d = kit.make(provider, ingress_secrets, now=time.time() + skew)
    answer = _refused(local_env, inbox, d, 401)
    assert answer["error"] == f"signature: {'stale' if skew < 0 else 'future'}_timestamp"


@pytest.mark.parametrize("provider", kit.TIMESTAMPED)
def test_timestamps_inside_the_window_are_accepted(provider: str, local_env: Any,
                                                   ingress_secrets: dict[str, Any]) -> None:
    for skew in (-290, 290):
        d = kit.make(provider, ingress_secrets, now=time.time() + skew)
        assert _post(local_env, d)[0] == 200


# ----------------------------------------------------------------- dedupe: once, however often it arrives


@pytest.mark.parametrize("provider", kit.PROVIDERS)
def test_same_delivery_three_times_is_one_item_and_one_event(provider: str, local_env: Any,
                                                             ingress_secrets: dict[str, Any], inbox: Inbox,
                                                             downstream: Downstream) -> None:
    d = kit.make(provider, ingress_secrets)
    before = inbox.count()
    answers = [_post(local_env, d) for _ in range(3)]
    assert [a[0] for a in answers] == [200, 200, 200]
    if provider != "ozon":
        assert [a[1]["duplicate"] for a in answers] == [False, True, True]
    assert inbox.count() == before + 1
    wait_for_stream(local_env.stack)
    assert downstream.kinds(d.key) == kit.SAMPLE[provider][1]


@pytest.mark.parametrize("provider", kit.PROVIDERS)
def test_same_delivery_three_times_concurrently_is_one_item_and_one_event(
        provider: str, local_env: Any, ingress_secrets: dict[str, Any], inbox: Inbox,
        downstream: Downstream) -> None:
    d = kit.make(provider, ingress_secrets)
    before = inbox.count()
    answers: list[tuple[int, dict[str, Any]]] = []
    barrier = threading.Barrier(3)

    def deliver() -> None:
        barrier.wait()
        answers.append(_post(local_env, d))

    threads = [threading.Thread(target=deliver) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(a[0] for a in answers) == [200, 200, 200]
    if provider != "ozon":
        assert sorted(a[1]["duplicate"] for a in answers) == [False, True, True]
    assert inbox.count() == before + 1
    wait_for_stream(local_env.stack)
    assert downstream.kinds(d.key) == kit.SAMPLE[provider][1]


# ----------------------------------------------------------------- samples and pings


SAMPLES = sorted(p.relative_to(kit.EVENTS).with_suffix("").as_posix() for p in kit.EVENTS.glob("*/*.json"))


@pytest.mark.parametrize("name", SAMPLES)
def test_every_sample_is_accepted_through_backout_send(name: str, local_env: Any, ingress_secrets: dict[str, Any],
                                                       downstream: Downstream) -> None:
    status, answer = send_event(local_env.url, load_sample(kit.EVENTS / f"{name}.json"), ingress_secrets)
    assert status == 200, answer
    if name == "ozon/TYPE_PING":
        assert set(answer) == {"version", "name", "time"}
    elif name.startswith("ozon/"):
        assert answer == {"result": True}
    else:
        assert answer["received"] is True


def test_ozon_ping_is_answered_without_a_write(local_env: Any, ingress_secrets: dict[str, Any],
                                               inbox: Inbox) -> None:
    d = kit.make("ozon", ingress_secrets, sample="ozon/TYPE_PING", unique=False)
    before = inbox.count()
    status, answer = _post(local_env, d)
    assert status == 200
    assert answer["name"] == "backout" and answer["version"] and answer["time"].endswith("Z")
    assert inbox.count() == before


def test_ozon_ping_from_outside_ozons_networks_is_refused(local_env: Any, ingress_secrets: dict[str, Any],
                                                          inbox: Inbox) -> None:
    d = kit.make("ozon", ingress_secrets, sample="ozon/TYPE_PING", unique=False)
    _refused(local_env, inbox, d, 401, headers=kit.wrong_source(d))


def test_ozon_duplicate_is_answered_result_true(local_env: Any, ingress_secrets: dict[str, Any]) -> None:
    d = kit.make("ozon", ingress_secrets)
    assert _post(local_env, d) == (200, {"result": True})
    assert _post(local_env, d) == (200, {"result": True})


def test_woocommerce_creation_ping_is_answered_without_a_write(local_env: Any, inbox: Inbox) -> None:
    before = inbox.count()
    status, answer = post(local_env.url + "/webhooks/woocommerce", b"webhook_id=12",
                          {"content-type": "application/x-www-form-urlencoded", "user-agent": "WooCommerce/9.7.1"})
    assert (status, answer) == (200, {"received": True, "ping": True})
    assert inbox.count() == before


def test_the_local_source_address_header_only_reaches_ozon_as_source(local_env: Any,
                                                                       ingress_secrets: dict[str, Any],
                                                                       inbox: Inbox) -> None:
    d = kit.make("ozon", ingress_secrets)
    assert _post(local_env, d)[0] == 200
    item = inbox.get(d.key)
    meta = json.loads(item["meta"]["S"]) if item is not None else {}
    assert meta["source_ip"] == OZON_LOCAL_SOURCE_IP
    assert "x-backout-local-source-ip" not in meta["headers"]


# ----------------------------------------------------------------- replies that write nothing


@pytest.mark.parametrize("provider", kit.PROVIDERS)
def test_oversized_body_is_413_and_writes_nothing(provider: str, local_env: Any, ingress_secrets: dict[str, Any],
                                                  inbox: Inbox) -> None:
    d = kit.make(provider, ingress_secrets, mutate=lambda body: body.update(padding="x" * 262_144))
    answer = _refused(local_env, inbox, d, 413)
    if provider == "ozon":
        assert answer["error"]["code"] == "ERROR_UNKNOWN"


@pytest.mark.parametrize("provider", kit.PROVIDERS)
def test_malformed_body_is_400_and_writes_nothing(provider: str, local_env: Any, ingress_secrets: dict[str, Any],
                                                  inbox: Inbox) -> None:
    # correctly signed, but not JSON: only the parser can refuse it
    from backout_dev.sender import sign

    d = kit.make(provider, ingress_secrets)
    raw = b'{"id": "unterminated'
    headers = sign(provider, raw, {k: v for k, v in d.headers.items()}, ingress_secrets, source_ip=OZON_LOCAL_SOURCE_IP)
    answer = _refused(local_env, inbox, d, 400, raw, headers)
    if provider == "ozon":
        assert answer["error"]["code"] == "ERROR_PARAMETER_VALUE_MISSED"


# standard's id is the signed webhook-id header: without it the signature fails first (401)
@pytest.mark.parametrize("provider", [p for p in kit.PROVIDERS if p != "standard"])
def test_signed_body_without_its_id_is_400_and_writes_nothing(provider: str, local_env: Any,
                                                              ingress_secrets: dict[str, Any], inbox: Inbox) -> None:
    if provider == "shopify":  # the ids are unsigned headers
        d = kit.make(provider, ingress_secrets)
        headers = {k: v for k, v in d.headers.items() if k not in ("x-shopify-event-id", "x-shopify-webhook-id")}
        _refused(local_env, inbox, d, 400, headers=headers)
        return
    id_field = {"stripe": "id", "paypal": "id", "woocommerce": "date_modified_gmt", "tiktok": "tts_notification_id",
                "aftership": "event_id", "easypost": "id", "ozon": "message_type"}
    d = kit.make(provider, ingress_secrets, mutate=lambda body: body.pop(id_field[provider]))
    _refused(local_env, inbox, d, 400, keyed=False)


@pytest.mark.parametrize("provider", kit.PROVIDERS)
def test_non_json_content_type_is_415_and_writes_nothing(provider: str, local_env: Any,
                                                         ingress_secrets: dict[str, Any], inbox: Inbox) -> None:
    d = kit.make(provider, ingress_secrets)
    answer = _refused(local_env, inbox, d, 415, headers=dict(d.headers, **{"content-type": "text/plain"}))
    assert _error_code(provider, answer) in ("content-type must be application/json", "ERROR_UNKNOWN")


@pytest.mark.parametrize("path", ["/webhooks/unknown", "/webhooks/", "/webhooks/stripe/extra"])
def test_unknown_provider_is_404_and_writes_nothing(path: str, local_env: Any, ingress_secrets: dict[str, Any],
                                                    inbox: Inbox) -> None:
    d = kit.make("stripe", ingress_secrets)
    _refused(local_env, inbox, d, 404, path=path)


@pytest.mark.parametrize("provider", kit.PROVIDERS)
def test_another_functions_provider_is_404_and_writes_nothing(provider: str, local_env: Any,
                                                              ingress_secrets: dict[str, Any], inbox: Inbox) -> None:
    # a route misconfigured onto the wrong function must not be served by it
    d = kit.make(provider, ingress_secrets)
    others = sorted({f for f in kit.FUNCTION_OF.values() if f != kit.FUNCTION_OF[provider]})
    for function in others:
        payload = local_env.stack.lambdas.handlers[function](d.api_event(), None)
        assert payload["statusCode"] == 404
    assert inbox.get(d.key) is None


# ----------------------------------------------------------------- AWS calls on the acknowledgement path


class AwsCalls:
    """Every AWS API call made on this thread (botocore's one funnel for every client)."""

    WRITES = ("Put", "Update", "Delete", "BatchWrite", "TransactWrite", "Send", "Start", "Create")

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from botocore.client import BaseClient

        self.calls: list[tuple[str, str]] = []
        self.thread = threading.get_ident()
        original = BaseClient._make_api_call
        calls = self

        def counting(client: Any, operation: str, params: Any) -> Any:
            if threading.get_ident() == calls.thread:
                calls.calls.append((client.meta.service_model.service_name, operation))
            return original(client, operation, params)

        monkeypatch.setattr(BaseClient, "_make_api_call", counting)

    def take(self) -> list[tuple[str, str]]:
        taken, self.calls = self.calls, []
        return taken

    @classmethod
    def writes(cls, calls: list[tuple[str, str]]) -> list[tuple[str, str]]:
        return [c for c in calls if c[1].startswith(cls.WRITES)]


@pytest.mark.parametrize("provider", kit.PROVIDERS)
def test_acknowledgement_path_makes_exactly_one_write(provider: str, local_env: Any,
                                                      ingress_secrets: dict[str, Any], inbox: Inbox,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from backout import credentials

    handler = local_env.stack.lambdas.handlers[kit.FUNCTION_OF[provider]]
    calls = AwsCalls(monkeypatch)
    # cold: the secret is read once (a read), then the one conditional put
    credentials.clear_cache()
    first = kit.make(provider, ingress_secrets)
    assert handler(first.api_event(), None)["statusCode"] == 200
    cold = calls.take()
    assert AwsCalls.writes(cold) == [("dynamodb", "PutItem")]
    assert set(cold) <= {("dynamodb", "PutItem"), ("secretsmanager", "GetSecretValue")}
    # warm: a new delivery is exactly one call, the put
    second = kit.make(provider, ingress_secrets)
    assert handler(second.api_event(), None)["statusCode"] == 200
    assert calls.take() == [("dynamodb", "PutItem")]
    # a duplicate is the same single (refused) conditional put, nothing else
    assert handler(second.api_event(), None)["statusCode"] == 200
    assert calls.take() == [("dynamodb", "PutItem")]
    # a forgery makes no AWS call at all
    raw, headers = kit.tampered(second)
    assert handler(second.api_event(raw, headers), None)["statusCode"] == 401
    assert calls.take() == []
    assert inbox.get(first.key) is not None and inbox.get(second.key) is not None
