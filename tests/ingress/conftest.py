"""Fixtures for the ingress tests on the session's local stack (tests/conftest.py: ``local_env``)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.ingress import kit


def wait_for_stream(stack: Any, timeout: float = 20.0) -> None:
    """Block until the inbox stream pollers have handled every record (sagas are not waited for)."""
    deadline = time.monotonic() + timeout
    quiet = 0
    while time.monotonic() < deadline:
        quiet = quiet + 1 if all(p.idle for p in stack.pollers) else 0
        if quiet >= 3:
            return
        time.sleep(0.02)
    raise TimeoutError("inbox stream still busy")


def put_webhook_config(stack: Any, hooks: dict[str, Any]) -> None:
    """Replace the webhook secret's value in the embedded Secrets Manager and drop cached copies."""
    from backout import credentials

    stack.client("secretsmanager").put_secret_value(SecretId=stack.refs["WebhookSecrets"],
                                                    SecretString=json.dumps(hooks))
    credentials.clear_cache()


@pytest.fixture(scope="module", autouse=True)
def atomic_conditional_puts() -> Iterator[None]:
    """Make moto's PutItem atomic, as DynamoDB's is.

    moto evaluates a ConditionExpression and then writes, without a lock: two
    threads putting the same new key can both pass ``attribute_not_exists(pk)``
    and both emit an INSERT stream record. DynamoDB serialises writes to an
    item, so the conditional put is the dedupe. Without this, the concurrent
    triple-delivery tests would be testing moto's race, not the receiver.
    (The local stack itself should do this; see the ingress report.)
    """
    from moto.dynamodb.models.table import Table

    lock = threading.RLock()
    original = Table.put_item

    def put_item(self: Any, *args: Any, **kwargs: Any) -> Any:
        with lock:
            return original(self, *args, **kwargs)

    Table.put_item = put_item  # type: ignore[method-assign]
    try:
        yield
    finally:
        Table.put_item = original  # type: ignore[method-assign]


@pytest.fixture(scope="session")
def ingress_secrets(local_env: Any) -> Iterator[dict[str, Any]]:
    """The local stack's secrets plus TikTok, PayPal and Ozon entries (until stack.py generates them).

    What is missing is added to the embedded Secrets Manager, and the fake
    PayPal certificate host is installed unless the local HTTP API already did.
    """
    from backout.ingress import receiver
    from backout_dev.sender import paypal_cert_fetcher

    secrets = kit.with_provider_secrets(local_env.secrets)
    stack = local_env.stack
    current = json.loads(stack.client("secretsmanager").get_secret_value(
        SecretId=stack.refs["WebhookSecrets"])["SecretString"])
    if any(p not in current for p in secrets["webhooks"]):
        put_webhook_config(stack, secrets["webhooks"] | current)
    saved = receiver.fetch_paypal_cert
    if "paypal_local" not in local_env.secrets:
        receiver.fetch_paypal_cert = paypal_cert_fetcher(secrets)
        receiver.clear_paypal_cert_cache()
    yield secrets
    receiver.fetch_paypal_cert = saved
    receiver.clear_paypal_cert_cache()


class Inbox:
    """Reads the embedded inbox table."""

    def __init__(self, stack: Any) -> None:
        self.ddb = stack.client("dynamodb")
        self.table = stack.refs["InboxTable"]

    def count(self) -> int:
        total, start = 0, None
        while True:
            kwargs: dict[str, Any] = {"TableName": self.table, "Select": "COUNT"}
            if start:
                kwargs["ExclusiveStartKey"] = start
            page = self.ddb.scan(**kwargs)
            total += page["Count"]
            start = page.get("LastEvaluatedKey")
            if not start:
                return total

    def get(self, key: str) -> dict[str, Any] | None:
        return self.ddb.get_item(TableName=self.table, Key={"pk": {"S": key}}, ConsistentRead=True).get("Item")


@pytest.fixture()
def inbox(local_env: Any) -> Inbox:
    """The inbox table of the session's local stack."""
    return Inbox(local_env.stack)


class Downstream:
    """Domain events the dispatcher applied, recorded instead of acted on (no sagas start)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    def kinds(self, key: str) -> list[str]:
        with self.lock:
            return [kind for source, kind in self.events if source == key]


@pytest.fixture(scope="module")
def downstream(local_env: Any) -> Iterator[Downstream]:
    """Record the domain events the real dispatcher produces from new inbox items.

    ``Dispatcher.apply`` is replaced for the whole module: deliveries are
    still read from the stream and normalised by the real code, but nothing
    is acted on, so test deliveries naming orders that do not exist start
    no sagas (and leave nothing running for other tests to wait for).
    """
    from backout.dispatch import Dispatcher

    wait_for_stream(local_env.stack)
    record = Downstream()

    def apply(self: Dispatcher, event: Any) -> None:
        with record.lock:
            record.events.append((event.source_id, event.kind))

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Dispatcher, "apply", apply)
        yield record
        wait_for_stream(local_env.stack)
