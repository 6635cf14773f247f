"""A generic carrier API for rule 2 (shipped orders): intercept, else a return label.

Modelled on DHL-style intercept and returns APIs; the local fake
(``backout_dev.fakes.carrier``) keeps this contract, and an adapter for a
real carrier maps its API onto the same calls.

Contract (JSON, header ``X-Api-Key``; 401 on a wrong key):

* ``POST /v1/intercepts`` body ``{tracking_number, action:
  "return_to_sender"}``, header ``Idempotency-Key`` (required) -> 201
  ``{intercept_id, tracking_number, status: "requested", cost: {amount:
  "15.00", currency: "USD"}, created_at}``. The cost is charged when the
  intercept is requested, whatever its outcome.
* ``GET /v1/intercepts/{intercept_id}`` -> the same object; ``status`` moves
  from ``requested`` to ``returned_to_sender`` (the intercept worked: the
  parcel comes back) or ``delivered`` (too late: it becomes a return).
* ``GET /v1/intercepts?tracking_number=...`` -> ``{intercepts: [...]}``.
* ``POST /v1/return-labels`` body ``{order_id}``, header ``Idempotency-Key``
  -> 201 ``{label_id, order_id, tracking_number, url}`` (a prepaid label).
* Errors ``{error: {code, message}}``: 400 ``IDEMPOTENCY_KEY_MISSING``, 404
  ``TRACKING_NOT_FOUND`` / ``INTERCEPT_NOT_FOUND``, 422 ``ALREADY_DELIVERED``,
  ``INTERCEPT_ALREADY_REQUESTED``, ``IDEMPOTENCY_KEY_REUSED`` (same key,
  other body). 429/5xx are retryable.
* The same ``Idempotency-Key`` and body replay the first answer (no second
  intercept, label or charge).

Client behaviour: 429/5xx/network -> TransientError; other 4xx ->
PlatformRejected, except that a refused intercept request is followed by a
read of the parcel's intercepts: an existing live one (requested or
returned_to_sender) is returned instead, so a retry with a new key does not
fail on the intercept it already made. Costs are returned in minor units
(:func:`backout.money.to_minor`).
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from typing import Any, Literal

from backout.adapters.http import request_json
from backout.errors import PlatformRejected
from backout.money import to_minor

InterceptStatus = Literal["requested", "returned_to_sender", "delivered"]
FINAL: frozenset[str] = frozenset({"returned_to_sender", "delivered"})
LIVE: frozenset[str] = frozenset({"requested", "returned_to_sender"})


@dataclass(frozen=True)
class Intercept:
    """An intercept request and where it stands."""

    intercept_id: str
    tracking_number: str
    status: str
    cost: int  # minor units
    currency: str

    @property
    def decided(self) -> bool:
        """Whether the carrier has settled the outcome."""
        return self.status in FINAL

    @property
    def succeeded(self) -> bool:
        """The parcel is on its way back to the seller."""
        return self.status == "returned_to_sender"


@dataclass(frozen=True)
class ReturnLabel:
    """A prepaid return label."""

    label_id: str
    order_id: str
    tracking_number: str
    url: str


def _intercept(data: dict[str, Any]) -> Intercept:
    cost = data.get("cost") or {}
    currency = str(cost.get("currency") or "USD").upper()
    return Intercept(str(data["intercept_id"]), str(data["tracking_number"]), str(data["status"]),
                     to_minor(str(cost.get("amount") or "0"), currency), currency)


class CarrierClient:
    """One carrier account."""

    def __init__(self, base_url: str, api_key: str, timeout: float = 8.0) -> None:
        self.base = base_url.rstrip("/")
        self.headers = {"X-Api-Key": api_key}
        self.timeout = timeout

    def _call(self, method: str, path: str, body: Any = None, key: str | None = None) -> dict[str, Any]:
        headers = {**self.headers, **({"Idempotency-Key": key} if key else {})}
        return dict(request_json(method, self.base + path, headers=headers, body=body, timeout=self.timeout) or {})

    def request_intercept(self, tracking_number: str, idempotency_key: str) -> Intercept:
        """Ask the carrier to send the parcel back; returns the (possibly existing) intercept."""
        try:
            data = self._call("POST", "/v1/intercepts", {"tracking_number": tracking_number,
                                                         "action": "return_to_sender"}, idempotency_key)
        except PlatformRejected:
            live = [i for i in self.list_intercepts(tracking_number) if i.status in LIVE]
            if live:
                return live[0]
            raise
        return _intercept(data)

    def get_intercept(self, intercept_id: str) -> Intercept:
        """An intercept's current status."""
        return _intercept(self._call("GET", f"/v1/intercepts/{urllib.parse.quote(intercept_id, safe='')}"))

    def list_intercepts(self, tracking_number: str) -> list[Intercept]:
        """Every intercept requested for a parcel."""
        query = urllib.parse.urlencode({"tracking_number": tracking_number})
        return [_intercept(i) for i in self._call("GET", f"/v1/intercepts?{query}").get("intercepts") or []]

    def create_return_label(self, order_id: str, idempotency_key: str) -> ReturnLabel:
        """A prepaid return label for the order (one per key)."""
        data = self._call("POST", "/v1/return-labels", {"order_id": order_id}, idempotency_key)
        return ReturnLabel(str(data["label_id"]), str(data["order_id"]), str(data["tracking_number"]),
                           str(data["url"]))
