"""Ozon (rFBS; Ozon holds the money): TYPE_NEW_POSTING, the buyer's conditional cancellation found by
Backout's poller, TYPE_STATE_CHANGED (the posting leaves), TYPE_POSTING_CANCELLED (Ozon's answer once a
request is approved, by Backout or by Ozon at the request's deadline). No withdrawal exists on Ozon.

Pushes: PROVIDERS.md "Ozon"; the conditional-cancellation list/approve/reject: the fake
(``backout_dev.fakes.ozon``), whose records (``approve``, ``reject``, ``auto_approve``) are the ledger.
"""

from __future__ import annotations

from typing import Any

from backout_dev.sim.model.bodies import iso
from backout_dev.sim.model.drive import sample
from backout_dev.sim.model.platforms import PlatformLedger, Send

WAREHOUSE = 1020000043127000
#: posting statuses the model draws once the posting left (TYPE_STATE_CHANGED new_state)
LEFT = ("posting_in_carriage", "posting_on_way_to_city", "posting_delivered")


def _push(send: Send, s: Any, body: dict[str, Any], label: str) -> int:
    from backout_dev.sender import OZON_SAMPLE_SELLER_ID

    body = {**body, "posting_number": s.external, "warehouse_id": WAREHOUSE, "seller_id": OZON_SAMPLE_SELLER_ID}
    return send(f"ozon {label}", sample("ozon/TYPE_POSTING_CANCELLED"), body, {})


class Ozon:
    channel = "ozon"
    shippable = True
    withdrawable = False
    shapes = ("paid",)

    def place(self, env: Any, s: Any, send: Send) -> None:
        s.clock0 = s.stamp()

    def created(self, env: Any, s: Any, send: Send) -> None:
        from backout.money import to_decimal_string

        products = [{"sku": 147_000_000 + i, "offer_id": ln.sku, "quantity": ln.qty,
                     "price": to_decimal_string(ln.minor // ln.qty, s.currency)} for i, ln in enumerate(s.lines)]
        _push(send, s, {"message_type": "TYPE_NEW_POSTING", "products": products, "currency_code": s.currency,
                        "in_process_at": iso(s.clock0, "Z")}, "TYPE_NEW_POSTING")

    def request(self, env: Any, s: Any, send: Send) -> None:
        """The buyer asks Ozon; Backout learns of it when its poller lists the request."""
        if not s.cancel_id:
            s.cancel_id = str(env.ozon.add_cancellation(s.external, initiator="CLIENT"))
            s.request_id = f"ozon:{s.cancel_id}"
        self.poll(env, s, send)

    def poll(self, env: Any, s: Any, send: Send) -> None:
        """One run of OzonPollerFunction's work over this posting (listed on every poll, recorded once)."""
        from backout.adapters.ozon import OzonClient
        from backout.ozon_poller import poll

        from backout_dev.demo import _PostingLister

        creds = env.secrets["credentials"]
        lister = _PostingLister(OzonClient(env.ozon.url, creds["ozon_client_id"], creds["ozon_api_key"]), s.external)
        result = poll(lister)
        s.note(f"ozon poller: listed {result.listed}, recorded {result.recorded}")

    def ship(self, env: Any, s: Any, send: Send) -> None:
        self.state_changed(env, s, send, LEFT[0])

    def state_changed(self, env: Any, s: Any, send: Send, new_state: str, at: float | None = None) -> None:
        _push(send, s, {"message_type": "TYPE_STATE_CHANGED", "new_state": new_state,
                        "changed_state_date": iso(s.stamp() if at is None else at, "Z")},
              f"TYPE_STATE_CHANGED {new_state}" + (" (stamped when the posting was new)" if at else ""))

    def noise(self, env: Any, s: Any, send: Send, i: int) -> None:
        """The label was printed (awaiting_deliver) when the posting was new; Ozon delivers it late."""
        self.state_changed(env, s, send, "awaiting_deliver", at=s.clock0)

    def answer(self, env: Any, s: Any, send: Send) -> bool:
        """Once the request is APPROVED (by Backout, or by Ozon at its deadline), Ozon cancels the posting."""
        if not s.cancel_id or env.ozon.state(int(s.cancel_id)) != "APPROVED" or s.answered:
            return False
        s.answered += 1
        products = [{"sku": 147_000_000 + i, "quantity": ln.qty} for i, ln in enumerate(s.lines)]
        _push(send, s, {"message_type": "TYPE_POSTING_CANCELLED", "products": products,
                        "old_state": "posting_awaiting_packaging", "new_state": "posting_canceled",
                        "changed_state_date": iso(s.stamp(), "Z"),
                        "reason": {"id": 507, "message": "Покупатель передумал"}}, "TYPE_POSTING_CANCELLED")
        return True

    def own_move(self, env: Any, s: Any, send: Send) -> bool:
        """The request's auto_approve_date passed while it waited: Ozon approves it itself."""
        if not s.cancel_id or env.ozon.state(int(s.cancel_id)) != "ON_APPROVAL":
            return False
        env.ozon.auto_approve(int(s.cancel_id))
        s.platform_decided = "approved"
        s.note("ozon: the request's deadline passed, Ozon approved it itself")
        return True

    def pending(self, env: Any, s: Any) -> bool:
        """The buyer's request waits at Ozon for an answer."""
        return bool(s.cancel_id) and env.ozon.state(int(s.cancel_id)) == "ON_APPROVAL"

    def lose_answer(self, env: Any, s: Any) -> str:
        env.ozon.drop_next_response(path_contains="/conditional-cancellation/")
        return "fault armed: Ozon's next approve/reject answer is lost (the decision is recorded)"

    def ledger(self, env: Any, s: Any) -> PlatformLedger:
        mine = {int(c) for c in env.ozon.requests_for(s.external)}
        count = {op: sum(1 for e in env.ozon.effects(op) if e["cancellation_id"] in mine)
                 for op in ("approve", "reject", "auto_approve")}
        state = env.ozon.state(int(s.cancel_id)) if s.cancel_id else ""
        return PlatformLedger(asked_cancel=count["approve"], asked_reject=count["reject"],
                              cancelled=state == "APPROVED", refunded=state == "APPROVED",
                              by_platform=bool(count["auto_approve"]), state=state)


PLATFORM = Ozon()
