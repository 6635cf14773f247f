"""The inbox item: what a receiver writes for one delivery, and how the dispatcher and replay read it back.

Standard library and boto3 (through :mod:`backout.aws`) only, so the
receivers stay light.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from typing import Any, NamedTuple

from backout import aws
from backout.ingress.config import DEFAULT_RETENTION_DAYS
from backout.ingress.config import int_env as _int_env
from backout.ingress.delivery import Delivery, compact

__all__ = ["MAX_TOPIC_CHARS", "InboxRecord", "inbox_item", "inbox_received_at_ms", "put_inbox_item",
           "read_inbox_item", "stored_headers"]

#: Headers never stored with a delivery (credentials and signatures): any name containing one of these.
_SECRET_HEADER_HINTS = ("signature", "hmac", "authorization", "cookie", "api-key", "transmission-sig")
_SECRET_HEADER = re.compile("|".join(map(re.escape, _SECRET_HEADER_HINTS)))
#: Longest topic stored with a delivery (it is only a label).
MAX_TOPIC_CHARS = 256


@functools.lru_cache(maxsize=512)
def _kept(name: str) -> bool:
    """Whether a header is stored with a delivery (senders send the same few names on every delivery)."""
    return _SECRET_HEADER.search(name) is None


def stored_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The headers kept with a delivery: signatures and credentials left out."""
    return {k: v for k, v in headers.items() if _kept(k)}


def inbox_item(delivery: Delivery, key: str, topic: str, text: str, now: float,
               retention_days: int | None = None) -> dict[str, Any]:
    """The inbox item (DynamoDB attribute values) recording one delivery: four attributes.

    ``pk`` is the dedupe key ``"<provider>:<id>"`` (so it names the
    provider), ``body`` the body as received and ``expires_at`` the TTL
    (``retention_days`` after arrival; default ``INBOX_RETENTION_DAYS``).
    Everything else is one JSON string, ``meta``: the arrival time in ms and
    the stored headers (signatures and credentials left out), which the
    dispatcher reads, and what only a person reads (the topic, the source
    address, API Gateway's request id). Every attribute costs CPU on each
    write, in botocore and behind it, while DynamoDB bills by size. Nothing
    queries the inbox by those fields: ``backout replay``'s fallback reads
    ``meta`` and filters itself (a Scan's capacity is counted by the items
    read, not returned). Read an item back with :func:`read_inbox_item`.
    """
    days = _int_env("INBOX_RETENTION_DAYS", DEFAULT_RETENTION_DAYS) if retention_days is None else retention_days
    meta = {"received_at": int(now * 1000), "headers": stored_headers(delivery.headers),
            "topic": topic[:MAX_TOPIC_CHARS], "source_ip": delivery.source_ip, "request_id": delivery.request_id}
    return {
        "pk": {"S": key},
        "body": {"S": text},
        "meta": {"S": compact(meta)},
        "expires_at": {"N": str(int(now) + days * 86400)},
    }


class InboxRecord(NamedTuple):
    """One inbox item as the dispatcher needs it."""

    key: str
    provider: str
    body: str
    headers: dict[str, str]
    received_at_ms: int
    topic: str


def read_inbox_item(item: Mapping[str, Any]) -> InboxRecord:
    """Read an inbox item (plain values, as ``from_item`` gives them) written by :func:`inbox_item`."""
    key = str(item["pk"])
    meta = _meta(item)
    provider = str(item.get("provider") or key.split(":", 1)[0])
    return InboxRecord(key, provider, str(item["body"]), meta.get("headers") or {}, int(meta["received_at"]),
                       str(meta.get("topic", "")))


def inbox_received_at_ms(item: Mapping[str, Any]) -> int:
    """When an inbox item's delivery arrived (ms); the item needs only ``meta`` or ``received_at``."""
    return int(_meta(item)["received_at"])


def _meta(item: Mapping[str, Any]) -> dict[str, Any]:
    """An inbox item's ``meta``, or its equivalent in an item written before ``meta`` held everything.

    Those had ``provider``, ``headers``, ``audit`` and ``received_at`` as
    attributes of their own; they stay in the table and the stream for a
    while after a deploy, and replay reads them for ``InboxRetentionDays``.
    """
    if "meta" in item:
        return dict(json.loads(item["meta"]))
    return {"headers": json.loads(item.get("headers") or "{}"), "received_at": item["received_at"],
            "topic": json.loads(item.get("audit") or "{}").get("topic", "")}


def put_inbox_item(item: dict[str, Any]) -> bool:
    """The one durable write: put the item unless its key is already there; True if it was new."""
    try:
        aws.client("dynamodb").put_item(
            TableName=aws.env("INBOX_TABLE"), Item=item, ConditionExpression="attribute_not_exists(pk)"
        )
    except Exception as exc:
        code = (getattr(exc, "response", None) or {}).get("Error", {}).get("Code")  # timeouts have no response
        if code == "ConditionalCheckFailedException":
            return False
        raise
    return True
