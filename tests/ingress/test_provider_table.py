"""The README's provider table agrees with the code, cell by cell.

Behaviour behind each cell is tested in test_receivers_local.py (signature
scheme, replay window, dedupe key) and here (topics acted on).
"""

from __future__ import annotations

import ast
import re
from datetime import datetime, timezone
from typing import Any

import pytest

from backout.ingress import verify
from backout.ingress.normalize import normalize
from backout_dev.template import ROOT, load_template, parameter_defaults, resources_of
from tests.ingress import kit

README = (ROOT / "README.md").read_text()
RECEIVED = datetime(2025, 3, 14, 12, 0, tzinfo=timezone.utc)


def _table() -> dict[str, dict[str, str]]:
    section = README.split("## Webhook providers", 1)[1].split("\n## ", 1)[0]  # up to the next section
    rows = [line for line in section.splitlines() if line.startswith("|")]
    header = [c.strip() for c in rows[0].strip("|").split("|")]
    table = {}
    for row in rows[2:]:
        cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", row.strip().strip("|"))]
        table[cells[0]] = dict(zip(header, cells))
    return table


TABLE = _table()


def _ticked(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


def test_table_has_every_provider_and_column() -> None:
    assert list(TABLE) == ["stripe", "paypal", "shopify", "woocommerce", "ozon", "tiktok", "aftership", "easypost",
                           "standard"]
    assert set(TABLE) == set(kit.PROVIDERS)
    for row in TABLE.values():
        assert list(row) == ["provider", "signature scheme", "replay window", "dedupe key", "topics acted on"]


def test_every_provider_has_a_route_on_the_documented_function() -> None:
    routes = {}
    for logical, res in resources_of(load_template(), "AWS::Serverless::Function").items():
        for ev in (res["Properties"].get("Events") or {}).values():
            if ev["Type"] == "HttpApi":
                routes[ev["Properties"]["Path"]] = (ev["Properties"]["Method"], logical)
    for provider, function in kit.FUNCTION_OF.items():
        assert routes[f"/webhooks/{provider}"] == ("POST", function)
        assert f"`{function}`" in README and provider in README.split(f"`{function}`", 1)[1].split(")", 1)[0]


@pytest.mark.parametrize("provider", kit.PROVIDERS)
def test_signature_scheme_names_the_header_checked(provider: str) -> None:
    cell = TABLE[provider]["signature scheme"]
    if provider == "ozon":
        assert all(net in cell for net in verify.OZON_NETWORKS) and "seller_id" in cell
    else:
        assert cell.startswith(f"`{kit.AUTH_HEADER[provider]}")


@pytest.mark.parametrize("provider", kit.PROVIDERS)
def test_replay_window_is_the_template_default_where_a_time_is_signed(provider: str) -> None:
    cell = TABLE[provider]["replay window"]
    window = parameter_defaults(load_template())["ReplayWindowSeconds"]
    if provider in kit.TIMESTAMPED:
        assert cell.startswith(f"±{window} s on ")
    else:
        assert cell == "none (no signed time): dedupe only"


@pytest.fixture(scope="module")
def secrets() -> dict[str, Any]:
    return kit.fresh_secrets()


@pytest.mark.parametrize("provider", kit.PROVIDERS)
def test_dedupe_key_cell_matches_the_key_made(provider: str, secrets: dict[str, Any]) -> None:
    from backout.ingress.keys import dedupe_key

    d = kit.make(provider, secrets)
    documented = _ticked(TABLE[provider]["dedupe key"])[0]
    assert documented.startswith(f"{provider}:<")
    key = dedupe_key(provider, d.body, d.headers)
    assert key == d.key  # kit.expected_key spells out the documented form
    pattern = "".join(".+" if part.startswith("<") else re.escape(part) for part in re.split(r"(<[^>]+>)", documented))
    assert re.fullmatch(pattern, key), (pattern, key)


def _registry(module: str, name: str) -> set[str]:
    """A top-level constant of a normaliser module, read from its source (keys of a dict, or a tuple/set)."""
    source = (ROOT / "shared" / "backout" / "ingress" / "normalize" / f"{module}.py").read_text()
    for node in ast.parse(source).body:
        targets = [node.target] if isinstance(node, ast.AnnAssign) else getattr(node, "targets", [])
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            value = node.value
            if isinstance(value, ast.Call):  # frozenset({...})
                value = value.args[0]
            items = value.keys if isinstance(value, ast.Dict) else value.elts  # type: ignore[union-attr]
            return {ast.literal_eval(k) for k in items}
    raise LookupError(f"{module}.{name}")


#: How each provider's normaliser declares what it acts on; None: probed below.
REGISTRY = {
    "stripe": ("stripe", "HANDLERS"), "paypal": ("paypal", "HANDLERS"), "shopify": ("shopify", "HANDLERS"),
    "woocommerce": ("woocommerce", "TOPICS"), "aftership": ("aftership", "TRACKING_EVENTS"),
    "easypost": ("easypost", "TOPICS"), "ozon": None, "tiktok": None, "standard": None,
}

#: A body that acts, per topic, for the normalisers without a registry (and one that does not).
PROBES: dict[str, dict[str, Any]] = {
    "ozon": {
        "TYPE_POSTING_CANCELLED": {"message_type": "TYPE_POSTING_CANCELLED", "posting_number": "1-1-1", "seller_id": 1},
        "TYPE_STATE_CHANGED": {"message_type": "TYPE_STATE_CHANGED", "posting_number": "1-1-1",
                               "new_state": "posting_delivered", "seller_id": 1},
        "TYPE_NEW_POSTING": {"message_type": "TYPE_NEW_POSTING", "posting_number": "1-1-1", "seller_id": 1,
                             "products": [{"sku": 1, "quantity": 1}]},
        "TYPE_CUTOFF_DATE_CHANGED": {"message_type": "TYPE_CUTOFF_DATE_CHANGED", "posting_number": "1-1-1",
                                     "seller_id": 1},
    },
    "tiktok": {
        "ORDER_STATUS_CHANGE": {"type": 1, "tts_notification_id": "1",
                                "data": {"order_id": "9", "order_status": "CANCELLED"}},
        "CANCELLATION_STATUS_CHANGE": {"type": 11, "tts_notification_id": "2",
                                       "data": {"order_id": "9", "cancel_id": "5", "cancellations_role": "BUYER",
                                                "cancel_status": "CANCELLATION_REQUEST_PENDING"}},
        "RETURN_STATUS_CHANGE": {"type": 12, "tts_notification_id": "3",
                                 "data": {"order_id": "9", "return_status": "RETURN_OR_REFUND_REQUEST_SUCCESS",
                                          "return_type": "RETURN_AND_REFUND"}},
        "PACKAGE_UPDATE": {"type": 4, "tts_notification_id": "4", "data": {"package_id": "1"}},
    },
    "standard": {
        "order.cancel_requested": {"type": "order.cancel_requested",
                                   "data": {"order_id": "generic:1", "request_id": "r1", "initiator": "buyer"}},
        "order.cancel_withdrawn": {"type": "order.cancel_withdrawn",
                                   "data": {"order_id": "generic:1", "request_id": "r1"}},
        "order.created": {"type": "order.created", "data": {"order_id": "generic:1"}},
    },
}


def _acts(provider: str, body: dict[str, Any]) -> bool:
    headers = {"webhook-id": "msg_probe"} if provider == "standard" else {}
    return any(e.kind != "ignored" for e in normalize(provider, body, headers, RECEIVED))


@pytest.mark.parametrize("provider", kit.PROVIDERS)
def test_topics_acted_on_are_the_documented_ones(provider: str) -> None:
    documented = set(_ticked(TABLE[provider]["topics acted on"]))
    where = REGISTRY[provider]
    if where is not None:
        assert documented == _registry(*where)
        return
    acting = {topic for topic, body in PROBES[provider].items() if _acts(provider, body)}
    assert documented == acting
    assert acting < set(PROBES[provider])  # and the probe's other topic is ignored
