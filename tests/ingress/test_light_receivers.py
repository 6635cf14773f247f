"""The receivers stay light: answering a delivery imports neither pydantic nor stripe (nor the normalisers).

Each receiver module is imported in a fresh interpreter and answers one
signed delivery per provider it serves (configuration and the inbox put are
faked there; only the imports are under test). Then ``sys.modules`` is read.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from backout_dev.template import ROOT, load_template, resources_of
from tests.ingress import kit

HEAVY = ("pydantic", "stripe", "backout.ingress.normalize", "backout.domain", "backout.dispatch", "backout.saga",
         "backout.adapters", "backout.repo")
RECEIVERS = {logical: res for logical, res in resources_of(load_template(), "AWS::Serverless::Function").items()
             if logical in set(kit.FUNCTION_OF.values())}

CHILD = r"""
import importlib.util, json, sys
spec = json.load(sys.stdin)
from backout.ingress import receiver
receiver.load_webhook_config = lambda settings=None: spec["config"]
receiver.put_inbox_item = lambda item: True
certs = spec["certs"]
receiver.fetch_paypal_cert = lambda url: certs[url].encode()
module_spec = importlib.util.spec_from_file_location("receiver_app", spec["path"])
app = importlib.util.module_from_spec(module_spec)
module_spec.loader.exec_module(app)
statuses = [app.handler(event, None)["statusCode"] for event in spec["events"]]
heavy = sorted(m for m in sys.modules if any(m == h or m.startswith(h + ".") for h in spec["heavy"]))
print(json.dumps({"statuses": statuses, "heavy": heavy}))
"""


def test_every_receiver_function_is_checked() -> None:
    assert set(RECEIVERS) == {"PlatformWebhookFunction", "GatewayWebhookFunction", "CarrierWebhookFunction"}


@pytest.mark.parametrize("logical", sorted(RECEIVERS))
def test_receiver_answers_without_heavy_imports(logical: str) -> None:
    secrets = kit.fresh_secrets()
    props = RECEIVERS[logical]["Properties"]
    providers = [p for p, f in kit.FUNCTION_OF.items() if f == logical]
    events: list[dict[str, Any]] = [kit.make(p, secrets).api_event(headers=None) for p in providers]
    for event, provider in zip(events, providers):
        if provider == "ozon":
            event["requestContext"]["http"]["sourceIp"] = "195.34.21.10"
    spec = {
        "config": secrets["webhooks"],
        "certs": {secrets["paypal_local"]["cert_url"]: secrets["paypal_local"]["cert_pem"]},
        "path": str(ROOT / props["CodeUri"] / "app.py"),
        "events": events,
        "heavy": list(HEAVY),
    }
    env = {"PYTHONPATH": str(ROOT / "shared"), "AWS_DEFAULT_REGION": "us-east-1", "POWERTOOLS_LOG_LEVEL": "ERROR",
           "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", CHILD], input=json.dumps(spec), capture_output=True, text=True,
                          env=env, timeout=60, cwd=Path(ROOT))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["statuses"] == [200] * len(providers)
    assert result["heavy"] == []
