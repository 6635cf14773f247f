"""The orders table: order records, cancellation requests, effects, timeline.

One partition per order (``ORDER#<id>``) holds:

* ``META``            the order (status, money, lines, payment reference)
* ``REQ#<id>``        every cancellation request, as recorded
* ``FX#<id>``         every external effect: intent first, result after
* ``TL#<ts>#<rand>``  the timeline: one item per step, never rewritten
* ``TOKEN#<purpose>#<request>`` the task token of a request's saga waiting (backout.saga.waits)
* ``F#<kind>#<id>``   the ledger: one fact per provider object (backout.repo.facts)

Nothing here deletes an item (PCI-DSS: keep every state change).
``PAY#<payment ref>`` maps a gateway payment back to its order.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timezone
from typing import Any

from backout import aws
from backout.domain.order import TERMINAL, OrderStatus, check_transition, order_refresh, sources_for
from backout.domain.ledger import Fact, Ledger
from backout.errors import IllegalTransition, OrderNotFound
from backout.repo.dynamo import from_item, is_condition_failure, raise_transient, to_item, values, written_once
from backout.repo.facts import load_ledger, record_fact
from backout.repo.lookup import HOLD_KEY, HOLD_SINCE, hold_queue_change
from backout.repo.snapshot import Snapshot, read_snapshot


def now_iso() -> str:
    """UTC timestamp with microseconds; sorts as text."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def _pk(order_id: str) -> str:
    return f"ORDER#{order_id}"


