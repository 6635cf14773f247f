"""Webhook deliveries: signed at send time, posted 1-3 times, shuffled within phases, from threads.

A :class:`Delivery` is one webhook a provider sends (one dedupe key); the
schedule posts each one ``copies`` times, the way providers retry. Within a
phase the order is random; some copies go out as a concurrent burst, some
arrive one phase late (a retry after a timeout). A forged delivery is signed
with the wrong secret, tampered with after signing, or signed too long ago.

The sender behaves like a provider: a 5xx or a dropped connection is retried
(with a short backoff), a 2xx or 4xx is final.
"""

from __future__ import annotations

import contextlib
import copy
import json
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

Forgery = Literal["wrong_secret", "tampered", "stale", "unsigned"]
#: How often a sender retries a delivery answered 5xx (providers retry for days; the run has seconds).
SEND_ATTEMPTS = 8


@dataclass
class Delivery:
    """One webhook with one dedupe key; ``copies`` is how many times it is posted."""

    provider: str
    sample: dict[str, Any]  # the events/ sample it is shaped on (path, headers)
    body: dict[str, Any]
    phase: int
    order_index: int
    label: str
    key: str = ""  # the inbox dedupe key it must (or, forged, must never) be recorded under
    copies: int = 1
    forgery: Forgery | None = None
    headers: dict[str, str] = field(default_factory=dict)  # extra headers (dedupe ids)
    answers: list[tuple[int, dict[str, Any]]] = field(default_factory=list)

    @property
    def accepted(self) -> bool:
        """True when any copy got a 2xx."""
        return any(200 <= status < 300 for status, _ in self.answers)


@dataclass
class SendStats:
    """What the senders saw."""

    posts: int = 0
    duplicates: int = 0
    sender_retries: int = 0
    refused_genuine: list[str] = field(default_factory=list)
    accepted_forged: list[str] = field(default_factory=list)
    server_errors_exhausted: list[str] = field(default_factory=list)
    by_status: Counter[int] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self.lock = threading.Lock()


