"""The operator routes over HTTP, SigV4-signed: everything LocalTarget and StackTarget share.

Each OperatorTarget method is one call to its route (ROUTES contract, /work/wt/ROUTES.md, and
the template's AWS_IAM routes), signed with botocore's SigV4 signer (backout_dev.sigv4).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from botocore.credentials import Credentials

from backout_dev import sigv4
from backout_dev.targets.base import DecisionRefused, TargetError


class SignedOperatorApi:
    """OperatorTarget over the operator routes at ``url``, signed for ``region`` with ``credentials``."""

    name = "api"

    def __init__(self, url: str, credentials: Credentials, region: str) -> None:
        self.url = url.rstrip("/")
        self.credentials = credentials
        self.region = region

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None, timeout: float = 30) -> Any:
        url, data = self.url + path, json.dumps(body).encode() if body is not None else b""
        headers = sigv4.sign(method, url, data, self.credentials, self.region, {"content-type": "application/json"})
        req = urllib.request.Request(url, data=data or None, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - the stack's own API URL
                return json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as exc:
            raw = exc.read().decode("utf-8", "replace")
            try:
                reason = str(json.loads(raw).get("message") or raw)
            except (ValueError, AttributeError):
                reason = raw
            raise (DecisionRefused if 400 <= exc.code < 500 else TargetError)(exc.code, reason) from exc
        except urllib.error.URLError as exc:
            raise TargetError(0, f"{self.url} unreachable: {exc.reason}") from exc

    def holds(self) -> list[dict[str, Any]]:
        """See OperatorTarget.holds."""
        return list(self._call("GET", "/operator/holds")["holds"])

    def order(self, order_id: str) -> dict[str, Any]:
        """See OperatorTarget.order."""
        return dict(self._call("GET", f"/operator/orders/{quote(order_id, safe=':')}/timeline"))

    def decide(self, order_id: str, verb: str, note: str) -> dict[str, Any]:
        """See OperatorTarget.decide."""
        if verb not in ("approve", "reject"):
            raise DecisionRefused(400, f"verb must be approve or reject, not {verb!r}")
        return dict(self._call("POST", f"/operator/orders/{quote(order_id, safe=':')}/decision",
                               {"decision": verb, "note": note}))

    def find(self, query: str) -> list[dict[str, Any]]:
        """See OperatorTarget.find."""
        return list(self._call("GET", "/operator/find?" + urlencode({"q": query}))["matches"])

    def dead_letters(self) -> list[dict[str, Any]]:
        """See OperatorTarget.dead_letters."""
        return list(self._call("GET", "/operator/dead-letters")["dead_letters"])

    def replay(self) -> dict[str, Any]:
        """See OperatorTarget.replay (``remaining``: call again, the route stops before its 30 s)."""
        return dict(self._call("POST", "/operator/dead-letters/replay", {}, timeout=60))

    def report(self) -> dict[str, Any]:
        """See OperatorTarget.report."""
        return dict(self._call("GET", "/operator/report", timeout=60))

    def chart(self, path: str) -> str:
        """See OperatorTarget.chart (drawn here from the report's trend)."""
        from backout_dev.report import write_trend_chart

        return str(write_trend_chart(self.report(), Path(path)))

    def audit(self) -> dict[str, Any]:
        """See OperatorTarget.audit."""
        return dict(self._call("POST", "/operator/audit", {}, timeout=60))
