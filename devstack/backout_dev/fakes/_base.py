"""What every provider fake shares: a threaded HTTP server, a ledger, replay by
idempotency key, and fault knobs.

A fake subclasses :class:`FakeServer` and implements :meth:`FakeServer.handle`,
a plain function from :class:`Request` to :class:`Response`. Requests are
handled one at a time (one lock), so a fake's state is never torn.

Fault knobs, consumed in order by the requests they match (``method``,
``path_contains`` and ``body_contains`` narrow them, e.g. to the one mutating
call):

* :meth:`FakeServer.fail_next` - the next N matching calls answer ``status``
  (429, 500, 503, ...) and do nothing;
* :meth:`FakeServer.drop_next_response` - the next N matching calls do their
  work (and store their idempotent answer), then answer 500 as if the response
  had been lost on the way back.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from collections.abc import Callable


@dataclass
class Request:
    """One incoming call, decoded."""

    method: str
    path: str
    query: dict[str, str]
    headers: Message
    raw: bytes
    body: Any = None  # decoded JSON, or a dict for form bodies, or None

    def header(self, name: str) -> str | None:
        """A header's value (case-insensitive), or None."""
        return self.headers.get(name)


@dataclass
class Response:
    """What a fake answers; ``body`` None means no content."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class _Fault:
    kind: str  # "status" or "drop"
    status: int
    remaining: int
    method: str | None
    path_contains: str | None
    body_contains: str | None

    def matches(self, req: Request) -> bool:
        return ((self.method is None or self.method == req.method)
                and (self.path_contains is None or self.path_contains in req.path)
                and (self.body_contains is None or self.body_contains.encode() in req.raw))


class FakeServer:
    """A stateful provider fake on ``127.0.0.1`` and a random port."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.ledger: list[dict[str, Any]] = []
        """Every effect performed, in order: ``{"op": ..., ...}``."""
        self.requests: list[tuple[str, str]] = []
        """Every call received (method, path), including faulted ones."""
        self._faults: list[_Fault] = []
        self._replays: dict[tuple[str, str], tuple[str, Response]] = {}
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)

    # -- lifecycle ---------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """Base URL of the fake."""
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> Self:
        """Serve on a background thread."""
        self.thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- knobs and ledger --------------------------------------------------------------------
    def fail_next(self, n: int = 1, status: int = 500, *, method: str | None = None,
                  path_contains: str | None = None, body_contains: str | None = None) -> None:
        """The next ``n`` matching calls answer ``status`` without doing anything."""
        with self.lock:
            self._faults.append(_Fault("status", status, n, method, path_contains, body_contains))

    def drop_next_response(self, n: int = 1, *, method: str | None = None, path_contains: str | None = None,
                           body_contains: str | None = None) -> None:
        """The next ``n`` matching calls take effect, then answer 500 (the response is "lost")."""
        with self.lock:
            self._faults.append(_Fault("drop", 500, n, method, path_contains, body_contains))

    def clear_faults(self) -> None:
        """Forget every pending fault."""
        with self.lock:
            self._faults.clear()

    def record(self, op: str, **detail: Any) -> dict[str, Any]:
        """Append an effect to the ledger."""
        entry = {"op": op, **detail}
        self.ledger.append(entry)
        return entry

    def effects(self, op: str) -> list[dict[str, Any]]:
        """The ledger entries of one kind."""
        with self.lock:
            return [e for e in self.ledger if e["op"] == op]

    def idempotent(self, scope: str, key: str | None, fingerprint: str, fn: Callable[[], Response],
                   on_mismatch: Callable[[], Response] | None = None) -> Response:
        """Run ``fn`` once per ``(scope, key)``; a replay gets the first answer back.

        Answers of 5xx are not kept (the call may be retried for real). When
        ``on_mismatch`` is given, a replay whose ``fingerprint`` (e.g. the body)
        differs gets its answer instead.
        """
        if not key:
            return fn()
        stored = self._replays.get((scope, key))
        if stored is not None:
            first_fingerprint, response = stored
            if on_mismatch is not None and first_fingerprint != fingerprint:
                return on_mismatch()
            return response
        response = fn()
        if response.status < 500:
            self._replays[(scope, key)] = (fingerprint, response)
        return response

    # -- to override -------------------------------------------------------------------------
    def handle(self, req: Request) -> Response:
        """Answer one call (called under the lock)."""
        raise NotImplementedError

    def fault_body(self, status: int) -> Any:
        """The body of an injected fault answer, in the provider's error shape."""
        return {"error": "injected fault", "status": status}

    # -- plumbing ----------------------------------------------------------------------------
    def _take_fault(self, req: Request) -> _Fault | None:
        for fault in self._faults:
            if fault.remaining > 0 and fault.matches(req):
                fault.remaining -= 1
                if fault.remaining == 0:
                    self._faults.remove(fault)
                return fault
        return None

    def dispatch(self, req: Request) -> Response:
        """Faults first, then :meth:`handle`."""
        with self.lock:
            self.requests.append((req.method, req.path))
            fault = self._take_fault(req)
            if fault is not None and fault.kind == "status":
                return Response(fault.status, self.fault_body(fault.status))
            response = self.handle(req)
            if fault is not None:  # drop: the effect happened, the answer is lost
                return Response(500, self.fault_body(500))
            return response

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return

            def _serve(self) -> None:
                parts = urllib.parse.urlsplit(self.path)
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                query = dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
                req = Request(self.command, parts.path, query, self.headers, raw)
                try:
                    if raw and "x-www-form-urlencoded" in (self.headers.get("Content-Type") or ""):
                        req.body = dict(urllib.parse.parse_qsl(raw.decode()))
                    elif raw and "multipart/" not in (self.headers.get("Content-Type") or ""):
                        req.body = json.loads(raw)  # multipart bodies stay in req.raw for the fake to parse
                except (ValueError, UnicodeDecodeError):
                    self._answer(Response(400, {"error": "malformed body"}))
                    return
                self._answer(fake.dispatch(req))

            def _answer(self, response: Response) -> None:
                data = b"" if response.body is None else json.dumps(response.body).encode()
                self.send_response(response.status)
                for name, value in response.headers.items():
                    self.send_header(name, value)
                if data:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

        return Handler
