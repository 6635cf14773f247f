"""A fake of EasyPost's Shipments API, as far as return labels go (:mod:`backout.adapters.easypost`).

Authentication: HTTP Basic, the API key as the user name and no password (EasyPost's examples use
``-u "EASYPOST_API_KEY":``); anything else answers 401.

* ``POST /v2/shipments`` ``{shipment: {to_address, from_address, parcel, is_return, reference}}``
  -> 201 a Shipment ``{id: "shp_...", object: "Shipment", mode: "test", is_return, reference,
  to_address, from_address, parcel, rates: [...], selected_rate: null, postage_label: null,
  tracking_code: null, status: "unknown"}``. With ``is_return: true`` the addresses are swapped, as
  EasyPost's return guide says: "set the is_return parameter to true, leave the addresses the same as
  the initial Shipment's creation request and we switch the to_address and from_address for the
  return Shipment" (https://docs.easypost.com/docs/shipments/returns). A missing ``shipment``,
  address or parcel answers 422 ``PARAMETER.REQUIRED`` "Missing required parameter." with
  ``errors: [{field, message: "cannot be blank"}]`` (the shape EasyPost answers; error object
  ``{code, message, errors}``, https://docs.easypost.com/docs/errors).
* ``POST /v2/shipments/{id}/buy`` ``{rate: {id}}`` -> 200 the Shipment with ``selected_rate``,
  ``postage_label {label_url, label_file_type}`` and ``tracking_code``; ledger op ``label_bought``.
* ``GET /v2/shipments/{id}`` -> the Shipment.

Not confirmed in EasyPost's documents, so the fake's own: the code for buying a shipment that is
already bought (422 ``SHIPMENT.POSTAGE.EXISTS``), for an unknown rate (422 ``SHIPMENT.RATE.INVALID``),
for an unknown shipment (404 ``NOT_FOUND``) and for a bad key (401 ``APIKEY.INACTIVE``); the rates
offered (two fixed USPS rates, :attr:`FakeEasyPost.rates`); tracking codes and label URLs. Trackers
and their ``tracker.updated`` webhooks are not served here (the carrier webhook route receives them).
"""

from __future__ import annotations

import base64
import itertools
import re
import secrets
from typing import Any

from backout_dev.fakes._base import FakeServer, Request, Response

_ids = itertools.count(1)


def _error(status: int, code: str, message: str, errors: list[Any] | None = None) -> Response:
    return Response(status, {"error": {"code": code, "message": message, "errors": errors or []}})


class FakeEasyPost(FakeServer):
    """Stateful return shipments."""

    def __init__(self, api_key: str) -> None:
        super().__init__()
        self.api_key = api_key
        self.shipments: dict[str, dict[str, Any]] = {}
        self.rates = [("USPS", "GroundAdvantage", "7.58"), ("USPS", "Priority", "9.40")]

    def fault_body(self, status: int) -> Any:
        return {"error": {"code": "RATE_LIMITED" if status == 429 else "INTERNAL_SERVER_ERROR",
                          "message": "injected fault", "errors": []}}

    def handle(self, req: Request) -> Response:
        expected = "Basic " + base64.b64encode(f"{self.api_key}:".encode()).decode()
        if req.header("Authorization") != expected:
            return _error(401, "APIKEY.INACTIVE", "The API key is missing or invalid.")
        body = req.body if isinstance(req.body, dict) else {}
        if req.method == "POST" and req.path == "/v2/shipments":
            return self._create(body)
        match = re.fullmatch(r"/v2/shipments/([\w-]+)(/buy)?", req.path)
        shipment = self.shipments.get(match.group(1)) if match else None
        if match is None or shipment is None:
            return _error(404, "NOT_FOUND", "The requested resource could not be found.")
        if req.method == "GET" and not match.group(2):
            return Response(200, shipment)
        if req.method == "POST" and match.group(2):
            return self._buy(shipment, body)
        return _error(405, "METHOD_NOT_ALLOWED", "Method not allowed.")

    def _create(self, body: dict[str, Any]) -> Response:
        given = body.get("shipment")
        if not isinstance(given, dict):
            return _error(422, "PARAMETER.REQUIRED", "Missing required parameter.",
                          [{"field": "shipment", "message": "cannot be blank"}])
        missing = [f for f in ("to_address", "from_address", "parcel") if not isinstance(given.get(f), dict)]
        if missing:
            return _error(422, "PARAMETER.REQUIRED", "Missing required parameter.",
                          [{"field": f, "message": "cannot be blank"} for f in missing])
        is_return = bool(given.get("is_return"))
        to_address, from_address = given["to_address"], given["from_address"]
        if is_return:
            to_address, from_address = from_address, to_address
        sid = f"shp_{secrets.token_hex(16)}"
        rates = [{"id": f"rate_{secrets.token_hex(16)}", "object": "Rate", "shipment_id": sid, "carrier": carrier,
                  "service": service, "rate": rate, "currency": "USD"} for carrier, service, rate in self.rates]
        with self.lock:
            self.shipments[sid] = {"id": sid, "object": "Shipment", "mode": "test", "is_return": is_return,
                                   "reference": given.get("reference"), "to_address": to_address,
                                   "from_address": from_address, "parcel": given["parcel"], "rates": rates,
                                   "selected_rate": None, "postage_label": None, "tracking_code": None,
                                   "status": "unknown"}
        self.record("shipment_created", shipment_id=sid, is_return=is_return, reference=given.get("reference"))
        return Response(201, self.shipments[sid])

    def _buy(self, shipment: dict[str, Any], body: dict[str, Any]) -> Response:
        if shipment["postage_label"]:
            return _error(422, "SHIPMENT.POSTAGE.EXISTS", "The shipment has already been purchased.")
        rate_id = (body.get("rate") or {}).get("id")
        rate = next((r for r in shipment["rates"] if r["id"] == rate_id), None)
        if rate is None:
            return _error(422, "SHIPMENT.RATE.INVALID", "The rate is not one of this shipment's rates.")
        number = next(_ids)
        shipment.update(selected_rate=rate, tracking_code=f"9400100000000000{number:06d}", status="pre_transit",
                        postage_label={"object": "PostageLabel", "label_file_type": "image/png",
                                       "label_url": f"https://easypost-files.example.invalid/label-{number}.png"})
        self.record("label_bought", shipment_id=shipment["id"], rate_id=rate_id, amount=rate["rate"],
                    currency=rate["currency"], tracking_code=shipment["tracking_code"])
        return Response(200, shipment)
