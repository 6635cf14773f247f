"""The local stack as an OperatorTarget: a running `backout serve` (its URL in .backout/endpoint).

Operator requests are SigV4-signed with the local stack's credentials (backout_dev.sigv4), as a
deployed stack requires. Work in progress (issue 15 item 1): holds, find and dead_letters wait for
their server-side routes (GET /operator/holds, /operator/find, /operator/dead-letters) and raise
TargetError(501) until then; report, replay and audit use the dev-only /_local/ops routes.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import quote

from botocore.credentials import Credentials

from backout_dev import sigv4
from backout_dev.targets.base import DecisionRefused, TargetError


class LocalTarget:
    """OperatorTarget for the local stack."""

    name = "local"

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    @classmethod
    def open(cls, url: str | None = None) -> "LocalTarget":
        """The stack at ``url``, else the running `backout serve`."""
        from backout_dev.env import ENDPOINT_FILE

        if url:
            return cls(url)
        if not ENDPOINT_FILE.exists():
            raise TargetError(0, "no running `backout serve` found; start one or pass --url")
        return cls(ENDPOINT_FILE.read_text().strip())

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None, timeout: float = 30) -> Any:
        from backout_dev.stack import LOCAL_ENV, REGION

        url, data = self.url + path, json.dumps(body).encode() if body is not None else b""
        creds = Credentials(LOCAL_ENV["AWS_ACCESS_KEY_ID"], LOCAL_ENV["AWS_SECRET_ACCESS_KEY"])
        headers = sigv4.sign(method, url, data, creds, REGION, {"content-type": "application/json"})
        req = urllib.request.Request(url, data=data or None, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - loopback
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

    def order(self, order_id: str) -> dict[str, Any]:
        """See OperatorTarget.order."""
        return dict(self._call("GET", f"/operator/orders/{quote(order_id, safe=':')}/timeline"))

    def decide(self, order_id: str, verb: str, note: str) -> dict[str, Any]:
        """See OperatorTarget.decide."""
        if verb not in ("approve", "reject"):
            raise DecisionRefused(400, f"verb must be approve or reject, not {verb!r}")
        return dict(self._call("POST", f"/operator/orders/{quote(order_id, safe=':')}/decision",
                               {"decision": verb, "note": note}))

    def _pending(self, what: str) -> Any:
        raise TargetError(501, f"{what} is not served yet (issue 15 item 1: its operator route is to come)")

    def holds(self) -> list[dict[str, Any]]:
        """See OperatorTarget.holds (not served yet)."""
        return self._pending("holds")

    def find(self, query: str) -> list[dict[str, Any]]:
        """See OperatorTarget.find (not served yet)."""
        return self._pending("find")

    def dead_letters(self) -> list[dict[str, Any]]:
        """See OperatorTarget.dead_letters (not served yet)."""
        return self._pending("dead_letters")

    def replay(self) -> dict[str, Any]:
        """See OperatorTarget.replay."""
        data = dict(self._call("GET", "/_local/ops/replay", timeout=120))
        queues = data.get("queues", [])
        return data | {"replayed": sum(q["redriven"] for q in queues),
                       "skipped": sum(len(q["failures"]) for q in queues)}

    def _counts(self) -> list[Any]:
        from backout_dev.report import counts_from_json

        return counts_from_json(self._call("GET", "/_local/ops/counts", timeout=120)["counts"])

    def report(self) -> dict[str, Any]:
        """See OperatorTarget.report (the rates and the weekly check; trend points to come)."""
        from dataclasses import asdict

        from backout.ops import rates
        from backout.ops.counters import today

        counts, end = self._counts(), today()
        week = asdict(rates.weekly_check(counts, end))
        return {"end": end.isoformat(),
                "rates": [{"guardrail": r.guardrail.name, "window_days": r.guardrail.window_days,
                           "cancelled": r.cancelled, "placed": r.placed, "percent": r.percent,
                           "threshold_percent": r.guardrail.threshold_percent, "breached": r.breached}
                          for r in rates.all_rates(counts, end)],
                "week": json.loads(json.dumps(week, default=str))}

    def chart(self, path: str) -> str:
        """See OperatorTarget.chart."""
        from backout.ops.counters import today
        from backout_dev.report import write_chart

        return str(write_chart(self._counts(), today(), Path(path)))

    def audit(self) -> dict[str, Any]:
        """See OperatorTarget.audit."""
        return dict(self._call("GET", "/_local/ops/audit", timeout=120))
