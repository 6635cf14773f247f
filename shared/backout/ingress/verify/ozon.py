"""Ozon: no signature; the source address (Ozon's documented networks) and the seller id."""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Mapping, Sequence
from functools import lru_cache

from backout.ingress.verify._common import (
    _UNIX_TS_RE,
    SignatureError,
    _sequence,
)

OZON_NETWORKS: tuple[str, ...] = ("195.34.21.0/24", "185.73.192.0/22", "91.223.93.0/24")
"""Networks Ozon documents as the source of its push notifications."""


def _source_address(source_ip: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """Parse the connection's source address; IPv4-mapped IPv6 is unwrapped."""
    if not isinstance(source_ip, str):
        raise SignatureError("malformed_source_ip")
    try:
        address = ipaddress.ip_address(source_ip.strip())
    except ValueError:
        raise SignatureError("malformed_source_ip", source_ip[:64]) from None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _seller_key(value: object) -> str | None:
    """Canonical text of a seller id given as int or digit string, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value) if value >= 0 else None
    if isinstance(value, str) and _UNIX_TS_RE.fullmatch(value.strip()):
        return str(int(value))
    return None


@lru_cache(maxsize=8)
def _networks(
    allowed: tuple[str, ...],
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """Parse a configured allowlist once (a bad entry is a ValueError, and is not cached)."""
    return tuple(ipaddress.ip_network(net) for net in allowed)


def verify_ozon_source(source_ip: str, allowed_networks: Sequence[str] = OZON_NETWORKS) -> None:
    """Check only the source address of an Ozon push (before its body is parsed).

    Pass the address API Gateway saw (``requestContext`` source IP), never an
    ``X-Forwarded-For`` value; it must lie in ``allowed_networks``.
    """
    address = _source_address(source_ip)
    if not any(address in network for network in _networks(tuple(_sequence(allowed_networks, "networks")))):
        raise SignatureError("source_not_allowed", str(address))


def verify_ozon(
    source_ip: str,
    body: Mapping[str, object],
    *,
    allowed_networks: Sequence[str] = OZON_NETWORKS,
    seller_ids: Collection[str | int],
) -> str | None:
    """Check an Ozon push; return its seller id (``None`` for TYPE_PING).

    Ozon does not sign pushes, so authenticity rests on the TCP source
    address: pass the address API Gateway saw (``requestContext`` source IP),
    never an ``X-Forwarded-For`` value. It must lie in ``allowed_networks``
    and, except for ``TYPE_PING``, ``body["seller_id"]`` (int or digit
    string) must be one of ``seller_ids``.
    """
    verify_ozon_source(source_ip, allowed_networks)
    known = {_seller_key(seller) for seller in _sequence(seller_ids, "seller_ids")}
    if None in known:
        raise ValueError("seller_ids must be non-negative ints or digit strings")
    if not isinstance(body, Mapping):
        raise SignatureError("malformed_body")
    if body.get("message_type") == "TYPE_PING":
        return None
    if "seller_id" not in body:
        raise SignatureError("missing_seller_id")
    seller = _seller_key(body["seller_id"])
    if seller is None:
        raise SignatureError("malformed_seller_id")
    if seller not in known:
        raise SignatureError("unknown_seller", seller)
    return seller
