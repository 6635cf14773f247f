"""Random order scenarios (seeded) and what each one implies at the providers.

A :class:`Scenario` is one order's story: where it was sold and paid, in which
currency, its lines (some custom-made), whether it was captured or only
authorized, shipped, partly refunded by hand before, disputed, expired, and
whether a cancellation was requested. The generator draws these with one
``random.Random(seed)``; the same seed gives the same stories.

Per platform/gateway pair a :class:`ScenarioBuilder` knows how to set the
story up at the fakes (PaymentIntent at localstripe, order at the store,
parcel at the carrier) and which webhooks it implies. Builders register
themselves in :data:`BUILDERS`; only pairs the local stack serves end to end
are enabled (see :func:`enabled_builders`). A pair cannot tell every story
(Ozon has no authorizations, Shopify no disputes Backout hears of): each
builder lists the :data:`FEATURES` it supports, and :func:`generate` draws
only those, so nothing here names a pair.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

#: Currencies drawn, with their weights: 2-decimal, 0-decimal (JPY) and 3-decimal (KWD).
CURRENCIES: dict[str, int] = {"USD": 30, "EUR": 20, "GBP": 12, "JPY": 12, "KWD": 8, "CAD": 6, "CHF": 4}
#: Shared SKUs (restocks of many orders meet on them) and custom-made ones.
SKUS = [f"SIM-SKU-{i:02d}" for i in range(24)]
CUSTOM_SKUS = [f"SIM-CUSTOM-{i:02d}" for i in range(6)]
#: Stock every shared SKU starts with in a run.
INITIAL_STOCK = 10_000
#: What a story may contain; a builder's ``features`` is the subset its pair can tell.
FEATURES = frozenset({
    "authorized",     # paid by authorization only (else captured)
    "shipped",        # the parcel left before any cancel request
    "intercept",      # a shipped order's cancel goes to the carrier (else the platform rejects it)
    "expiry",         # the authorization lapses (a system cancellation)
    "dispute",        # the buyer disputes the charge
    "prerefund",      # part refunded by hand at the gateway first
    "custom",         # custom-made lines (never restocked)
    "cancel_first",   # the cancel request overtakes the order's creation
    "forged",         # a forged cancel request for a never-cancelled order
    "withdrawal",     # the buyer withdraws the cancel request
    "multi_capture",  # the authorization is captured in two parts (one per shipment)
})

_order_numbers = itertools.count(700_000_000)

Intercept = Literal["succeed", "fail"]
#: When the withdrawal is sent: with the cancel request (racing it), right after it (inside the
#: window, unless the saga is slow), or after every window has closed (always too late).
WithdrawalAt = Literal["race", "early", "late"]


@dataclass
class Line:
    """One order line: ``minor`` is the line total in the order currency's minor units."""

    line_id: int
    sku: str
    qty: int
    minor: int
    custom: bool = False


@dataclass
class Scenario:
    """One order's story, and what the fakes answered while it was set up."""

    index: int
    platform: str
    gateway: str
    no: int
    currency: str
    lines: list[Line]
    captured: bool
    shipped: bool = False
    cancel: bool = False
    cancel_first: bool = False  # the cancel-request delivery may overtake order.created
    expiry: bool = False
    dispute: bool = False
    prerefund: int = 0  # refunded by hand at the gateway before any cancel (minor units)
    intercept: Intercept | None = None
    platform_rejects: bool = False  # shipped, on a platform that rejects a shipped order's request (Ozon)
    withdrawal: bool = False  # the buyer withdraws the cancel request (before or after the window closed)
    withdrawal_at: WithdrawalAt = "early"
    captures: list[int] = field(default_factory=list)  # the amounts captured, when captured in parts
    forged_cancel: bool = False  # a forged cancel request is sent for this (never cancelled) order
    payment_ref: str = ""
    external_id: str = ""  # the platform's id of the order when it is not the number (an Ozon posting)
    tracking: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def order_id(self) -> str:
        """Backout's id of the order."""
        return f"{self.platform}:{self.external_id or self.no}"

    @property
    def total(self) -> int:
        """Order total in minor units."""
        return sum(line.minor for line in self.lines)

    @property
    def restockable_units(self) -> dict[str, int]:
        """Units per SKU that go back to stock when the order is cancelled (custom lines never do)."""
        out: dict[str, int] = {}
        for line in self.lines:
            if not line.custom:
                out[line.sku] = out.get(line.sku, 0) + line.qty
        return out

    def kinds(self) -> list[str]:
        """Short labels of the story (for the summary table)."""
        labels = ["captured" if self.captured else "authorized", self.currency]
        flags = {"shipped": self.shipped, "cancel": self.cancel, "expiry": self.expiry, "dispute": self.dispute,
                 "prerefund": self.prerefund > 0, "custom": any(line.custom for line in self.lines),
                 "forged": self.forged_cancel, "withdrawal": self.withdrawal, "multi_capture": len(self.captures) > 1,
                 "platform_rejects": self.platform_rejects}
        return labels + [k for k, v in flags.items() if v]


