"""Find orders by what an operator has in hand (GET /operator/find?q=).

A Backout order id, a platform order number (every channel's, and every order later placed under
the same number), a payment id (``PAY#`` pointers), a refund id or a tracking number (the
``ByProviderObject`` index). Only keyed reads and index queries, never a scan.
"""

from __future__ import annotations

from typing import Any

from backout.domain.events import Channel
from backout.identity import MAX_INCARNATIONS
from backout.repo.lookup import orders_for_object
from backout.repo.orders import OrdersRepository

#: Ledger kind -> what the operator's text matched.
_MATCHED = {"refund": "refund_id", "parcel": "tracking_number"}
#: Longest text looked up (ids and numbers are short; anything longer is not one).
MAX_QUERY = 200


def _incarnations(repo: OrdersRepository, order: dict[str, Any]) -> list[dict[str, Any]]:
    """The order and every later order placed under the same store number (rule 8)."""
    chain = [order]
    while chain[-1].get("reissued_as") and len(chain) < MAX_INCARNATIONS:
        nxt = repo.get_order(str(chain[-1]["reissued_as"]))
        if nxt is None:
            break
        chain.append(nxt)
    return chain


def find_orders(query: str, repo: OrdersRepository | None = None) -> list[dict[str, Any]]:
    """Orders matching ``query``: ``{"order_id", "matched", "status"}`` each, one per order and match."""
    repo = repo or OrdersRepository()
    q = query.strip()
    if not q or len(q) > MAX_QUERY:
        return []
    found: list[tuple[str, str]] = []
    if ":" in q and (order := repo.get_order(q)) is not None:
        found.append((q, "order_id"))
    for channel in Channel:
        order = repo.get_order(f"{channel.value}:{q}")
        if order is not None:
            found.extend((str(o["order_id"]), "platform_order_id") for o in _incarnations(repo, order))
    if (owner := repo.order_for_payment(q)) is not None:
        found.append((owner, "payment_ref"))
    found.extend((order_id, _MATCHED[kind]) for order_id, kind in orders_for_object(repo, q) if kind in _MATCHED)
    out, seen = [], set()
    for order_id, matched in found:
        if (order_id, matched) in seen:
            continue
        seen.add((order_id, matched))
        record = repo.get_order(order_id)
        out.append({"order_id": order_id, "matched": matched, "status": str((record or {}).get("status", ""))})
    return out
