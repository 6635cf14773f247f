"""Turn one verified provider delivery into Backout domain events.

``normalize(provider, body, headers, received_at)`` dispatches to one
module per provider (``stripe``, ``paypal``, ``shopify``, ``woocommerce``,
``ozon``, ``tiktok``, ``aftership``, ``easypost``, ``standard``); each
exposes ``normalize(body, headers, received_at) -> list[DomainEvent]``.

Contracts every provider module keeps:

- every event carries ``provider``, ``source_id`` (the delivery's dedupe
  key from :mod:`backout.ingress.keys`) and ``occurred_at`` (the provider's
  timestamp when it sends one, else ``received_at``; always tz-aware UTC);
- a topic Backout does not act on gives ``[Ignored(topic=...)]``;
- a known topic without what Backout needs raises ``MalformedPayload``;
- money is converted with :func:`backout.money.to_minor` (never float) and
  currency codes are upper-case ISO 4217 (Stripe's ``"usd"`` -> ``"USD"``).

The helpers below are shared by the provider modules. Provider modules are
imported lazily, on first use, so importing this package stays cheap.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from backout import money
from backout.domain.events import Channel, DomainEvent, Ignored
from backout.ingress.keys import PROVIDERS, MalformedPayload, dedupe_key

__all__ = ["MalformedPayload", "PROVIDERS", "normalize"]


def normalize(
    provider: str, body: Any, headers: Mapping[str, str], received_at: datetime
) -> list[DomainEvent]:
    """Normalise one delivery of ``provider`` into zero or more domain events.

    ``body`` is the parsed JSON body, ``headers`` the request headers (names
    lower-cased; they are lower-cased again here to be safe), ``received_at``
    when the receiver got the delivery (naive means UTC). Raises
    MalformedPayload for an unknown provider or a malformed known topic.
    """
    if provider not in PROVIDERS:
        raise MalformedPayload(f"unknown provider {provider!r}")
    module = importlib.import_module(f"{__name__}.{provider}")
    lowered = {str(k).lower(): v for k, v in headers.items()}
    try:
        return list(module.normalize(body, lowered, to_utc(received_at)))
    except ValidationError as exc:
        fields = ", ".join(".".join(map(str, e["loc"])) for e in exc.errors()) or "?"
        raise MalformedPayload(f"{provider}: invalid event field(s): {fields}") from exc


# --------------------------------------------------------------------------
# Helpers for the provider modules.


def to_utc(value: datetime) -> datetime:
    """Return ``value`` as an aware UTC datetime (a naive value is taken as UTC)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def parse_time(value: object, what: str = "timestamp") -> datetime | None:
    """Parse a provider timestamp: unix seconds (int or digit string) or ISO 8601.

    ``None`` / ``""`` give ``None``. Naive ISO values (WooCommerce's ``*_gmt``
    fields) are UTC. Anything else unparseable raises MalformedPayload.
    """
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise MalformedPayload(f"{what}: not a timestamp")
    try:
        if isinstance(value, (int, float)):
            return datetime.fromtimestamp(value, tz=timezone.utc)
        if isinstance(value, str):
            text = value.strip()
            if text.isdigit():
                return datetime.fromtimestamp(int(text), tz=timezone.utc)
            return to_utc(datetime.fromisoformat(text))
    except (ValueError, OverflowError, OSError):
        pass
    raise MalformedPayload(f"{what}: unparseable timestamp {value!r}")


def due_time(value: object) -> datetime | None:
    """A deadline the provider states for information (a dispute's evidence due date): ``None`` when
    absent or unparseable, since a bad deadline must not lose the event that carries it."""
    try:
        return parse_time(value, "deadline")
    except MalformedPayload:
        return None


@dataclass(frozen=True)
class Delivery:
    """What every event of one delivery shares: provider, source id, time."""

    provider: str
    source_id: str
    occurred_at: datetime

    def common(self, **fields: Any) -> dict[str, Any]:
        """Return the shared event fields merged with ``fields``."""
        return {
            "provider": self.provider,
            "source_id": self.source_id,
            "occurred_at": self.occurred_at,
            **fields,
        }

    def ignored(self, topic: str) -> Ignored:
        """An ``Ignored`` event for a topic Backout does not act on.

        It names no order on purpose: the dispatcher would otherwise park it
        for orders Backout never sees (most marketplace status changes).
        """
        return Ignored(**self.common(topic=topic))

    def at(self, value: object, what: str = "timestamp") -> Delivery:
        """A copy whose ``occurred_at`` is ``value`` if it is given (else unchanged)."""
        when = parse_time(value, what)
        if when is None:
            return self
        return Delivery(self.provider, self.source_id, when)


def delivery(
    provider: str,
    body: Any,
    headers: Mapping[str, str],
    received_at: datetime,
    timestamp: object = None,
) -> Delivery:
    """Build the Delivery: dedupe key as source id, ``timestamp`` or received_at."""
    when = parse_time(timestamp, f"{provider} timestamp") or to_utc(received_at)
    return Delivery(provider, dedupe_key(provider, body, headers), when)


def as_object(value: object, what: str) -> dict[str, Any]:
    """Require a JSON object."""
    if not isinstance(value, dict):
        raise MalformedPayload(f"{what} missing or not an object")
    return value


def as_list(value: object, what: str) -> list[Any]:
    """Require a JSON array."""
    if not isinstance(value, list):
        raise MalformedPayload(f"{what} missing or not an array")
    return value


def ident(value: object, what: str) -> str:
    """Require a non-empty string or integer id; return it as a string."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise MalformedPayload(f"{what} missing or not a string/integer")
    text = str(value).strip()
    if not text:
        raise MalformedPayload(f"{what} is empty")
    return text


def positive_int(value: object, what: str) -> int:
    """Require a positive integer (a quantity)."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise MalformedPayload(f"{what} must be a positive integer")
    return value


def opt_ident(value: object) -> str | None:
    """An optional id: a non-empty string/integer as a string, else ``None``."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    text = str(value).strip()
    return text or None


def text(value: object) -> str:
    """An optional free-text field: the string, or ``""`` for anything else."""
    return value if isinstance(value, str) else ""


def currency_code(value: object, what: str = "currency") -> str:
    """Require an ISO 4217 code; return it upper-cased."""
    try:
        return money.normalise_currency(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise MalformedPayload(f"{what}: {exc}") from exc


def decimal_minor(value: object, currency: str, what: str = "amount") -> int:
    """Convert a decimal major-unit amount (``"12.30"``) to minor units, exactly."""
    if not isinstance(value, (str, int, Decimal)) or isinstance(value, bool):
        raise MalformedPayload(f"{what} missing or not a decimal string")
    try:
        return money.to_minor(value, currency)
    except (TypeError, ValueError, ArithmeticError) as exc:
        raise MalformedPayload(f"{what}: {exc}") from exc


def int_minor(value: object, what: str = "amount") -> int:
    """Require an integer amount already in minor units (Stripe), >= 0."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise MalformedPayload(f"{what} missing or not a non-negative integer")
    return value


def backout_order_id(value: object) -> str | None:
    """Return ``value`` if it is a Backout order id ``"<channel>:<id>"``, else None."""
    if not isinstance(value, str):
        return None
    channel, sep, external = value.partition(":")
    if not sep or not external.strip() or channel not in {c.value for c in Channel}:
        return None
    return value