class ScenarioBuilder(Protocol):
    """Sets a platform/gateway pair's scenarios up at the fakes and lists the webhooks they imply."""

    platform: str
    gateway: str
    features: frozenset[str]  # the FEATURES this pair's stories may have
    currencies: tuple[str, ...]  # the currencies it sells in; empty: every one of CURRENCIES

    def available(self, env: Any) -> bool:
        """True when the local stack serves this pair end to end."""

    def prepare(self, sc: Scenario, env: Any) -> None:
        """Create the order's state at the fakes (payment, store order, parcel)."""

    def deliveries(self, sc: Scenario, env: Any) -> list[Any]:
        """The webhooks the scenario implies, each tagged with its phase."""

    def reactions(self, sc: Scenario, env: Any) -> list[Any]:
        """Webhooks the providers send in answer to what Backout did (carrier scans, refund updates)."""

    def noise(self, sc: Scenario, rng: random.Random) -> Any:
        """A harmless extra webhook for the order (to reach a target number of deliveries)."""

    def lose_answer(self, sc: Scenario, env: Any) -> bool:
        """Arm the pair's fake to lose its answer to Backout's first money or decision call for the order
        (the effect happens, a 500 comes back); False when the pair has no such fake (localstripe's
        faults come from the stripe SDK wrapper in faults.py)."""


#: Builders by "platform+gateway"; each module that defines one registers it here.
BUILDERS: dict[str, ScenarioBuilder] = {}


def register(builder: ScenarioBuilder) -> ScenarioBuilder:
    """Add a builder to :data:`BUILDERS`."""
    BUILDERS[f"{builder.platform}+{builder.gateway}"] = builder
    return builder


def enabled_builders(env: Any, wanted: list[str] | None = None) -> list[ScenarioBuilder]:
    """The registered builders the running stack supports (optionally only ``wanted`` ones)."""
    from backout_dev.sim import builders, builders_ozon, builders_paypal, builders_shopify  # noqa: F401  (register)

    chosen = [b for k, b in BUILDERS.items() if wanted is None or k in wanted]
    return [b for b in chosen if b.available(env)]


def _amount(rng: random.Random, currency: str) -> int:
    """A plausible unit price in minor units."""
    from backout.money import exponent

    major = rng.choice([3, 5, 8, 12, 19, 25, 40, 65, 120])
    if currency == "JPY":
        major *= 150
    return major * 10 ** exponent(currency) + rng.randrange(0, 10 ** exponent(currency))


def _has(rng: random.Random, features: frozenset[str], feature: str, p: float) -> bool:
    """True with probability ``p`` when the pair supports ``feature`` (no draw when it does not)."""
    return feature in features and rng.random() < p


def _lines(rng: random.Random, currency: str, features: frozenset[str]) -> list[Line]:
    """1-3 lines of 1-3 units; custom-made lines only where the pair can mark them."""
    lines = []
    for j in range(rng.randint(1, 3)):
        custom = _has(rng, features, "custom", 0.15)
        qty = rng.randint(1, 3)
        sku = rng.choice(CUSTOM_SKUS if custom else SKUS)
        lines.append(Line(j + 1, sku, qty, _amount(rng, currency) * qty, custom))
    return lines


def story(rng: random.Random, index: int, b: ScenarioBuilder) -> Scenario:
    """One random story for the pair of ``b``, drawn only from the features it supports."""
    f = b.features
    pool = list(b.currencies or CURRENCIES)
    currency = rng.choices(pool, [CURRENCIES.get(c, 1) for c in pool])[0]
    sc = Scenario(index, b.platform, b.gateway, next(_order_numbers), currency, _lines(rng, currency, f),
                  captured=not _has(rng, f, "authorized", 0.35))
    sc.shipped = _has(rng, f, "shipped", 0.15)
    sc.expiry = not sc.captured and _has(rng, f, "expiry", 0.25)
    sc.cancel = not sc.expiry and rng.random() < 0.75
    sc.cancel_first = sc.cancel and not sc.shipped and _has(rng, f, "cancel_first", 0.12)
    sc.dispute = sc.captured and _has(rng, f, "dispute", 0.08)
    if sc.captured and sc.total > 1 and _has(rng, f, "multi_capture", 0.3):
        first = rng.randint(1, sc.total - 1)
        sc.captures = [first, sc.total - first]
    refundable_by_hand = sc.captures[0] if sc.captures else sc.total - 1  # a hand refund is on one capture
    if sc.captured and refundable_by_hand >= 1 and _has(rng, f, "prerefund", 0.12):
        sc.prerefund = rng.randint(1, refundable_by_hand)
    if sc.shipped and sc.cancel:
        if "intercept" in f:
            sc.intercept = "succeed" if rng.random() < 0.6 else "fail"
        else:
            sc.platform_rejects = True
    sc.withdrawal = sc.cancel and _has(rng, f, "withdrawal", 0.3)
    if sc.withdrawal:
        sc.withdrawal_at = rng.choice(("race", "early", "late"))
    sc.forged_cancel = not sc.cancel and not sc.expiry and _has(rng, f, "forged", 0.5)
    return sc


def generate(rng: random.Random, n: int, builders: list[ScenarioBuilder]) -> list[Scenario]:
    """``n`` random scenarios spread round-robin over the enabled builders."""
    return [story(rng, i, builders[i % len(builders)]) for i in range(n)]
