"""The marketplaces and the carriers of the model-based generator, one small module per provider.

Each platform module (``shopify``, ``ozon``, ``tiktok``) keeps the provider's own bodies and the
fake's controls together, so a change of the provider's contract (or of its fake) is one file:

* ``place(env, s, send)``: the order at the fake, and the platform's webhooks that make it known;
* ``request(env, s, send)``: the buyer asks (at the platform, and however Backout learns of it);
* ``withdraw(env, s, send)`` (when :attr:`withdrawable`): the buyer takes the request back;
* ``ship(env, s, send)`` (when :attr:`shippable`): the parcel leaves, as the platform reports it;
* ``noise(env, s, send, i)``: a webhook that changes nothing (a stale update, an ignored status);
* ``answer(env, s, send)``: what the platform says once it acted on what Backout asked; True if it said something;
* ``own_move(env, s, send)``: what the platform decides on its own (Ozon's deadline, TikTok's system);
* ``pending(env, s)``: the buyer's request waits at the platform for an answer (Ozon, TikTok);
* ``ledger(env, s)``: the fake's record of the order (:class:`PlatformLedger`).

``send(label, event, body, headers=None)`` posts a signed webhook and waits for quiescence.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

Send = Callable[..., int]


@dataclass
class PlatformLedger:
    """What the platform's fake holds for one order: Backout's calls and the money's fate there."""

    asked_cancel: int = 0  # Backout's approvals / cancel calls (each one returns the money once)
    asked_reject: int = 0  # Backout's rejections
    cancelled: bool = False  # the platform cancelled the order (so it returned the money)
    refunded: bool = False  # the platform says the money went back (Shopify REFUNDED / VOIDED)
    by_platform: bool = False  # the platform decided on its own (deadline, system)
    state: str = ""  # the request's state at the platform
    detail: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return (f"platform: asked cancel {self.asked_cancel}, asked reject {self.asked_reject}, cancelled "
                f"{self.cancelled}, refunded {self.refunded}, by platform {self.by_platform}, state {self.state!r}")


def platform(channel: str) -> Any:
    """The provider module's platform object for a channel."""
    from backout_dev.sim.model.platforms import ozon, shopify, tiktok

    return {"shopify": shopify.PLATFORM, "ozon": ozon.PLATFORM, "tiktok": tiktok.PLATFORM}[channel]
