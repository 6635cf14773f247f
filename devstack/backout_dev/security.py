"""`backout security`: throw forged, malformed and fuzzed requests at every webhook route.

Categories (each counted: tried, accepted wrongly, 5xx, unhandled exceptions):

* per provider: a genuine delivery (must be accepted, or the suite proves
  nothing), a replay of it (must be a duplicate that writes nothing), forged
  (wrong secret), tampered (body changed after signing), unsigned, stale and
  future timestamps (providers that sign a time), rotated secrets (old and new
  accepted during a rotation, a third refused);
* bodies: oversized, truncated, not UTF-8, deeply nested, wrong content type
  (each validly signed, so only the body is wrong);
* headers: CR/LF and NUL in the signature header, an oversized header;
* routes: unknown providers and path tricks (``/webhooks/../operator``,
  double slashes, encoded dots and slashes, case, trailing segments);
* fuzz: N random requests (random route, bytes or JSON, random auth headers).

Requests go straight into the in-process API (the event the local HTTP API
builds, through the same Lambda hooks); route tricks also go through the local
HTTP API over a socket. At the end the inbox must hold exactly the genuine
deliveries: nothing else was written.
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import secrets as rnd
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from backout_dev.template import ROOT

#: Sample each provider's cases start from.
SAMPLES = {
    "stripe": "stripe/refund.updated", "paypal": "paypal/PAYMENT.CAPTURE.REFUNDED", "shopify": "shopify/refunds-create",
    "woocommerce": "woocommerce/order.created", "ozon": "ozon/TYPE_POSTING_CANCELLED",
    "tiktok": "tiktok/cancellation_status_change.pending", "aftership": "aftership/tracking_update.Delivered",
    "easypost": "easypost/tracker.updated.return_to_sender", "standard": "standard/order.cancel_requested",
}
#: Providers whose signature covers a timestamp (replay window).
TIMESTAMPED = ("stripe", "paypal", "standard")
#: The header that authenticates a delivery (Ozon: the dev-only source address header).
AUTH_HEADER = {
    "stripe": "stripe-signature", "paypal": "paypal-transmission-sig", "shopify": "x-shopify-hmac-sha256",
    "woocommerce": "x-wc-webhook-signature", "tiktok": "authorization", "aftership": "aftership-hmac-sha256",
    "easypost": "x-hmac-signature", "standard": "webhook-signature", "ozon": "x-backout-local-source-ip",
}
ROUTE_TRICKS = [
    "/webhooks/unknown", "/webhooks/", "/webhooks", "/webhooks/../operator/orders/x/decision",
    "/webhooks/%2e%2e/operator/orders/x/decision", "//webhooks//stripe", "/webhooks/stripe/", "/webhooks/stripe/extra",
    "/webhooks/STRIPE", "/webhooks/stripe%00", "/webhooks/%73tripe", "/webhooks/stripe%2f..%2foperator",
    "/webhooks/stripe;x=1", "/webhooks/__proto__", "/webhooks/" + "a" * 300,
]


@dataclass
class Tally:
    """Counts of one category."""

    tried: int = 0
    accepted_wrongly: int = 0
    server_errors: int = 0
    unhandled: int = 0
    refused_genuine: int = 0
    notes: list[str] = field(default_factory=list)


@dataclass
class SecurityReport:
    """Per-category tallies and the inbox check."""

    tallies: dict[str, Tally] = field(default_factory=dict)
    inbox_written_wrongly: int = 0
    seconds: float = 0.0

    def tally(self, category: str) -> Tally:
        """The tally of ``category`` (created on first use)."""
        return self.tallies.setdefault(category, Tally())

    def total(self, attr: str) -> int:
        """Sum of one counter over every category."""
        return sum(int(getattr(t, attr)) for t in self.tallies.values())

    @property
    def ok(self) -> bool:
        """0 accepted wrongly, 0 5xx, 0 unhandled, every genuine delivery accepted, nothing written wrongly."""
        return not any(self.total(a) for a in ("accepted_wrongly", "server_errors", "unhandled", "refused_genuine")) \
            and self.inbox_written_wrongly == 0

    def table(self) -> str:
        """The summary table."""
        head = f"{'category':<34}{'tried':>7}{'accepted wrongly':>18}{'5xx':>6}{'unhandled':>11}{'genuine refused':>17}"
        rows = [head, "-" * len(head)]
        for name, t in sorted(self.tallies.items()):
            rows.append(f"{name:<34}{t.tried:>7}{t.accepted_wrongly:>18}{t.server_errors:>6}{t.unhandled:>11}"
                        f"{t.refused_genuine:>17}")
        rows.append("-" * len(head))
        rows.append(f"{'total':<34}{self.total('tried'):>7}{self.total('accepted_wrongly'):>18}"
                    f"{self.total('server_errors'):>6}{self.total('unhandled'):>11}{self.total('refused_genuine'):>17}")
        rows.append(f"inbox items written by refused requests: {self.inbox_written_wrongly}")
        rows.append(f"wall time: {self.seconds:.1f} s")
        rows += [f"  ! {name}: {note}" for name, t in sorted(self.tallies.items()) for note in t.notes[:5]]
        return "\n".join(rows)


class Suite:
    """Runs every category against a running local environment."""

    def __init__(self, env: Any, seed: int = 5) -> None:
        from backout_dev.sender import load_sample

        self.env, self.stack, self.api = env, env.stack, env.api
        self.rng = random.Random(seed)
        self.samples = {p: load_sample(ROOT / "events" / f"{name}.json") for p, name in SAMPLES.items()}
        self.report = SecurityReport()
        self.genuine_keys = 0

    # ------------------------------------------------------------ transport
    def invoke(self, path: str, raw: bytes, headers: dict[str, str], source_ip: str = "127.0.0.1") -> tuple[int, Any]:
        """Hand the request to the function its route names (status, answer); (404, None) when no route matches.

        Raises on a function error (the Lambda runtime would answer 502/500).
        """
        for method, pattern, route, function in self.api.routes:
            m = pattern.match(path)
            if m and method == "POST":
                event = self.api.to_event("POST", path, "", {k.lower(): v for k, v in headers.items()}, raw, route,
                                          m.groupdict(), source_ip)
                payload, errored, _ = self.stack.lambdas.invoke(function, self.stack.attrs[(function, "Arn")], event)
                if errored:
                    raise RuntimeError(f"function error: {payload[:200]}")
                data = json.loads(payload)
                return int(data.get("statusCode", 200)), data.get("body")
        return 404, None

    def http(self, path: str, raw: bytes, headers: dict[str, str]) -> tuple[int, Any]:
        """POST over the local HTTP API's socket (path sent as is)."""
        req = urllib.request.Request(self.env.url + path, data=raw, method="POST", headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 - loopback
                return int(resp.status), resp.read()
        except urllib.error.HTTPError as exc:
            return int(exc.code), exc.read()

    def expect(self, category: str, send: Callable[[], tuple[int, Any]], *, genuine: bool = False,
               allowed_2xx: Callable[[Any], bool] | None = None) -> tuple[int, Any]:
        """Send one request and count what its answer means."""
        t = self.report.tally(category)
        t.tried += 1
        try:
            status, answer = send()
        except Exception as exc:  # noqa: BLE001 - counted, never raised: the suite reports every one
            t.unhandled += 1
            t.notes.append(f"{type(exc).__name__}: {str(exc)[:120]}")
            return 599, None
        if status >= 500:
            t.server_errors += 1
            t.notes.append(f"HTTP {status} {str(answer)[:120]}")
        elif genuine and status >= 300:
            t.refused_genuine += 1
            t.notes.append(f"genuine refused: HTTP {status} {str(answer)[:120]}")
        elif not genuine and 200 <= status < 300 and not (allowed_2xx and allowed_2xx(answer)):
            t.accepted_wrongly += 1
            t.notes.append(f"accepted: HTTP {status} {str(answer)[:120]}")
        return status, answer

    # ------------------------------------------------------------ deliveries
    def delivery(self, provider: str, *, secrets: dict[str, Any] | None = None, now: float | None = None
                 ) -> tuple[dict[str, Any], bytes, dict[str, str]]:
        """A fresh (never seen) signed delivery of the provider's sample: (sample, raw body, headers)."""
        from backout_dev.sender import sign

        sample = self.samples[provider]
        body = json.loads(sample["body"])
        headers = {k: v for k, v in sample["headers"].items() if k not in ("content-length", "host")}
        _unique(provider, body, headers)
        raw = json.dumps(body, separators=(",", ":")).encode()
        source = sample["requestContext"]["http"]["sourceIp"]
        signed = sign(provider, raw, headers, secrets or self.env.secrets, now=now, source_ip=source)
        return sample, raw, signed

    def send(self, provider: str, raw: bytes, headers: dict[str, str]) -> tuple[int, Any]:
        """Through the in-process API, with the Ozon source-address header honoured as the local API does."""
        from backout_dev.http_api import local_source_ip

        headers = {k.lower(): v for k, v in headers.items()}
        try:
            source = local_source_ip("127.0.0.1", headers)
        except ValueError:  # what the local HTTP API answers to a malformed dev-only source header
            return 400, '{"message":"invalid x-backout-local-source-ip"}'
        return self.invoke(f"/webhooks/{provider}", raw, headers, source)

    # ------------------------------------------------------------ categories
    def providers(self) -> None:
        """Genuine, replayed, forged, tampered, unsigned, stale, future, per provider."""
        wrong = _wrong_secrets(self.env.secrets)
        for provider in SAMPLES:
            _, raw, headers = self.delivery(provider)
            self.expect("genuine", lambda: self.send(provider, raw, headers), genuine=True)
            self.genuine_keys += 1
            self.expect("replayed", lambda: self.send(provider, raw, headers),
                        allowed_2xx=lambda a: _duplicate(a))
            if provider != "ozon":
                _, raw, headers = self.delivery(provider, secrets=wrong)
                self.expect("forged (wrong secret)", lambda: self.send(provider, raw, headers))
            else:
                _, raw, headers = self.delivery(provider)
                outside = dict(headers, **{AUTH_HEADER["ozon"]: "198.51.100.7"})
                self.expect("forged (wrong secret)", lambda: self.send(provider, raw, outside))
            _, raw, headers = self.delivery(provider)
            self.expect("tampered", lambda: self.send(provider, _tamper(provider, raw), headers))
            unsigned = {k: v for k, v in headers.items() if k != AUTH_HEADER[provider]}
            self.expect("unsigned", lambda: self.send(provider, raw, unsigned))
            if provider in TIMESTAMPED:
                for name, shift in (("stale timestamp", -3600), ("future timestamp", 3600)):
                    _, raw, headers = self.delivery(provider, now=time.time() + shift)
                    self.expect(name, lambda: self.send(provider, raw, headers))

    def rotation(self) -> None:
        """During a rotation the old and the new secret are both accepted; a third is not."""
        from backout import credentials

        sm, secret_id = self.stack.client("secretsmanager"), self.stack.refs["WebhookSecrets"]
        original = self.env.secrets["webhooks"]
        new, third = _wrong_secrets(self.env.secrets), _wrong_secrets(self.env.secrets)
        rotated = copy.deepcopy(original)
        for provider in SAMPLES:
            if provider == "paypal":
                rotated[provider]["webhook_ids"] = new["webhooks"]["paypal"]["webhook_ids"] + original[provider]["webhook_ids"]
            elif provider != "ozon":
                rotated[provider] = new["webhooks"][provider] + original[provider]
        sm.put_secret_value(SecretId=secret_id, SecretString=json.dumps(rotated))
        credentials.clear_cache()
        try:
            for provider in (p for p in SAMPLES if p != "ozon"):
                for name, secrets in (("rotated: old secret", self.env.secrets), ("rotated: new secret", new)):
                    _, raw, headers = self.delivery(provider, secrets=secrets)
                    self.expect(name, lambda: self.send(provider, raw, headers), genuine=True)
                    self.genuine_keys += 1
                _, raw, headers = self.delivery(provider, secrets=third)
                self.expect("rotated: unrelated secret", lambda: self.send(provider, raw, headers))
        finally:
            sm.put_secret_value(SecretId=secret_id, SecretString=json.dumps(original))
            credentials.clear_cache()

    def bodies(self) -> None:
        """Validly signed, badly formed bodies: too big, cut off, not UTF-8, deeply nested, not JSON-typed."""
        from backout_dev.sender import sign

        limit = int(self.stack.parameters.get("MaxWebhookBodyBytes", 262144))
        for provider in SAMPLES:
            sample, raw, headers = self.delivery(provider)
            source = sample["requestContext"]["http"]["sourceIp"]
            cases = {
                "body: oversized": raw[:-1] + b',"pad":"' + b"x" * limit + b'"}',
                "body: truncated": raw[: len(raw) // 2],
                "body: not UTF-8": raw[:-1] + b',"bad":"\xff\xfe\xc3\x28"}',
                "body: deeply nested": b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
                "body: empty": b"",
                "body: JSON array": b"[" + raw + b"]",
            }
            base = {k: v for k, v in sample["headers"].items() if k not in ("content-length", "host")}
            for name, body in cases.items():
                signed = sign(provider, body, base, self.env.secrets, source_ip=source)
                self.expect(name, lambda: self.send(provider, body, signed))
            plain = dict(headers, **{"content-type": "text/plain"})
            self.expect("body: wrong content-type", lambda: self.send(provider, raw, plain))
            form = dict(headers, **{"content-type": "application/x-www-form-urlencoded"})
            self.expect("body: wrong content-type", lambda: self.send(provider, raw, form))

    def headers(self) -> None:
        """CR/LF, NUL and oversized values in the authenticating header; duplicated signatures."""
        for provider in SAMPLES:
            _, raw, headers = self.delivery(provider)
            auth = AUTH_HEADER[provider]
            value = headers.get(auth, "")
            for name, bad in (("header: CRLF injection", value + "\r\nx-injected: 1"), ("header: NUL byte", value + "\x00"),
                              ("header: oversized", value + "A" * 70_000), ("header: doubled", f"{value},{value}x")):
                tampered = dict(headers, **{auth: bad})
                self.expect(name, lambda: self.send(provider, _tamper(provider, raw), tampered))
            injected = dict(headers, **{"x-wc-webhook-topic": "order.updated\r\nx-a: b", "host": "evil.example\r\n"})
            self.expect("header: CRLF injection", lambda: self.send(provider, _tamper(provider, raw), injected))

    def routes(self) -> None:
        """Unknown providers and path tricks, in-process and over the socket."""
        _, raw, headers = self.delivery("stripe")
        for path in ROUTE_TRICKS:
            self.expect("route: path tricks (in-process)", lambda: self.invoke(path, raw, headers))
            self.expect("route: path tricks (HTTP)", lambda: self.http(path, raw, headers))
        # a validly signed Stripe delivery, on routes that do not name Stripe
        for provider in ("unknown", "operator", "Stripe", "stripe ", "stripe/..", "", "paypal\x00", "%73tripe"):
            for function in {f for _, _, _, f in self.api.routes if "Webhook" in f}:
                event = self.api.to_event("POST", f"/webhooks/{provider}", "", dict(headers), raw, "/webhooks/{provider}",
                                          {"provider": provider}, "127.0.0.1")
                self.expect("route: unknown provider", lambda: _answer(self.stack, function, event))

    def fuzz(self, n: int) -> None:
        """``n`` random requests: random route, body (bytes or JSON), headers (auth names with random values)."""
        providers = list(SAMPLES)
        for _ in range(n):
            provider = self.rng.choice(providers + ["zz"])
            body = self._random_body()
            headers = {"content-type": self.rng.choice(["application/json", "text/plain", "", "application/json; charset=utf-8"])}
            for name in self.rng.sample(sorted(set(AUTH_HEADER.values())), self.rng.randint(0, 3)):
                headers[name] = self._random_text()
            if self.rng.random() < 0.3:  # the provider's own sample headers, values kept
                headers.update({k: v for k, v in self.samples.get(provider, self.samples["stripe"])["headers"].items()
                                if k not in ("content-length", "host")})
            headers = {k: v for k, v in headers.items() if v}
            self.expect("fuzz", lambda: self.send(provider, body, headers),
                        allowed_2xx=lambda a: _unrecorded_ping(a))

    def _random_text(self) -> str:
        alphabet = "abcdefABCDEF0123456789=,.:;-_ t/+\u00e9\u4e2d"
        return "".join(self.rng.choice(alphabet) for _ in range(self.rng.randint(0, 120)))

    def _random_body(self) -> bytes:
        kind = self.rng.random()
        if kind < 0.3:
            return bytes(self.rng.randrange(256) for _ in range(self.rng.randint(0, 400)))
        if kind < 0.6:
            sample = json.loads(self.samples[self.rng.choice(list(SAMPLES))]["body"])
            return json.dumps(_mutate(sample, self.rng)).encode()
        value: Any = self.rng.choice([None, True, 0, -1, 1.5e308, "", "x" * 50, [], {}])
        for _ in range(self.rng.randint(0, 20)):
            value = self.rng.choice([[value], {"k": value}, {"id": value, "type": value}])
        return json.dumps(value).encode()

    # ------------------------------------------------------------ run
    def run(self, fuzz: int) -> SecurityReport:
        """Every category, then the inbox check."""
        started = time.monotonic()
        before = _inbox_count(self.stack)
        self.providers()
        self.rotation()
        self.bodies()
        self.headers()
        self.routes()
        self.fuzz(fuzz)
        self.stack.wait_idle(timeout=120) if hasattr(self.stack, "wait_idle") else None
        self.report.inbox_written_wrongly = _inbox_count(self.stack) - before - self.genuine_keys
        self.report.seconds = time.monotonic() - started
        return self.report


def _answer(stack: Any, function: str, event: dict[str, Any]) -> tuple[int, Any]:
    payload, errored, _ = stack.lambdas.invoke(function, stack.attrs[(function, "Arn")], event)
    if errored:
        raise RuntimeError(f"function error: {payload[:200]}")
    data = json.loads(payload)
    return int(data.get("statusCode", 200)), data.get("body")


def _inbox_count(stack: Any) -> int:
    ddb, table = stack.client("dynamodb"), stack.refs["InboxTable"]
    total, kwargs = 0, {"TableName": table, "Select": "COUNT"}
    while True:
        resp = ddb.scan(**kwargs)
        total += int(resp["Count"])
        if "LastEvaluatedKey" not in resp:
            return total
        kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]


def _loads(answer: Any) -> Any:
    try:
        return json.loads(answer) if isinstance(answer, (str, bytes)) else answer
    except ValueError:
        return None


def _duplicate(answer: Any) -> bool:
    """A replay is fine when it is answered as a duplicate (Ozon answers ``{"result": true}`` to both)."""
    data = _loads(answer)
    return isinstance(data, dict) and (data.get("duplicate") is True or data.get("result") is True)


def _unrecorded_ping(answer: Any) -> bool:
    """The documented 2xx that record nothing: WooCommerce's creation ping, Ozon's TYPE_PING."""
    data = _loads(answer)
    return isinstance(data, dict) and data.get("received") is not True and "key" not in data


def _tamper(provider: str, raw: bytes) -> bytes:
    """The body changed after signing (Ozon, unsigned: its seller id changed)."""
    if provider == "ozon":
        body = json.loads(raw)
        body["seller_id"] = int(body.get("seller_id") or 0) + 1
        return json.dumps(body, separators=(",", ":")).encode()
    return raw[:-1] + b',"tampered":true}'


def _mutate(value: Any, rng: random.Random) -> Any:
    """A JSON value with random fields replaced by values of the wrong type or shape."""
    if isinstance(value, dict):
        return {k: (_mutate(v, rng) if rng.random() < 0.7 else rng.choice([None, 1, "x", [], {}, -5, 1e30]))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_mutate(v, rng) for v in value]
    return value if rng.random() < 0.8 else rng.choice([None, "", "\u0000", 2**70, -1, True])


def _unique(provider: str, body: dict[str, Any], headers: dict[str, str]) -> None:
    """A never-seen dedupe key for the delivery, in place."""
    tag = rnd.token_hex(8)
    digits = str(rnd.randbelow(10**12) + 10**12)
    field_of = {"stripe": ("id", f"evt_sec_{tag}"), "paypal": ("id", f"WH-SEC-{tag.upper()}"),
                "woocommerce": ("id", 8_000_000_000 + int(digits) % 10**9), "ozon": ("posting_number", f"{digits}-0099-1"),
                "tiktok": ("tts_notification_id", digits), "aftership": ("event_id", f"sec-{tag}"),
                "easypost": ("id", f"evt_sec_{tag}")}
    if provider in field_of:
        name, value = field_of[provider]
        body[name] = value
    elif provider == "shopify":
        headers["x-shopify-event-id"] = f"sec-{tag}"
    elif provider == "standard":
        headers["webhook-id"] = f"msg_sec_{tag}"


def _wrong_secrets(secrets: dict[str, Any]) -> dict[str, Any]:
    """The stack's secrets with every provider's secret (PayPal: webhook id) replaced."""
    import base64

    out = copy.deepcopy(secrets)
    hooks = out["webhooks"]
    for provider, value in hooks.items():
        if provider == "standard":
            hooks[provider] = ["whsec_" + base64.b64encode(rnd.token_bytes(24)).decode()]
        elif provider == "tiktok":
            hooks[provider] = [[value[0][0], rnd.token_urlsafe(24)]]
        elif provider == "paypal":
            hooks[provider] = dict(value, webhook_ids=["WH-WRONG-" + rnd.token_hex(6).upper()])
        elif isinstance(value, list):
            hooks[provider] = [("whsec_" if provider == "stripe" else "") + rnd.token_urlsafe(24)]
    return out


def run_security(fuzz: int, seed: int = 5, out: TextIO = sys.stdout) -> int:
    """Start the local environment, run the suite, print the table; 0 when it is clean."""
    import contextlib
    import io

    from backout_dev.env import LocalEnvironment

    with LocalEnvironment(parameters={"CoolingOffSeconds": "0"}, secrets_file=None, log_level="ERROR") as env:
        with contextlib.redirect_stdout(io.StringIO()):
            report = Suite(env, seed).run(fuzz)
    out.write(report.table() + "\n")
    out.write(f"result: {'PASSED' if report.ok else 'FAILED'}\n")
    return 0 if report.ok else 1


def add_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Register `backout security` on the `backout` command's subparsers."""
    cmd = sub.add_parser("security", help="forged, malformed and fuzzed requests at every route; counts accepted wrongly")
    cmd.add_argument("--fuzz", type=int, default=500, help="number of random requests")
    cmd.add_argument("--seed", type=int, default=5)
    cmd.set_defaults(fn=lambda a: run_security(a.fuzz, a.seed))
