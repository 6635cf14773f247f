"""The model of a marketplace order's story (Shopify, Ozon, TikTok Shop): who asked, what shipped, who decided.

As :class:`backout_dev.sim.model.story.Story`, everything comes from the story itself, never from
Backout. The platform holds the money, so "returned" is the platform's own record (Shopify's
financial status, an Ozon or TikTok cancellation approved), read by each platform module's ``ledger``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from backout_dev.sim.model.story import Line, Story


@dataclass
class PlatformStory(Story):
    """One marketplace order. ``gateway`` is ``platform``; ``shape`` is ``paid`` or ``authorized`` (Shopify)."""

    channel: str = ""  # shopify | ozon | tiktok
    external: str = ""  # the platform's order id / posting number
    request_id: str = ""  # the request as Backout names it (standard webhook id, ozon:<id>, tiktok:<id>)
    cancel_id: str = ""  # the platform's cancellation id (Ozon, TikTok)
    shipped_before_request: bool = False
    carrier_api: str = "aftership"  # which tracking service reports the parcel (aftership | easypost)
    platform_decided: str = ""  # the platform decided on its own: approved | closed
    answered: int = 0  # how many times the platform answered what Backout asked
    clock0: float = 0.0  # when the order was placed

    @property
    def order_id(self) -> str:
        return f"{self.channel}:{self.external}"

    def granted(self, queued: bool) -> bool | None:
        """As :meth:`Story.granted`, with the platform's part: a marketplace rejects a request for goods
        that left before it decided (Ozon, TikTok; Shopify's goes through the carrier instead), a request
        the buyer closed at the platform cannot be approved, and one the platform approved itself stands."""
        if not self.request_sent:
            return False
        if self.platform_decided == "approved":
            return True
        if self.platform_decided == "closed":
            return False
        if self.channel in ("ozon", "tiktok") and self.shipped_before_request:
            return False
        return super().granted(queued)

    def summary(self) -> str:
        lines = ", ".join(f"{ln.sku} x{ln.qty} {ln.minor}{' custom' if ln.custom else ''}" for ln in self.lines)
        plan = f" plan {self.plan}" if self.plan else ""
        return f"{self.order_id} {self.channel} {self.shape} total {self.total} {self.currency} [{lines}]{plan}"


def new_story(channel: str, shape: str, window: float, custom: bool) -> PlatformStory:
    s = PlatformStory(gateway="platform", shape=shape, window=window, channel=channel,
                      currency="RUB" if channel == "ozon" else "USD")
    s.external = {"ozon": f"{s.no}-0001-1", "tiktok": f"577{s.no}"}.get(channel, str(s.no))
    unit = 70000 if channel == "ozon" else 3000
    s.lines = [Line(f"MP-{channel[:2].upper()}-{s.no}-A", 2, 2 * unit)]
    if custom and channel == "shopify":  # only Shopify's line properties can say "custom-made"
        s.lines.append(Line(f"MP-SH-{s.no}-C", 1, 1500, custom=True))
    return s


__all__ = ["PlatformStory", "new_story", "field"]
