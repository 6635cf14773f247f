"""Learning an order Backout never recorded by asking its platform.

TikTok Shop's webhooks carry no lines or amounts, so no TikTok webhook ever records an order;
the dispatcher asks here before it parks an event for an unknown ``tiktok:`` order.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from backout.domain.events import Channel, OrderPlaced
from backout.errors import PlatformRejected
from backout.ingress.keys import MalformedPayload

log = logging.getLogger(__name__)


def learn_order(order_id: str) -> OrderPlaced | None:
    """The order ``tiktok:<id>`` as TikTok Shop holds it; None for other channels.

    None too when TikTok does not know the order or refuses the read (any non-zero ``code`` or 4xx),
    or answers something that is not an order: the event stays parked, and the next event for the
    order asks again. A transient failure (429, 5xx, timeout) raises TransientError, so the stream
    retries the delivery.
    """
    channel, _, external = order_id.partition(":")
    if channel != Channel.TIKTOK.value or not external:
        return None
    from backout.ingress.normalize.tiktok_order import order_placed
    from backout.saga.providers import _tiktok  # the saga's own TikTok client and credentials

    try:
        return order_placed(_tiktok().get_order(external), datetime.now(timezone.utc))
    except (PlatformRejected, MalformedPayload) as exc:
        log.warning("tiktok order %s not learned: %s", external, exc)
        return None
