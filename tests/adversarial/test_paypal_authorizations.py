"""Rule 9 on PayPal: an authorization that lapses after a partial capture. The order can no longer be
paid: it is cancelled, what was captured goes back exactly once, nothing stays held on the card."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from typing import Any

from backout_dev.sim.model.drive import post_signed, sample
from tests.adversarial import kit
from tests.conftest import Shop, line, place_order


def test_authorization_expires_after_a_partial_capture(shop: Shop, local_env: Any) -> None:
    """Story: a PayPal order of 100.00 is authorized; the merchant captures 60.00 for a first part; the
    order has not shipped. The authorization's honour period ends and PayPal reports it lapsed
    (``PAYMENT.AUTHORIZATION.VOIDED`` with status EXPIRED; delivered twice). Backout cancels it as a
    system request: the 60.00 captured is refunded once, nothing is left authorized, stock back once."""
    s = kit.sku("PPEXP", 0)
    pp = local_env.paypal
    order = place_order(shop, [line(1, s, 2, "100.00")], gateway="paypal", capture=False)
    capture = pp.capture(order["pi"], "60.00")
    local_env.stack.wait_idle()
    pp.set_authorization_status(order["pi"], "EXPIRED")
    with pp.lock:
        resource = json.loads(json.dumps(pp._public(pp.authorizations[order["pi"]])))
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    resource.update(status="EXPIRED", custom_id=str(order["no"]), expiration_time=now, update_time=now)
    event = sample("paypal/PAYMENT.AUTHORIZATION.VOIDED")
    body = json.loads(event["body"])
    event_id = f"WH-ADV-{uuid.uuid4().hex[:16].upper()}"
    body.update(id=event_id, create_time=now, resource=resource)
    for _ in range(2):
        code, answer = post_signed(local_env, event, body,
                                   {"paypal-transmission-id": str(uuid.uuid5(uuid.NAMESPACE_URL, event_id))})
        assert code == 200, answer
    assert kit.eventually(lambda: kit.status(order["order_id"])[0] in ("CANCELLED", "ON_HOLD"), timeout=40), \
        kit.status(order["order_id"])
    local_env.stack.wait_idle()
    m = kit.paypal_money(local_env, order["pi"], "USD")
    if kit.status(order["order_id"])[0] == "CANCELLED":
        assert (m.captured, m.refunded + m.pending, m.held) == (6000, 6000, 0), m
        assert [r["amount"] for r in m.refunds] == [6000], m.refunds
        assert kit.stock(s) == 2
    else:
        assert kit.status(order["order_id"])[1], "held without a reason"
        assert m.refunded + m.pending == 0, m
    del capture