class Sender:
    """Signs and posts deliveries to the local HTTP API."""

    def __init__(self, env: Any, rng: random.Random, exempt: Callable[[], None], transport: str = "http",
                 exposed: Callable[[], Any] = contextlib.nullcontext) -> None:
        self.env = env
        self.exposed = exposed
        self.transport = transport
        self.rng = rng
        self.exempt = exempt
        self.stats = SendStats()
        self._wrong = _wrong_secrets(env.secrets)

    def _signed(self, d: Delivery) -> tuple[bytes, dict[str, str]]:
        from backout_dev.sender import sign

        raw = json.dumps(d.body, separators=(",", ":")).encode()
        headers = {**dict(d.sample.get("headers") or {}), **d.headers}
        headers = {k: v for k, v in headers.items() if k not in ("content-length", "host")}
        source_ip = ((d.sample.get("requestContext") or {}).get("http") or {}).get("sourceIp")
        secrets = self._wrong if d.forgery == "wrong_secret" else self.env.secrets
        now = time.time() - 3600 if d.forgery == "stale" else None
        signed = sign(d.provider, raw, headers, secrets, now=now, source_ip=source_ip)
        if d.forgery == "tampered":
            raw = raw[:-1] + b',"sim_tampered":true}'
        if d.forgery == "unsigned":
            signed = {k: v for k, v in signed.items() if "sig" not in k.lower() and "hmac" not in k.lower()}
        signed.setdefault("content-type", "application/json")
        return raw, signed

    def post_once(self, d: Delivery) -> None:
        """Post one copy, retrying 5xx and dropped connections like a provider does."""
        from backout_dev.sender import post

        self.exempt()
        status, answer = 599, {}
        for attempt in range(SEND_ATTEMPTS):
            raw, headers = self._signed(d)  # re-signed per attempt: timestamps are fresh
            try:
                if self.transport == "http":
                    status, answer = post(self.env.url + d.sample["rawPath"], raw, headers, timeout=30)
                else:
                    with self.exposed():  # the receiver runs on this thread: it gets faults like any function
                        status, answer = self._invoke(d.sample["rawPath"], raw, headers)
            except OSError as exc:  # connection reset / timeout: the provider retries
                status, answer = 599, {"error": str(exc)}
            if status < 500:
                break
            with self.stats.lock:
                self.stats.sender_retries += 1
            time.sleep(min(0.05 * (attempt + 1), 0.4))
        self._account(d, status, answer)

    def _invoke(self, path: str, raw: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """Straight into the in-process API: the event the local HTTP API would build, the same Lambda hooks."""
        from backout_dev.http_api import local_source_ip

        api, stack = self.env.api, self.env.stack
        headers = {k.lower(): v for k, v in headers.items()}
        source_ip = local_source_ip("127.0.0.1", headers)
        for method, pattern, route, function in api.routes:
            m = pattern.match(path)
            if m and method == "POST":
                event = api.to_event("POST", path, "", headers, raw, route, m.groupdict(), source_ip)
                payload, errored, _ = stack.lambdas.invoke(function, stack.attrs[(function, "Arn")], event)
                if errored:
                    return 500, {}
                data = json.loads(payload)
                return int(data.get("statusCode", 200)), json.loads(data.get("body") or "{}")
        return 404, {}

    def _account(self, d: Delivery, status: int, answer: dict[str, Any]) -> None:
        with self.stats.lock:
            d.answers.append((status, answer))
            self.stats.posts += 1
            self.stats.by_status[status] += 1
            self.stats.duplicates += bool(answer.get("duplicate"))
            name = f"{d.label} (order #{d.order_index})"
            if d.forgery and 200 <= status < 300:
                self.stats.accepted_forged.append(name)
            elif not d.forgery and status >= 500:
                self.stats.server_errors_exhausted.append(name)
            elif not d.forgery and status >= 300:
                self.stats.refused_genuine.append(f"{name}: HTTP {status} {answer}")


def schedule(deliveries: list[Delivery], rng: random.Random) -> dict[int, list[list[Delivery]]]:
    """Per phase, a shuffled list of bursts; a burst's copies are posted at the same time."""
    phases: dict[int, list[list[Delivery]]] = {}
    for d in deliveries:
        copies = d.copies
        if copies > 1 and rng.random() < 0.3:  # a concurrent burst of the same delivery
            phases.setdefault(d.phase, []).append([d] * copies)
            continue
        for n in range(copies):
            late = n > 0 and rng.random() < 0.1  # a retry arriving one phase late
            phases.setdefault(d.phase + late, []).append([d])
    for bursts in phases.values():
        rng.shuffle(bursts)
    return dict(sorted(phases.items()))


def send_phase(sender: Sender, bursts: list[list[Delivery]], threads: int) -> None:
    """Post every burst of a phase from a pool of threads."""
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="sim-send") as pool:
        futures = [pool.submit(sender.post_once, d) for burst in bursts for d in burst]
        for f in futures:
            f.result()


def _wrong_secrets(secrets: dict[str, Any]) -> dict[str, Any]:
    """A copy of the stack's secrets with every HMAC secret replaced (what a forger holds)."""
    import secrets as rnd

    out = copy.deepcopy(secrets)
    for provider, value in out.get("webhooks", {}).items():
        if isinstance(value, list) and value and isinstance(value[0], str):
            prefix = "whsec_" if value[0].startswith("whsec_") else ""
            if provider == "standard":
                import base64

                out["webhooks"][provider] = ["whsec_" + base64.b64encode(rnd.token_bytes(24)).decode()]
            else:
                out["webhooks"][provider] = [prefix + rnd.token_urlsafe(24)]
        elif isinstance(value, list) and value and isinstance(value[0], list):
            out["webhooks"][provider] = [[value[0][0], rnd.token_urlsafe(24)]]
    return out
