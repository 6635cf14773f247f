"""Building blocks of the adversarial scenarios: signed webhooks, the operator route, provider ledgers.

Nothing here reads Backout's tables for the money: the gateways' own ledgers (localstripe, the fake
PayPal, the disputes fake), the stock counts and the fakes' effects are the judges. Backout's order
status and hold reason are read only for the "decided or queued" check.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timezone
from typing import Any, Callable

from backout.repo.inventory import InventoryRepository
from backout_dev.sigv4 import local_request
from backout_dev.sim.model.ledgers import Money, backout_status, paypal_money, stripe_money
from backout_dev.sim.model.drive import post_signed, sample
from tests.conftest import Shop, order_body_for

__all__ = ["Money", "backout_status", "paypal_money", "stripe_money"]


def eventually(check: Callable[[], bool], timeout: float = 45.0) -> bool:
    """Poll ``check`` until it holds; False after ``timeout`` seconds (the assertion says what was seen)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return True
        except Exception:  # noqa: BLE001 - a provider read racing a write: look again
            pass
        time.sleep(0.1)
    return bool(check())


def sku(name: str, on_hand: int = 0) -> str:
    """A fresh SKU with a known count."""
    s = f"ADV-{name}-{uuid.uuid4().hex[:6]}"
    InventoryRepository().set_stock(s, on_hand)
    return s


def stock(s: str) -> int:
    return int(InventoryRepository().stock(s))


def woo(shop: Shop, order: dict[str, Any], status: str, offset: float = 0,
        meta: dict[str, str] | None = None, topic: str = "order.updated") -> int:
    """A signed WooCommerce order webhook in ``status`` modified ``offset`` s from now (with extra meta)."""
    body = order_body_for(shop, order, status, offset=int(offset))
    for i, (k, v) in enumerate((meta or {}).items()):
        body["meta_data"].append({"id": 900 + i, "key": k, "value": v})
    code, answer = shop.send(shop.created if topic == "order.created" else shop.cancel, body)
    assert code == 200, answer
    return code


def withdraw_woo(shop: Shop, order: dict[str, Any], offset: float = 0) -> int:
    """The buyer withdraws the cancel request in the store (status back to processing, Backout's meta flag)."""
    return woo(shop, order, "processing", offset, {"_backout_cancel_withdrawn": "yes"})


def standard(env: Any, kind: str, data: dict[str, Any], at: float | None = None) -> None:
    """A Standard Webhooks message (the seller's own system)."""
    stamp = datetime.fromtimestamp(time.time() if at is None else at, tz=timezone.utc)
    body = {"type": kind, "timestamp": stamp.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z", "data": data}
    event = sample("standard/order.cancel_requested")
    code, answer = post_signed(env, event, body, {"webhook-id": f"msg_{uuid.uuid4().hex}"})
    assert code == 200, answer


def scan(env: Any, order_id: str, tracking: str, tag: str, subtag: str = "", ts: float | None = None) -> None:
    """A signed AfterShip tracking update."""
    body = {"event": "tracking_update", "event_id": str(uuid.uuid4()), "ts": int(time.time() if ts is None else ts),
            "msg": {"tracking_number": tracking, "slug": "dhl", "tag": tag, "subtag": subtag,
                    "order_number": order_id, "checkpoints": []}}
    code, answer = post_signed(env, sample("aftership/tracking_update.Delivered"), body)
    assert code == 200, answer


def stripe_event(env: Any, sample_name: str, obj: dict[str, Any], created: int | None = None) -> None:
    """A signed Stripe event of the sample's type; ``obj`` replaces fields of the sample's object."""
    event = sample(f"stripe/{sample_name}")
    body = json.loads(event["body"])
    body["id"], body["created"] = f"evt_adv_{uuid.uuid4().hex[:16]}", int(time.time()) if created is None else created
    body["data"]["object"].update(obj)
    code, answer = post_signed(env, event, body)
    assert code == 200, answer


def refund_event(env: Any, refund: dict[str, Any], kind: str = "refund.updated", created: int | None = None) -> None:
    """A Stripe refund event about the refund as given (a dict of the Refund object)."""
    from backout_dev.fakes import stripe_events

    body = stripe_events.stripe_event(kind, refund, None, created=created)
    code, answer = post_signed(env, sample("stripe/refund.updated"), body)
    assert code == 200, answer


def dispute_event(env: Any, kind: str, dispute: dict[str, Any]) -> None:
    """``charge.dispute.created`` / ``charge.dispute.closed`` about the disputes fake's object."""
    from backout_dev.fakes import stripe_events

    body = stripe_events.stripe_event(kind, json.loads(json.dumps(dispute)))
    code, answer = post_signed(env, sample("stripe/charge.dispute.created"), body)
    assert code == 200, answer


def http(env: Any, method: str, path: str, body: bytes | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, Any, str]:
    """One request to the local HTTP API: (status, parsed JSON or None, raw text)."""
    headers = {"content-type": "application/json", **(headers or {})}
    if path.startswith("/operator/"):  # the IAM routes: signed with the local stack's credentials, as AWS wants
        req = local_request(env.url + path, data=body, method=method, headers=headers)
    else:
        req = urllib.request.Request(env.url + path, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 - loopback
            code, raw = int(resp.status), resp.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as err:
        code, raw = err.code, err.read().decode("utf-8", "replace")
    try:
        return code, json.loads(raw), raw
    except ValueError:
        return code, None, raw


def decide(env: Any, order_id: str, decision: str, note: str = "adversarial") -> tuple[int, Any]:
    code, answer, _ = http(env, "POST", f"/operator/orders/{order_id}/decision",
                           json.dumps({"decision": decision, "note": note}).encode())
    return code, answer


def watchdog(env: Any) -> None:
    report, errored = env.stack.invoke("WatchdogFunction", {"source": "aws.events"})
    assert not errored, report


def status(order_id: str) -> tuple[str, str]:
    """Backout's (status, hold_reason): only for "decided or queued"."""
    return backout_status(order_id)


def decided_or_queued(order_id: str) -> bool:
    s, reason = status(order_id)
    return s in ("CANCELLED", "OPEN") or (s == "ON_HOLD" and bool(reason))


def refunds(pi: str) -> list[dict[str, Any]]:
    """Every refund localstripe holds for the PaymentIntent."""
    import stripe

    return [r.to_dict() for r in stripe.Refund.list(payment_intent=pi, limit=100).auto_paging_iter()]


def live_refunded(pi: str) -> int:
    """Refunded or still on its way (succeeded + pending), minor units."""
    return sum(int(r["amount"]) for r in refunds(pi) if r["status"] in ("succeeded", "pending"))


def easypost_scan(env: Any, tracking: str, status: str) -> None:
    """A signed EasyPost ``tracker.updated``: a Tracker names its tracking code, never the order."""
    event = sample("easypost/tracker.updated.return_to_sender")
    body = json.loads(event["body"])
    body.update({"id": f"evt_{uuid.uuid4().hex[:24]}", "description": "tracker.updated",
                 "created_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")})
    body["result"] = {**dict(body.get("result") or {}), "object": "Tracker", "tracking_code": tracking,
                      "status": status, "carrier": "USPS"}
    code, answer = post_signed(env, event, body)
    assert code == 200, answer
