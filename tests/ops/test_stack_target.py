"""`backout --stack NAME`: the deployed-stack code path, against moto in server mode standing in for AWS.

moto's server plays CloudFormation over real HTTP: a stack whose outputs name the operator API (here
the local stack's HTTP API, which checks SigV4 as API Gateway's AWS_IAM authorizer does). The same
CLI code then reads the outputs and drives the operator commands with the operator's credentials.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from backout_dev.cli import main
from backout_dev.targets import open_target
from backout_dev.targets.base import TargetError
from backout_dev.targets.stack import StackTarget
from tests.adversarial import kit
from tests.conftest import Shop, line, place_order

REGION = "us-east-1"


@pytest.fixture(scope="module")
def cloudformation() -> Iterator[str]:
    """moto in server mode: its CloudFormation endpoint URL."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


OPERATOR_KEY, OPERATOR_SECRET = "AKIDOPERATOR" + uuid.uuid4().hex[:8].upper(), uuid.uuid4().hex


@pytest.fixture()
def deployed(cloudformation: str, local_env: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """A CloudFormation stack named like a deployed Backout, its OperatorApiUrl the local stack's API.

    The operator's own credentials are an AWS profile (``ops``) the stack's IAM knows, as an IAM user's
    access key would be; ``wrong`` has the right key id and a wrong secret.
    """
    monkeypatch.setenv("AWS_ENDPOINT_URL_CLOUDFORMATION", cloudformation)  # botocore's per-service endpoint
    credentials = tmp_path / "credentials"
    credentials.write_text(f"[ops]\naws_access_key_id = {OPERATOR_KEY}\naws_secret_access_key = {OPERATOR_SECRET}\n"
                           f"[wrong]\naws_access_key_id = {OPERATOR_KEY}\naws_secret_access_key = guessed\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setattr(local_env.stack, "iam_keys", {OPERATOR_KEY: OPERATOR_SECRET}, raising=False)
    name = f"backout-sandbox-{uuid.uuid4().hex[:6]}"
    template = {"Resources": {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
                "Outputs": {"OperatorApiUrl": {"Value": local_env.url}, "WebhookApiUrl": {"Value": local_env.url}}}
    cfn = boto3.client("cloudformation", region_name=REGION, endpoint_url=cloudformation)
    cfn.create_stack(StackName=name, TemplateBody=json.dumps(template))
    return name


def test_the_cli_drives_a_deployed_stack_through_its_outputs_with_signed_calls(
        shop: Shop, local_env: Any, deployed: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Given a held high-value refund on the stack
    order = place_order(shop, [line(1, kit.sku("STK", 0), 1, "2500.00")])
    kit.woo(shop, order, "cancel-request", offset=1)
    assert kit.eventually(lambda: kit.status(order["order_id"]) == ("ON_HOLD", "OperatorRequired"))
    target = open_target(deployed, region=REGION, profile="ops")
    assert isinstance(target, StackTarget) and target.name == deployed and target.url == local_env.url
    stack = ["--stack", deployed, "--region", REGION, "--profile", "ops"]

    # When the operator works the queue from the deployed-stack path
    assert main([*stack, "holds"]) == 0
    out = capsys.readouterr().out
    assert f"on {deployed}" in out and order["order_id"] in out and "OperatorRequired" in out
    assert main([*stack, "find", str(order["no"])]) == 0
    assert "matched platform_order_id" in capsys.readouterr().out
    assert main([*stack, "timeline", order["order_id"]]) == 0
    assert "held_for_operator" in capsys.readouterr().out
    assert main([*stack, "approve", order["order_id"], "--note", "buyer confirmed"]) == 0
    assert json.loads(capsys.readouterr().out)["decision"] == "approve"
    approved = [s for s in target.order(order["order_id"])["timeline"] if s["step"] == "operator_approved"]
    assert approved[0]["detail"]["actor"] == f"arn:aws:iam::123456789012:user/{OPERATOR_KEY}"  # the signer
    assert kit.eventually(lambda: kit.status(order["order_id"])[0] == "CANCELLED")
    # Then the money went back once, in full, and the order left the queue
    assert kit.live_refunded(order["pi"]) == order["total_minor"]
    assert order["order_id"] not in {h["order_id"] for h in target.holds()}

    # And the other operator commands run there too
    assert main([*stack, "dead-letters"]) == 0 and "dead letter(s)" in capsys.readouterr().out
    assert main([*stack, "replay"]) == 0 and "DispatchDeadLetterQueue:" in capsys.readouterr().out
    chart = tmp_path / "weekly.png"
    assert main([*stack, "report", "--chart", str(chart)]) == 0
    assert "PayPal3Month" in capsys.readouterr().out and chart.read_bytes()[:4] == b"\x89PNG"
    main([*stack, "audit"])
    assert "inventory audit" in capsys.readouterr().out


def test_wrong_credentials_are_refused_and_an_unknown_stack_is_named(
        deployed: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--stack", deployed, "--region", REGION, "--profile", "wrong", "holds"]) == 1
    assert "HTTP 403: Forbidden: signature does not match" in capsys.readouterr().err
    with pytest.raises(TargetError, match="does not exist"):
        open_target("no-such-stack", region=REGION, profile="ops")
