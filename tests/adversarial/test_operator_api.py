"""The operator route answers JSON with a 4xx reason, never a 500; of two concurrent decisions one wins."""

from __future__ import annotations

import json
import threading
from typing import Any

from tests.adversarial import kit
from tests.conftest import Shop, line, place_order


def test_two_operators_decide_at_once_one_wins(shop: Shop, local_env: Any) -> None:
    """Story: a high-value refund (2,500.00) waits for a person; two operators click at the same moment,
    one approve, one reject. Exactly one decision is taken (200), the other gets 409 JSON; the money is
    consistent with the winner (approve: refunded once in full; reject: nothing)."""
    order = place_order(shop, [line(1, kit.sku("OPS2", 0), 1, "2500.00")])
    kit.woo(shop, order, "cancel-request", offset=1)
    assert kit.eventually(lambda: kit.status(order["order_id"]) == ("ON_HOLD", "OperatorRequired"))
    answers: dict[str, tuple[int, Any]] = {}
    barrier = threading.Barrier(2)

    def click(decision: str) -> None:
        barrier.wait()
        answers[decision] = kit.decide(local_env, order["order_id"], decision)

    threads = [threading.Thread(target=click, args=(d,)) for d in ("approve", "reject")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(code for code, _ in answers.values())
    assert codes == [200, 409], answers
    loser = next(a for c, a in answers.values() if c == 409)
    assert isinstance(loser, dict) and loser.get("message"), loser
    winner = next(d for d, (c, _) in answers.items() if c == 200)
    want = order["total_minor"] if winner == "approve" else 0
    assert kit.eventually(lambda: kit.status(order["order_id"])[0] in ("CANCELLED", "OPEN"))
    local_env.stack.wait_idle()
    assert kit.live_refunded(order["pi"]) == want and len(kit.refunds(order["pi"])) == (1 if want else 0)


def test_the_operator_api_answers_json_4xx_to_bad_input(shop: Shop, local_env: Any) -> None:
    """Story: an operator's script sends what scripts send: an unknown order, no body, a bare string,
    a list, an unknown decision, a note far too long, invalid UTF-8, an order that is not held, a
    timeline of an order that does not exist. Every answer is JSON with a 4xx status and a reason."""
    order = place_order(shop, [line(1, kit.sku("OPSBAD", 0), 1, "10.00")])
    local_env.stack.wait_idle()
    known = f"/operator/orders/{order['order_id']}/decision"
    tries = [("POST", "/operator/orders/woocommerce:999999999/decision", json.dumps({"decision": "approve"}).encode()),
             ("POST", known, b""), ("POST", known, b'"approve"'), ("POST", known, b"[1, 2]"),
             ("POST", known, b"{not json"), ("POST", known, json.dumps({"decision": "maybe"}).encode()),
             ("POST", known, json.dumps({"decision": "approve", "note": "x" * 5000}).encode()),
             ("POST", known, b'{"decision": "approve", "note": "\xff\xfe"}'),
             ("POST", known, json.dumps({"decision": "reject"}).encode()),
             ("POST", "/operator/orders/no-channel-here/decision", json.dumps({"decision": "approve"}).encode()),
             ("GET", "/operator/orders/woocommerce:999999999/timeline", None),
             ("GET", "/operator/orders/%2F%2E%2E/timeline", None)]
    bad = []
    for method, path, body in tries:
        code, answer, raw = kit.http(local_env, method, path, body)
        if not (400 <= code < 500 and isinstance(answer, dict) and (answer.get("message") or answer.get("error"))):
            bad.append((method, path, body[:40] if body else body, code, raw[:200]))
    assert bad == []
