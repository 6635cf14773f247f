"""The order's ledger: what each provider said about one order, kept per object.

Pure Python. Every webhook becomes one :class:`Fact` about one provider object (a
refund, a capture, a dispute, a parcel, a platform decision, a withdrawal, an
operator decision). Facts are appended idempotently: the same object's newer
version replaces an older one, an older one never overrides a newer one
(:func:`newer`). Everything the saga decides is derived from the ledger by the
pure functions of :mod:`backout.domain.rules`, right before each effect.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class FactKind(str, Enum):
    """The provider objects a ledger keeps."""

    CAPTURE = "capture"
    REFUND = "refund"
    AUTHORIZATION = "authorization"
    DISPUTE = "dispute"
    PARCEL = "parcel"
    DECISION = "decision"  # a platform's answer to one cancellation
    WITHDRAWAL = "withdrawal"
    OPERATOR = "operator"  # a person's decision on one request


#: Refund states from the gateway (Stripe: pending, requires_action, succeeded, failed, canceled).
RefundState = Literal["pending", "succeeded", "failed", "canceled"]
#: Dispute states, collapsed: open (needs response, under review), won, lost.
DisputeState = Literal["open", "won", "lost"]

#: The order in which one object's states may follow each other at the same instant (ties on time):
#: a later, more final state wins a tie (a parcel's return-to-sender over its in-transit scan).
_RANK: dict[str, int] = {"pending": 0, "authorized": 0, "open": 0, "requires_action": 0, "label_created": 0,
                         "captured": 1, "succeeded": 1, "picked_up": 1, "in_transit": 1, "out_for_delivery": 1,
                         "failed_attempt": 1, "available_for_pickup": 1, "exception": 1,
                         "return_to_sender": 2, "won": 2, "lost": 2, "failed": 2, "canceled": 2, "voided": 2,
                         "expired": 2, "approved": 2, "rejected": 2, "delivered": 3, "returned": 3}


class Fact(BaseModel):
    """One provider object as its latest webhook described it."""

    model_config = ConfigDict(frozen=True)

    kind: FactKind
    object_id: str  # the provider's id for the object (refund id, dispute id, tracking number...)
    state: str
    at: datetime  # when the provider says it happened (not when we heard)
    source_id: str = ""  # the delivery that told us
    amount: int = 0  # minor units, where the object has an amount
    currency: str = ""
    payment_ref: str = ""  # the payment the object belongs to (captures, refunds, disputes)
    parent_id: str = ""  # a refund's capture, a decision's platform cancellation, a withdrawal's request
    effect_key: str = ""  # a refund Backout made: the effect key it was made under
    request_id: str = ""  # the request a Backout effect or a person's decision belongs to
    detail: dict[str, Any] = Field(default_factory=dict)

    @property
    def key(self) -> str:
        """The fact's identity in the ledger: one per provider object."""
        return f"{self.kind.value}#{self.object_id}"

    @property
    def version(self) -> str:
        """Sorts as text in the order the provider's updates happened (ties broken by state)."""
        return f"{self.at.isoformat(timespec='microseconds')}|{_RANK.get(self.state, 1)}"


def newer(old: Fact | None, new: Fact) -> bool:
    """True when ``new`` should replace ``old`` (idempotent: the same version is not newer)."""
    return old is None or new.version > old.version


class Request(BaseModel):
    """A cancellation request as recorded (``REQ#``)."""

    model_config = ConfigDict(frozen=True)

    request_id: str
    initiator: str = ""
    reason: str = ""
    at: datetime | None = None  # when the platform or buyer made it
    platform_cancellation_id: str = ""


class Ledger(BaseModel):
    """Every fact about one order, one per provider object."""

    model_config = ConfigDict(frozen=True)

    order_id: str
    facts: dict[str, Fact] = Field(default_factory=dict)

    @classmethod
    def of(cls, order_id: str, facts: Iterable[Fact]) -> "Ledger":
        kept: dict[str, Fact] = {}
        for fact in facts:
            if newer(kept.get(fact.key), fact):
                kept[fact.key] = fact
        return cls(order_id=order_id, facts=kept)

    def with_fact(self, fact: Fact) -> "Ledger":
        """The ledger with ``fact`` appended (unchanged when it is not newer)."""
        if not newer(self.facts.get(fact.key), fact):
            return self
        return Ledger(order_id=self.order_id, facts={**self.facts, fact.key: fact})

    def all(self, kind: FactKind) -> list[Fact]:
        """The facts of one kind, oldest first."""
        return sorted((f for f in self.facts.values() if f.kind == kind), key=lambda f: f.version)

    def get(self, kind: FactKind, object_id: str) -> Fact | None:
        return self.facts.get(f"{kind.value}#{object_id}")


def fact_from_json(data: Mapping[str, Any]) -> Fact:
    """Rebuild a fact from its stored JSON form."""
    return Fact.model_validate(data)
