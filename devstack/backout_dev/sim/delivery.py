"""Webhook deliveries: signed at send time, posted 1-3 times, shuffled within phases, from threads.

A :class:`Delivery` is one webhook a provider sends (one dedupe key); the
schedule posts each one ``copies`` times, the way providers retry. Within a
phase the order is random; some copies go out as a concurrent burst, some
arrive one phase late (a retry after a timeout). A forged delivery is signed
with the wrong secret, tampered with after signing, or signed too long ago.

The sender behaves like a provider: a 5xx or a dropped connection is retried
(with a short backoff), a 2xx or 4xx is final. A delivery with ``pull`` set
is not posted: Backout fetches it itself (the Ozon poller lists the request),
so "sending" it runs the pull, with faults like the function it stands for.

Forgeries are made per provider the way the security suite makes them
(``backout_dev.security``): a wrong secret (Ozon, which signs nothing: a
source address outside its networks), the body changed after signing (Ozon:
another seller id), the authenticating header removed, and a timestamp an hour
old only where the signature covers one (:func:`forgeries`).
"""

from __future__ import annotations

import contextlib
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
#: What a delivery means for the order's story: the checks look for accepted ones by role.
Role = Literal["cancel", "withdraw"]
#: A source address outside Ozon's push networks (TEST-NET-2).
OUTSIDE_IP = "198.51.100.7"
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
    role: Role | None = None  # a genuine cancel request (or expiry) or withdrawal
    pull: Callable[[], bool] | None = None  # fetched by Backout instead of posted; True when it recorded something
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
        from backout_dev.security import _wrong_secrets

        self._wrong = _wrong_secrets(env.secrets)

    def _signed(self, d: Delivery) -> tuple[bytes, dict[str, str]]:
        from backout_dev.security import AUTH_HEADER, _tamper
        from backout_dev.sender import sign

        raw = json.dumps(d.body, separators=(",", ":")).encode()
        headers = {**dict(d.sample.get("headers") or {}), **d.headers}
        headers = {k: v for k, v in headers.items() if k not in ("content-length", "host")}
        source_ip = ((d.sample.get("requestContext") or {}).get("http") or {}).get("sourceIp")
        if d.forgery == "wrong_secret" and d.provider == "ozon":
            source_ip = OUTSIDE_IP
        secrets = self._wrong if d.forgery == "wrong_secret" else self.env.secrets
        now = time.time() - 3600 if d.forgery == "stale" else None
        signed = sign(d.provider, raw, headers, secrets, now=now, source_ip=source_ip)
        if d.forgery == "tampered":
            raw = _tamper(d.provider, raw)
        if d.forgery == "unsigned":
            signed = {k: v for k, v in signed.items() if k.lower() != AUTH_HEADER[d.provider]}
        signed.setdefault("content-type", "application/json")
        return raw, signed

    def _attempt(self, d: Delivery) -> tuple[int, dict[str, Any]]:
        """One attempt: the pull run, or the delivery signed afresh (timestamps) and posted."""
        if d.pull is not None:
            with self.exposed():  # the poller is a function of the stack: it gets faults like any other
                try:
                    return 200, {"duplicate": not d.pull()}
                except Exception as exc:  # noqa: BLE001 - a fault in the pull: it runs again, as on its schedule
                    return 503, {"error": f"{type(exc).__name__}: {exc}"}
        from backout_dev.sender import post

        raw, headers = self._signed(d)
        if self.transport == "http":
            return post(self.env.url + d.sample["rawPath"], raw, headers, timeout=30)
        with self.exposed():  # the receiver runs on this thread: it gets faults like any function
            return self._invoke(d.sample["rawPath"], raw, headers)

    def post_once(self, d: Delivery) -> None:
        """Post one copy, retrying 5xx and dropped connections like a provider does."""
        self.exempt()
        status, answer = 599, {}
        for attempt in range(SEND_ATTEMPTS):
            try:
                status, answer = self._attempt(d)
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


def forgeries(provider: str) -> tuple[Forgery, ...]:
    """The forgeries a provider's receiver can tell from genuine deliveries (stale: only where the
    signature covers a timestamp; Shopify, WooCommerce and the others sign none)."""
    from backout_dev.security import TIMESTAMPED

    return ("wrong_secret", "tampered", "unsigned") + (("stale",) if provider in TIMESTAMPED else ())


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
