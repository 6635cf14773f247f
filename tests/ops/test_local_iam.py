"""The local HTTP API checks IAM on the AWS_IAM routes, as API Gateway does: only SigV4 with a known key passes."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from botocore.credentials import Credentials

from backout_dev import sigv4
from backout_dev.stack import LOCAL_ENV, REGION
from backout_dev.template import iam_routes, load_template
from tests.conftest import Shop, line, place_order


def _send(req: urllib.request.Request) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 - loopback
            return int(resp.status), json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


def _signed(url: str, creds: Credentials, method: str = "GET", body: bytes = b"",
            region: str = REGION) -> urllib.request.Request:
    headers = sigv4.sign(method, url, body, creds, region, {"content-type": "application/json"})
    return urllib.request.Request(url, data=body or None, method=method, headers=headers)


LOCAL = Credentials(LOCAL_ENV["AWS_ACCESS_KEY_ID"], LOCAL_ENV["AWS_SECRET_ACCESS_KEY"])


def test_every_operator_route_is_an_iam_route_and_no_webhook_is() -> None:
    routes = iam_routes(load_template())
    assert {p for _, p in routes} >= {"/operator/holds", "/operator/find", "/operator/dead-letters",
                                      "/operator/dead-letters/replay", "/operator/report", "/operator/audit",
                                      "/operator/orders/{order_id}/timeline", "/operator/orders/{order_id}/decision"}
    assert all(p.startswith("/operator/") for _, p in routes)


def test_unsigned_and_wrongly_signed_requests_get_403_and_a_signed_one_200(local_env: Any) -> None:
    url = f"{local_env.url}/operator/holds"
    code, answer = _send(urllib.request.Request(url))
    assert code == 403 and "Forbidden" in answer["message"]
    code, answer = _send(_signed(url, Credentials(LOCAL.access_key, "not-the-secret")))
    assert (code, answer["message"]) == (403, "Forbidden: signature does not match")
    code, answer = _send(_signed(url, Credentials("AKIDUNKNOWN", LOCAL.secret_key)))
    assert (code, answer["message"]) == (403, "Forbidden: unknown access key")
    code, _ = _send(_signed(url, LOCAL, region="eu-west-1"))
    assert code == 403
    code, answer = _send(_signed(url, LOCAL))
    assert code == 200 and isinstance(answer["holds"], list)


def test_an_unsigned_or_tampered_decision_decides_nothing_and_a_signed_one_names_its_caller(
        shop: Shop, local_env: Any) -> None:
    from tests.adversarial import kit

    order = place_order(shop, [line(1, kit.sku("IAM", 0), 1, "2500.00")])
    kit.woo(shop, order, "cancel-request", offset=1)
    assert kit.eventually(lambda: kit.status(order["order_id"]) == ("ON_HOLD", "OperatorRequired"))
    url = f"{local_env.url}/operator/orders/{order['order_id']}/decision"
    body = json.dumps({"decision": "reject", "note": "iam"}).encode()
    unsigned = urllib.request.Request(url, data=body, method="POST", headers={"content-type": "application/json"})
    assert _send(unsigned)[0] == 403
    tampered = _signed(url, LOCAL, "POST", body)
    tampered.data = json.dumps({"decision": "approve", "note": "iam"}).encode()
    assert _send(tampered)[0] == 403
    assert kit.status(order["order_id"])[0] == "ON_HOLD"
    code, answer = _send(_signed(url, LOCAL, "POST", body))
    assert code == 200 and answer["decision"] == "reject"
    assert kit.eventually(lambda: kit.status(order["order_id"])[0] == "OPEN")
    code, timeline = _send(_signed(f"{local_env.url}/operator/orders/{order['order_id']}/timeline", LOCAL))
    rejected = [s for s in timeline["timeline"] if s["step"] == "operator_rejected"]
    assert rejected[0]["detail"]["actor"] == f"arn:aws:iam::123456789012:user/{LOCAL.access_key}"
