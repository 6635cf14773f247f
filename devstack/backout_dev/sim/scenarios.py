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
are enabled (see :func:`enabled_builders`).
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

_order_numbers = itertools.count(700_000_000)

Intercept = Literal["succeed", "fail"]


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
    forged_cancel: bool = False  # a forged cancel request is sent for this (never cancelled) order
    payment_ref: str = ""
    tracking: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def order_id(self) -> str:
        """Backout's id of the order."""
        return f"{self.platform}:{self.no}"

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
                 "forged": self.forged_cancel}
        return labels + [k for k, v in flags.items() if v]


class ScenarioBuilder(Protocol):
    """Sets a platform/gateway pair's scenarios up at the fakes and lists the webhooks they imply."""

    platform: str
    gateway: str

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


#: Builders by "platform+gateway"; each module that defines one registers it here.
BUILDERS: dict[str, ScenarioBuilder] = {}


def register(builder: ScenarioBuilder) -> ScenarioBuilder:
    """Add a builder to :data:`BUILDERS`."""
    BUILDERS[f"{builder.platform}+{builder.gateway}"] = builder
    return builder


def enabled_builders(env: Any, wanted: list[str] | None = None) -> list[ScenarioBuilder]:
    """The registered builders the running stack supports (optionally only ``wanted`` ones)."""
    from backout_dev.sim import builders  # noqa: F401  (registers the builders)

    chosen = [b for k, b in BUILDERS.items() if wanted is None or k in wanted]
    return [b for b in chosen if b.available(env)]


def _amount(rng: random.Random, currency: str) -> int:
    """A plausible unit price in minor units."""
    from backout.money import exponent

    major = rng.choice([3, 5, 8, 12, 19, 25, 40, 65, 120])
    if currency == "JPY":
        major *= 150
    return major * 10 ** exponent(currency) + rng.randrange(0, 10 ** exponent(currency))


def generate(rng: random.Random, n: int, builders: list[ScenarioBuilder]) -> list[Scenario]:
    """``n`` random scenarios spread over the enabled builders."""
    currencies, weights = list(CURRENCIES), list(CURRENCIES.values())
    out: list[Scenario] = []
    for i in range(n):
        b = builders[i % len(builders)]
        currency = rng.choices(currencies, weights)[0]
        lines = []
        for j in range(rng.randint(1, 3)):
            custom = rng.random() < 0.15
            qty = rng.randint(1, 3)
            lines.append(Line(j + 1, rng.choice(CUSTOM_SKUS if custom else SKUS), qty,
                              _amount(rng, currency) * qty, custom))
        sc = Scenario(i, b.platform, b.gateway, next(_order_numbers), currency, lines, captured=rng.random() < 0.65)
        sc.shipped = rng.random() < 0.15
        sc.expiry = not sc.captured and rng.random() < 0.25
        sc.cancel = not sc.expiry and rng.random() < 0.75
        sc.cancel_first = sc.cancel and not sc.shipped and rng.random() < 0.12
        sc.dispute = sc.captured and rng.random() < 0.08
        if sc.captured and rng.random() < 0.12 and sc.total > 1:
            sc.prerefund = rng.randint(1, sc.total - 1)
        if sc.shipped and sc.cancel:
            sc.intercept = "succeed" if rng.random() < 0.6 else "fail"
        sc.forged_cancel = not sc.cancel and not sc.expiry and rng.random() < 0.5
        out.append(sc)
    return out
