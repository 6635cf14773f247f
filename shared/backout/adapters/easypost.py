"""EasyPost Shipments API: a prepaid return label for a shipped order.

EasyPost's return guide (https://docs.easypost.com/docs/shipments/returns): "All you need to do is set
the is_return parameter to true, leave the addresses the same as the initial Shipment's creation request
and we switch the to_address and from_address for the return Shipment."

* ``POST /v2/shipments`` body ``{shipment: {is_return: true, to_address, from_address, parcel,
  reference}}`` -> a Shipment ``{id: "shp_...", object: "Shipment", is_return, reference, rates: [{id:
  "rate_...", carrier, service, rate: "7.58", currency}], postage_label: null, tracking_code: null}``.
  Creating a shipment buys nothing.
* ``POST /v2/shipments/{id}/buy`` body ``{rate: {id}}`` -> the Shipment with ``selected_rate``,
  ``postage_label {label_url}`` and ``tracking_code``: this is the purchase.
* ``GET /v2/shipments/{id}`` -> the Shipment as it stands.

Authentication is HTTP Basic with the API key as the user name and no password (``-u
"EASYPOST_API_KEY":`` in EasyPost's examples). Errors are ``{error: {code, message, errors: [...]}}``;
HTTP 429/5xx raise TransientError, other 4xx PlatformRejected.

EasyPost documents no idempotency key. The label is bought in two recorded steps: the shipment is
created (free) and its id kept by the caller; :meth:`EasyPostClient.buy_return_label` reads that
shipment first and buys only when it has no ``postage_label`` yet, so a retry after a lost answer
finds the label instead of buying a second one. Only a crash between creating a shipment and keeping
its id makes an extra (unbought, free) shipment.
"""

from __future__ import annotations

import base64
import urllib.parse
from dataclasses import dataclass
from typing import Any

from backout.adapters.http import request_json
from backout.errors import PlatformRejected
from backout.money import to_minor


@dataclass(frozen=True)
class ReturnLabel:
    """A bought return label."""

    shipment_id: str
    tracking_code: str
    label_url: str
    carrier: str
    cost: int  # minor units
    currency: str


def _label(shipment: dict[str, Any]) -> ReturnLabel:
    rate = shipment.get("selected_rate") or {}
    currency = str(rate.get("currency") or "USD").upper()
    return ReturnLabel(str(shipment["id"]), str(shipment.get("tracking_code") or ""),
                       str((shipment.get("postage_label") or {}).get("label_url") or ""),
                       str(rate.get("carrier") or ""), to_minor(str(rate.get("rate") or "0"), currency), currency)


class EasyPostClient:
    """One EasyPost account."""

    def __init__(self, base_url: str, api_key: str, timeout: float = 8.0) -> None:
        self.base = base_url.rstrip("/")
        token = base64.b64encode(f"{api_key}:".encode()).decode()
        self.headers = {"Authorization": f"Basic {token}"}
        self.timeout = timeout

    def _call(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        return dict(request_json(method, self.base + path, headers=self.headers, body=body,
                                 timeout=self.timeout) or {})

    def create_return_shipment(self, reference: str, to_address: dict[str, Any], from_address: dict[str, Any],
                               parcel: dict[str, Any]) -> str:
        """A return shipment for the original shipment's addresses (EasyPost swaps them); returns its id."""
        shipment = self._call("POST", "/v2/shipments", {"shipment": {
            "is_return": True, "to_address": to_address, "from_address": from_address, "parcel": parcel,
            "reference": reference}})
        if not shipment.get("is_return"):
            raise PlatformRejected(f"easypost: shipment {shipment.get('id')} is not a return")
        return str(shipment["id"])

    def get_shipment(self, shipment_id: str) -> dict[str, Any]:
        """The shipment as it stands."""
        return self._call("GET", f"/v2/shipments/{urllib.parse.quote(shipment_id, safe='')}")

    def buy_return_label(self, shipment_id: str) -> ReturnLabel:
        """Buy the cheapest rate of the shipment, unless it is bought already (then its label is returned)."""
        shipment = self.get_shipment(shipment_id)
        if shipment.get("postage_label"):
            return _label(shipment)
        rates = shipment.get("rates") or []
        if not rates:
            raise PlatformRejected(f"easypost: shipment {shipment_id} has no rates")
        cheapest = min(rates, key=lambda r: to_minor(str(r["rate"]), str(r.get("currency") or "USD").upper()))
        path = f"/v2/shipments/{urllib.parse.quote(shipment_id, safe='')}/buy"
        try:
            bought = self._call("POST", path, {"rate": {"id": cheapest["id"]}})
        except PlatformRejected:
            again = self.get_shipment(shipment_id)  # bought by an earlier attempt whose answer was lost
            if again.get("postage_label"):
                return _label(again)
            raise
        return _label(bought)