class OrdersRepository:
    """All reads and writes of the orders table."""

    def __init__(self, table_name: str | None = None, ddb: Any = None) -> None:
        self.table = table_name or aws.env("ORDERS_TABLE")
        self.ddb = ddb or aws.client("dynamodb")

    # ------------------------------------------------------------ low level
    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        try:
            resp = self.ddb.get_item(TableName=self.table, Key=to_item({"pk": pk, "sk": sk}), ConsistentRead=True)
        except Exception as exc:  # botocore ClientError
            raise_transient(exc)
            raise
        return from_item(resp.get("Item"))

    def _put_new(self, item: dict[str, Any]) -> bool:
        """Put if absent; False when it already exists."""
        return written_once(lambda: self.ddb.put_item(
            TableName=self.table,
            Item=to_item(item),
            ConditionExpression="attribute_not_exists(pk)",
        ))

    # ------------------------------------------------------------ orders
    def get_order(self, order_id: str) -> dict[str, Any] | None:
        """The order record, or None."""
        return self._get(_pk(order_id), "META")

    def require_order(self, order_id: str) -> dict[str, Any]:
        """The order record, or OrderNotFound."""
        order = self.get_order(order_id)
        if order is None:
            raise OrderNotFound(f"unknown order {order_id}")
        return order

    def upsert_order(self, order: dict[str, Any], source_at: str) -> str:
        """Create the order, or refresh its details when ``source_at`` is newer.

        Returns "created", "updated" or "stale" (an older delivery arriving late
        is dropped, not applied). Status and the saga's other fields are never set
        here, and a terminal (cancelled) order is never refreshed: it is "stale".
        """
        item = {"pk": _pk(order["order_id"]), "sk": "META", **order, "status": OrderStatus.OPEN.value,
                "source_at": source_at, "placed_at": source_at, "created_at": now_iso(), "refunded_total": 0}
        if self._put_new(item):
            if order.get("payment_ref"):
                self._put_new({"pk": f"PAY#{order['payment_ref']}", "sk": "ORDER", "order_id": order["order_id"]})
            return "created"
        fields = order_refresh(order)  # never the saga's fields; shipping is one-way
        terminal = {f":terminal{i}": s.value for i, s in enumerate(sorted(TERMINAL))}
        names = {f"#{k}": k for k in fields} | {"#src": "source_at", "#status": "status"}
        sets = ", ".join([f"#{k} = :{k}" for k in fields] + ["#src = :src"])
        try:
            self.ddb.update_item(
                TableName=self.table,
                Key=to_item({"pk": _pk(order["order_id"]), "sk": "META"}),
                UpdateExpression=f"SET {sets}",
                ConditionExpression=f"#src < :src AND NOT #status IN ({', '.join(terminal)})",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values({f":{k}": v for k, v in fields.items()} | {":src": source_at}
                                                 | terminal),
            )
        except Exception as exc:
            if is_condition_failure(exc):
                return "stale"
            raise_transient(exc)
            raise
        return "updated"

    def reissue(self, order_id: str, new_id: str) -> str:
        """Point an ended order at the next order under its store number (once); returns the pointer's value.

        Of two racing placements both propose the same ``new_id`` (the next ordinal), so the loser
        reads back what the winner wrote (backout.identity)."""
        try:
            self.ddb.update_item(
                TableName=self.table, Key=to_item({"pk": _pk(order_id), "sk": "META"}),
                UpdateExpression="SET reissued_as = :next",
                ConditionExpression="attribute_exists(pk) AND attribute_not_exists(reissued_as)",
                ExpressionAttributeValues=values({":next": new_id}),
            )
        except Exception as exc:
            if not is_condition_failure(exc):
                raise_transient(exc)
                raise
            return str(self.require_order(order_id).get("reissued_as") or new_id)
        return new_id

    def order_for_payment(self, payment_ref: str) -> str | None:
        """The order id a gateway payment belongs to."""
        item = self._get(f"PAY#{payment_ref}", "ORDER")
        return str(item["order_id"]) if item else None

    def transition(self, order_id: str, new: OrderStatus, current: dict[str, Any] | None = None,
                   **fields: Any) -> dict[str, Any]:
        """Move the order to ``new`` if the domain allows it from its current status.

        The write is conditional on the current status being one from which
        ``new`` is reachable, so two racing steps cannot both apply. ``current``: the
        order as the caller just read it (saves a read; the condition still guards the write).
        """
        current = current or self.require_order(order_id)
        check_transition(current["status"], new, bool(current.get("reopened")))
        allowed = sources_for(new)
        placeholders = {f":s{i}": s for i, s in enumerate(allowed)}
        names = {"#status": "status", "#updated": "updated_at"} | {f"#{k}": k for k in fields}
        sets = ", ".join(["#status = :new", "#updated = :now"] + [f"#{k} = :{k}" for k in fields])
        queue = hold_queue_change(order_id, current["status"], new)  # the operator queue (repo.lookup)
        if queue:
            names |= {"#hq": HOLD_KEY} | ({"#hs": HOLD_SINCE} if new == OrderStatus.ON_HOLD else {})
            sets += ", #hq = :hq" + (", #hs = :now" if new == OrderStatus.ON_HOLD else "")
        try:
            resp = self.ddb.update_item(
                TableName=self.table,
                Key=to_item({"pk": _pk(order_id), "sk": "META"}),
                UpdateExpression=f"SET {sets}",
                ConditionExpression=f"#status IN ({', '.join(placeholders)})",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values(
                    placeholders | {":new": new.value, ":now": now_iso()} | queue
                    | {f":{k}": v for k, v in fields.items()}
                ),
                ReturnValues="ALL_NEW",
            )
        except Exception as exc:
            if is_condition_failure(exc):
                raise IllegalTransition(f"order {order_id} changed concurrently; not moved to {new.value}") from exc
            raise_transient(exc)
            raise
        if current["status"] != new.value:
            self.append_timeline(order_id, "status_changed", {"from": current["status"], "to": new.value})
        return from_item(resp["Attributes"]) or {}

    def add_refunded(self, order_id: str, amount: int, effect_id: str) -> bool:
        """Count a refund on the order once per effect (for reports; the gateway stays the truth).

        The effect id goes into a set in the same conditional update, so a retry
        after a crash counts nothing twice. False when it was already counted.
        """
        return written_once(lambda: self.ddb.update_item(
            TableName=self.table,
            Key=to_item({"pk": _pk(order_id), "sk": "META"}),
            UpdateExpression="ADD refunded_total :a, refunded_effects :e",
            ConditionExpression="attribute_not_exists(refunded_effects) OR NOT contains(refunded_effects, :id)",
            ExpressionAttributeValues={**values({":a": amount, ":id": effect_id}), ":e": {"SS": [effect_id]}},
        ))

    # ------------------------------------------------------------ the ledger (backout.repo.facts)
    def record_fact(self, order_id: str, fact: Fact) -> bool:
        """Append a provider fact to the order's ledger; False when nothing newer was learnt."""
        return record_fact(self, order_id, fact)

    def ledger(self, order_id: str) -> Ledger:
        """Every fact about the order (one Query)."""
        return load_ledger(self, order_id)

    def snapshot(self, order_id: str) -> Snapshot:
        """The order, its requests, effects and ledger in one Query (backout.repo.snapshot)."""
        return read_snapshot(self, order_id)

    def link_payment(self, payment_ref: str, order_id: str) -> bool:
        """Map another payment object (a capture) to the order, so events naming only it find the order."""
        return self._put_new({"pk": f"PAY#{payment_ref}", "sk": "ORDER", "order_id": order_id})

    def link_tracking(self, tracking_number: str, order_id: str) -> bool:
        """Map a parcel's tracking number to the order, so scans naming only the parcel (EasyPost's
        trackers carry no order reference) find the order."""
        return self._put_new({"pk": f"TRK#{tracking_number}", "sk": "ORDER", "order_id": order_id})

    def order_for_tracking(self, tracking_number: str) -> str | None:
        """The order a tracking number was linked to."""
        item = self._get(f"TRK#{tracking_number}", "ORDER")
        return str(item["order_id"]) if item else None

    def park_under_tracking(self, tracking_number: str, key: str, event: dict[str, Any]) -> bool:
        """Keep a scan of a parcel no order is linked to yet (applied when the tracking number is linked)."""
        return self._put_new({"pk": f"TRK#{tracking_number}", "sk": f"PARK#{key}", "event": event,
                              "parked_at": now_iso()})

    def parked_under_tracking(self, tracking_number: str) -> list[dict[str, Any]]:
        """Scans kept under a tracking number, oldest first."""
        return sorted(self._query_pk(f"TRK#{tracking_number}", "PARK#"), key=lambda item: str(item.get("parked_at", "")))

    # ------------------------------------------------------------ requests
    def record_request(self, order_id: str, request: dict[str, Any]) -> bool:
        """Record a cancellation request once; False if it was already recorded."""
        item = {"pk": _pk(order_id), "sk": f"REQ#{request['request_id']}", "recorded_at": now_iso(), **request}
        return self._put_new(item)

    def mark_request(self, order_id: str, request_id: str, **fields: Any) -> None:
        """Note something on a recorded request (``queued`` behind another one)."""
        names = {f"#{k}": k for k in fields}
        self.ddb.update_item(
            TableName=self.table, Key=to_item({"pk": _pk(order_id), "sk": f"REQ#{request_id}"}),
            UpdateExpression="SET " + ", ".join(f"#{k} = :{k}" for k in fields),
            ConditionExpression="attribute_exists(sk)", ExpressionAttributeNames=names,
            ExpressionAttributeValues=values({f":{k}": v for k, v in fields.items()}),
        )

    def get_request(self, order_id: str, request_id: str) -> dict[str, Any] | None:
        """A recorded cancellation request, or None."""
        return self._get(_pk(order_id), f"REQ#{request_id}")

    # ------------------------------------------------------------ effects
    def record_intent(self, order_id: str, effect_id: str, kind: str, **detail: Any) -> dict[str, Any]:
        """Write the intent of an external effect before making the call.

        Returns the effect record: the new intent, or the existing record
        (possibly already done) when a retry gets here again.
        """
        item = {"pk": _pk(order_id), "sk": f"FX#{effect_id}", "effect_id": effect_id, "kind": kind,
                "status": "intent", "created_at": now_iso(), **detail}
        if self._put_new(item):
            return item
        return self._get(_pk(order_id), f"FX#{effect_id}") or item

    def record_result(self, order_id: str, effect_id: str, status: str, **result: Any) -> None:
        """Record what the provider answered for an effect."""
        fields = {"status": status, "finished_at": now_iso(), **result}
        names = {f"#{k}": k for k in fields}
        self.ddb.update_item(
            TableName=self.table,
            Key=to_item({"pk": _pk(order_id), "sk": f"FX#{effect_id}"}),
            UpdateExpression="SET " + ", ".join(f"#{k} = :{k}" for k in fields),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values({f":{k}": v for k, v in fields.items()}),
        )

    def get_effect(self, order_id: str, effect_id: str) -> dict[str, Any] | None:
        """An effect record, or None."""
        return self._get(_pk(order_id), f"FX#{effect_id}")

    # ------------------------------------------------------------ tokens (one per wait: purpose and request)
    def save_token(self, order_id: str, purpose: str, token: str, request_id: str, **about: Any) -> None:
        """Remember the task token of the request's saga waiting for ``purpose`` (and what it waits for)."""
        self.ddb.put_item(
            TableName=self.table,
            Item=to_item({"pk": _pk(order_id), "sk": f"TOKEN#{purpose}#{request_id}", "token": token,
                          "purpose": purpose, "request_id": request_id, "saved_at": now_iso(), **about}),
        )

    def mark_token_used(self, order_id: str, purpose: str, request_id: str, source_id: str) -> None:
        """Note what ended the wait (a replay will not resume it again)."""
        self.ddb.update_item(
            TableName=self.table, Key=to_item({"pk": _pk(order_id), "sk": f"TOKEN#{purpose}#{request_id}"}),
            UpdateExpression="SET used_by = :s, used_at = :t",
            ExpressionAttributeValues=values({":s": source_id, ":t": now_iso()}),
        )

    def claim_token(self, order_id: str, purpose: str, request_id: str, by: str) -> bool:
        """Mark the wait ended by ``by`` unless something ended it first (False then)."""
        return written_once(lambda: self.ddb.update_item(
            TableName=self.table, Key=to_item({"pk": _pk(order_id), "sk": f"TOKEN#{purpose}#{request_id}"}),
            UpdateExpression="SET used_by = :s, used_at = :t",
            ConditionExpression="attribute_exists(sk) AND attribute_not_exists(used_by)",
            ExpressionAttributeValues=values({":s": by, ":t": now_iso()}),
        ))

    def get_token(self, order_id: str, purpose: str, request_id: str) -> dict[str, Any] | None:
        """The request's wait for ``purpose``, or None."""
        return self._get(_pk(order_id), f"TOKEN#{purpose}#{request_id}")

    def open_tokens(self, order_id: str) -> list[dict[str, Any]]:
        """Every wait of the order nothing has ended yet."""
        return [t for t in self._query(order_id, "TOKEN#") if not t.get("used_by") and t.get("purpose")]

    def set_flag(self, order_id: str, name: str, value: bool | str) -> None:
        """Set one attribute on the order (``disputed``, ``tracking_number``, ...)."""
        self.ddb.update_item(
            TableName=self.table, Key=to_item({"pk": _pk(order_id), "sk": "META"}),
            UpdateExpression="SET #f = :v", ExpressionAttributeNames={"#f": name},
            ExpressionAttributeValues=values({":v": value}),
        )

    def save_evidence(self, order_id: str, dispute_id: str, evidence: dict[str, Any]) -> bool:
        """Keep the evidence bundle assembled for a dispute (once per dispute)."""
        return self._put_new({"pk": _pk(order_id), "sk": f"EVIDENCE#{dispute_id}", "evidence": evidence,
                              "assembled_at": now_iso()})

    # ------------------------------------------------------------ parked events
    def park(self, order_id: str | None, key: str, event: dict[str, Any], payment_ref: str | None = None) -> bool:
        """Keep an event that arrived before its order (applied when the order is recorded).

        An event that names only a payment (a gateway webhook for a payment whose order
        is not known yet) is kept under the payment, next to its ``PAY#`` mapping.
        """
        pk = _pk(order_id) if order_id else f"PAY#{payment_ref}"
        return self._put_new({"pk": pk, "sk": f"PARK#{key}", "event": event, "parked_at": now_iso()})

    def parked(self, order_id: str, payment_ref: str | None = None) -> list[dict[str, Any]]:
        """Events kept for the order and for its payment, oldest first (never deleted: applying is idempotent)."""
        found = self._query(order_id, "PARK#")
        if payment_ref:
            found += self._query_pk(f"PAY#{payment_ref}", "PARK#")
        return sorted(found, key=lambda item: str(item.get("parked_at", "")))

    def parked_under_payment(self, payment_ref: str) -> list[dict[str, Any]]:
        """Events kept under a payment object (a capture) no order was known for yet, oldest first."""
        return sorted(self._query_pk(f"PAY#{payment_ref}", "PARK#"), key=lambda item: str(item.get("parked_at", "")))

    # ------------------------------------------------------------ timeline
    def append_timeline(self, order_id: str, step: str, detail: dict[str, Any] | None = None) -> None:
        """Append one step to the order's timeline (never rewritten)."""
        at = now_iso()
        self.ddb.put_item(
            TableName=self.table,
            Item=to_item({"pk": _pk(order_id), "sk": f"TL#{at}#{secrets.token_hex(4)}", "at": at,
                          "step": step, "detail": detail or {}}),
        )

    def timeline(self, order_id: str) -> list[dict[str, Any]]:
        """Every timeline step of the order, oldest first."""
        return self._query(order_id, "TL#")

    def items(self, order_id: str, prefix: str) -> list[dict[str, Any]]:
        """All items of the order whose sort key starts with ``prefix``."""
        return self._query(order_id, prefix)

    def _query(self, order_id: str, prefix: str) -> list[dict[str, Any]]:
        return self._query_pk(_pk(order_id), prefix)

    def _query_pk(self, pk: str, prefix: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :p)",
            "ExpressionAttributeValues": values({":pk": pk, ":p": prefix}),
            "ConsistentRead": True,
        }
        while True:
            resp = self.ddb.query(**kwargs)
            out.extend(from_item(i) or {} for i in resp.get("Items", []))
            if "LastEvaluatedKey" not in resp:
                return out
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

