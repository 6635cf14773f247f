"""One read of everything a saga step decides on: the order, its requests, its effects, its ledger.

The order's partition sorts ``EVIDENCE#``, ``F#`` (facts), ``FX#`` (effects), ``META``, ``PARK#`` and
``REQ#`` before ``TL#`` (the timeline) and ``TOKEN#``: a single Query with ``sk < "TL#"`` returns them
all, consistently, instead of a GetItem per record and a Query for the ledger.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from backout.domain.ledger import Ledger, fact_from_json
from backout.errors import OrderNotFound
from backout.repo.dynamo import from_item, raise_transient, values


@dataclass(frozen=True)
class Snapshot:
    """The order as one step sees it (read once, right before the step decides)."""

    order_id: str
    order: dict[str, Any] | None
    requests: dict[str, dict[str, Any]] = field(default_factory=dict)
    effects: dict[str, dict[str, Any]] = field(default_factory=dict)
    ledger: Ledger | None = None

    def require_order(self) -> dict[str, Any]:
        if self.order is None:
            raise OrderNotFound(f"unknown order {self.order_id}")
        return self.order

    def facts(self) -> Ledger:
        return self.ledger or Ledger(order_id=self.order_id)


def read_snapshot(repo: Any, order_id: str) -> Snapshot:
    """Everything of the order but its timeline and waits, in one (paginated) consistent Query."""
    kwargs: dict[str, Any] = {
        "TableName": repo.table, "ConsistentRead": True,
        "KeyConditionExpression": "pk = :pk AND sk < :tl",
        "ExpressionAttributeValues": values({":pk": f"ORDER#{order_id}", ":tl": "TL#"}),
    }
    order, requests, effects, facts = None, {}, {}, []
    while True:
        try:
            resp = repo.ddb.query(**kwargs)
        except Exception as exc:  # botocore ClientError
            raise_transient(exc)
            raise
        for raw in resp.get("Items", []):
            item = from_item(raw) or {}
            sk = str(item.get("sk", ""))
            if sk == "META":
                order = item
            elif sk.startswith("REQ#"):
                requests[sk[4:]] = item
            elif sk.startswith("FX#"):
                effects[sk[3:]] = item
            elif sk.startswith("F#"):
                facts.append(fact_from_json(json.loads(str(item["fact"]))))
        if "LastEvaluatedKey" not in resp:
            break
        kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]
    return Snapshot(order_id, order, requests, effects, Ledger.of(order_id, facts))
