"""Log redaction and metric emission, without AWS."""

from __future__ import annotations

import json
from typing import Any

import pytest

from backout.ops.emit import webhook_answered
from backout.ops.logs import REDACTED, RedactingFormatter, redact, saga_logger


def test_personal_data_is_redacted_at_any_depth() -> None:
    record = {"order_id": "woocommerce:1", "billing": {"email": "a@b.c"},
              "lines": [{"sku": "MUG", "First-Name": "Ann"}], "detail": {"payer": {"id": 1}}, "total": 100}
    assert redact(record) == {"order_id": "woocommerce:1", "billing": REDACTED,
                              "lines": [{"sku": "MUG", "First-Name": REDACTED}], "detail": {"payer": REDACTED},
                              "total": 100}


def test_the_saga_formatter_keeps_the_correlation_id_and_drops_the_email() -> None:
    import logging

    formatter = saga_logger().logger_formatter
    assert isinstance(formatter, RedactingFormatter)
    formatter.append_keys(correlation_id="ozon:123")
    record = logging.LogRecord("backout", logging.INFO, __file__, 1, "step", None, None)
    record.customer_email = "ann@example.com"
    record.amount = 5
    line = json.loads(formatter.format(record))
    assert line["correlation_id"] == "ozon:123" and line["amount"] == 5
    assert line["customer_email"] == REDACTED and "ann@example.com" not in json.dumps(line)


def _emitted(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith('{"_aws"')]


@pytest.mark.parametrize(("log", "name", "provider"), [
    ({"provider": "stripe", "status": 200, "duplicate": False}, "WebhooksReceived", "stripe"),
    ({"provider": "stripe", "status": 200, "duplicate": True}, "WebhooksDuplicate", "stripe"),
    ({"provider": "paypal", "status": 401}, "WebhooksRejected", "paypal"),
    ({"provider": "evil-route", "status": 404}, "WebhooksRejected", "unknown"),
    ({"provider": "stripe", "status": 500}, "WebhooksFailed", "stripe"),
])
def test_receiver_answers_become_metrics_by_provider(log: dict[str, Any], name: str, provider: str,
                                                     capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    webhook_answered(log, {"stripe", "paypal"})
    (metric,) = _emitted(capsys)
    assert metric[name] == [1.0] and metric["provider"] == provider and metric["_aws"]["CloudWatchMetrics"][0][
        "Namespace"] == "Backout"


def test_pings_are_not_counted_and_disabled_metrics_write_nothing(capsys: pytest.CaptureFixture[str],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    webhook_answered({"provider": "ozon", "status": 200, "ping": True}, {"ozon"})
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    webhook_answered({"provider": "ozon", "status": 200}, {"ozon"})
    assert _emitted(capsys) == []
