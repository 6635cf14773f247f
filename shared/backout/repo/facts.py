"""The ledger's facts in the orders table: ``F#<kind>#<object id>`` in the order's partition.

One item per provider object. A fact is written only when it is newer than the one
stored (a conditional put on its version), so racing deliveries never lose an update
and an older webhook never overrides a newer one. Nothing is deleted.
"""

from __future__ import annotations

import json
from typing import Any

from backout.domain.ledger import Fact, Ledger, fact_from_json
from backout.repo.dynamo import to_item, written_once
from backout.repo.lookup import INDEXED_KINDS, OBJECT_REF

PREFIX = "F#"


def record_fact(repo: Any, order_id: str, fact: Fact) -> bool:
    """Append ``fact`` to the order's ledger; False when the stored version is the same or newer."""
    item = {"pk": f"ORDER#{order_id}", "sk": f"{PREFIX}{fact.key}", "v": fact.version,
            "fact": json.dumps(fact.model_dump(mode="json"), separators=(",", ":"))}
    if fact.kind.value in INDEXED_KINDS:  # the operator finds the order by this id (repo.lookup)
        item[OBJECT_REF] = fact.object_id
    return written_once(lambda: repo.ddb.put_item(
        TableName=repo.table, Item=to_item(item),
        ConditionExpression="attribute_not_exists(sk) OR #v < :v",
        ExpressionAttributeNames={"#v": "v"}, ExpressionAttributeValues={":v": {"S": fact.version}},
    ))


def load_ledger(repo: Any, order_id: str) -> Ledger:
    """The order's ledger, one Query."""
    items = repo.items(order_id, PREFIX)
    return Ledger.of(order_id, (fact_from_json(json.loads(str(i["fact"]))) for i in items))
