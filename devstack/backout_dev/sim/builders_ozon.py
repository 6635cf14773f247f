"""Ozon (rFBS): the marketplace holds the money; the buyer's request is polled, not pushed.

The posting arrives by Ozon's ``TYPE_NEW_POSTING`` push (with prices and
``currency_code``, as the posting API gives them). The buyer asks Ozon to
cancel: the request waits at the fake Ozon (ON_APPROVAL) from prepare time,
and Backout learns of it only when its poller lists it
(``backout.ozon_poller.poll``): that "delivery" is a pull, run 1-3 times like
any copy, and a request listed on every poll is recorded once. Backout
approves it (or rejects it once the posting left the warehouse, reported by a
``TYPE_STATE_CHANGED`` push); after an approval Ozon cancels the posting and
pushes ``TYPE_POSTING_CANCELLED`` (the reaction), which ends the saga's wait.

Ozon signs nothing: its pushes are authentic by source address (the dev-only
header the sender sets), so a forged push comes from outside Ozon's networks,
names another seller, or has no source address at all. No authorizations, no
disputes, no custom-line flag and no withdrawal exist on this path.
"""

from __future__ import annotations

import random
import time
from typing import Any

from backout_dev.sim.builders import event_sample, iso_utc
from backout_dev.sim.delivery import Delivery, forgeries
from backout_dev.sim.scenarios import Scenario, register

WAREHOUSE = 1020000043127000


def posting(sc: Scenario) -> str:
    """The scenario's Ozon posting number (the order id is ``ozon:<posting>``)."""
    return f"{sc.no}-0001-1"


class OzonPlatform:
    """Ozon postings; buyer cancel requests found by Backout's poller."""

    platform = "ozon"
    gateway = "platform"
    features = frozenset({"shipped", "cancel_first", "forged"})
    currencies = ("RUB",)

    def __init__(self) -> None:
        self.sample = event_sample("ozon/TYPE_POSTING_CANCELLED")
        self.base = time.time()
        self.rng = random.Random(0)

    def available(self, env: Any) -> bool:
        """When the local environment runs the fake Ozon."""
        return getattr(env, "ozon", None) is not None

    def prepare(self, sc: Scenario, env: Any) -> None:
        """The posting's number; the buyer's request, waiting at Ozon for the seller's answer."""
        sc.external_id = posting(sc)
        if sc.cancel:
            sc.extra["cancellation_id"] = env.ozon.add_cancellation(posting(sc), initiator="CLIENT")

    def lose_answer(self, sc: Scenario, env: Any) -> bool:
        """Ozon records Backout's approval (or rejection) and the answer is lost: the retry must read it back."""
        if not sc.cancel:
            return False
        verb = "reject" if sc.platform_rejects else "approve"
        env.ozon.drop_next_response(path_contains=f"/conditional-cancellation/{verb}",
                                    body_contains=f'"cancellation_id": {sc.extra["cancellation_id"]},')
        return True

    # ------------------------------------------------------------ pushes and the poll
    def _push(self, sc: Scenario, body: dict[str, Any], phase: int, label: str) -> Delivery:
        from backout.ingress.keys import dedupe_key
        from backout_dev.sender import OZON_SAMPLE_SELLER_ID

        body = {**body, "posting_number": posting(sc), "warehouse_id": WAREHOUSE, "seller_id": OZON_SAMPLE_SELLER_ID}
        return Delivery("ozon", self.sample, body, phase, sc.index, label, key=dedupe_key("ozon", body, {}))

    def _new_posting(self, sc: Scenario) -> Delivery:
        from backout.money import to_decimal_string

        products = [{"sku": line.line_id, "offer_id": line.sku, "quantity": line.qty,
                     "price": to_decimal_string(line.minor // line.qty, sc.currency)} for line in sc.lines]
        return self._push(sc, {"message_type": "TYPE_NEW_POSTING", "products": products, "currency_code": sc.currency,
                               "in_process_at": iso_utc(self.base - 900) + "Z"}, 0, "TYPE_NEW_POSTING")

    def _state(self, sc: Scenario, new_state: str, offset: float, phase: int) -> Delivery:
        return self._push(sc, {"message_type": "TYPE_STATE_CHANGED", "new_state": new_state,
                               "changed_state_date": iso_utc(self.base + offset) + "Z"}, phase,
                          f"TYPE_STATE_CHANGED {new_state}")

    def _cancelled(self, sc: Scenario, phase: int, label: str = "TYPE_POSTING_CANCELLED") -> Delivery:
        products = [{"sku": line.line_id, "quantity": line.qty} for line in sc.lines]
        return self._push(sc, {"message_type": "TYPE_POSTING_CANCELLED", "products": products,
                               "old_state": "posting_awaiting_packaging", "new_state": "posting_canceled",
                               "changed_state_date": iso_utc(self.base) + "Z",
                               "reason": {"id": 507, "message": "Покупатель передумал"}}, phase, label)

    def _poll(self, sc: Scenario, env: Any) -> Delivery:
        """Backout's poller listing the posting's waiting request (recorded under the hash of its polled body)."""
        from backout.adapters.ozon import OzonClient
        from backout.ingress.keys import dedupe_key
        from backout.ozon_poller import poll, polled_body
        from backout_dev.demo import _PostingLister

        creds = env.secrets["credentials"]
        lister = _PostingLister(OzonClient(env.ozon.url, creds["ozon_client_id"], creds["ozon_api_key"]), posting(sc))
        [waiting] = lister.list_cancellations(state="ON_APPROVAL")
        body = polled_body(waiting)

        def pull() -> bool:
            return poll(lister).recorded > 0

        return Delivery("ozon", self.sample, body, 0 if sc.cancel_first else 2, sc.index, "ozon poll",
                        key=dedupe_key("ozon", body, {}), role="cancel", pull=pull)

    def deliveries(self, sc: Scenario, env: Any) -> list[Delivery]:
        """The new posting, its shipping, the polled buyer request, and a forged cancellation push."""
        out = [self._new_posting(sc)]
        if sc.shipped:
            out.append(self._state(sc, "posting_in_carriage", -600, 1))
        if sc.cancel:
            out.append(self._poll(sc, env))
        if sc.forged_cancel:  # believed, it would decide a cancellation nobody asked for
            forged = self._cancelled(sc, 2, "forged TYPE_POSTING_CANCELLED")
            forged.forgery = self.rng.choice(forgeries("ozon"))
            out.append(forged)
        return out

    def noise(self, sc: Scenario, rng: random.Random) -> Delivery:
        """A state change that moves nothing (the label is printed; the posting has not left)."""
        return self._state(sc, "awaiting_deliver", rng.randint(-880, -620), rng.randint(0, 2))

    def reactions(self, sc: Scenario, env: Any) -> list[Delivery]:
        """Once Backout approved the request, Ozon cancels the posting and says so."""
        if "cancel_reported" in sc.extra or env.ozon.state(sc.extra["cancellation_id"]) != "APPROVED":
            return []
        sc.extra["cancel_reported"] = True
        return [self._cancelled(sc, 0)]


def decisions(env: Any, sc: Scenario) -> dict[str, int]:
    """How often the fake Ozon recorded each decision on the scenario's posting (approve, reject, auto_approve)."""
    mine = set(env.ozon.requests_for(posting(sc)))
    return {op: sum(1 for e in env.ozon.effects(op) if e["cancellation_id"] in mine)
            for op in ("approve", "reject", "auto_approve")}


register(OzonPlatform())
