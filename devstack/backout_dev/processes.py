"""Side processes and servers of the local stack: localstripe and the fake WooCommerce."""

from __future__ import annotations

import base64
import importlib.util
import json
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def free_port() -> int:
    """An unused TCP port on the loopback interface."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 20.0) -> None:
    """Block until something listens on 127.0.0.1:port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on port {port}")


class LocalStripe:
    """localstripe (GPL, dev only) as its own process; the stripe SDK is pointed at it.

    Refund controls (dev-only endpoints the launcher adds, ``localstripe_main.py``):
    :meth:`hold_refunds` makes new refunds on a PaymentIntent start ``pending``,
    :meth:`set_refund_status` settles, fails or cancels a stored one, and
    :meth:`refunded_minor` / :meth:`pending_minor` sum one PaymentIntent's refunds.
    """

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Base URL for ``stripe.api_base``."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, attempts: int = 3, timeout: float = 90.0) -> "LocalStripe":
        """Start the server and wait until it answers (a cold first start compiles its modules;
        a port taken in between is retried on another port)."""
        if importlib.util.find_spec("localstripe") is None:
            raise RuntimeError("localstripe is not installed: pip install -e '.[dev]'")
        for attempt in range(attempts):
            log = tempfile.TemporaryFile()  # a file, not a pipe: its request log must never block it
            # --from-scratch: never load /tmp/localstripe.pickle; the launcher also stops localstripe
            # rewriting that file (the whole store) on every change
            self.proc = subprocess.Popen([sys.executable, "-m", "backout_dev.localstripe_main", "--port",
                                          str(self.port), "--from-scratch"],
                                         stdout=subprocess.DEVNULL, stderr=log)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    wait_port(self.port, timeout=0.5)
                    return self
                except TimeoutError:
                    continue
            log.seek(0)
            error = log.read().decode("utf-8", "replace")[-500:]
            self.stop()
            self.port = free_port()
            if attempt == attempts - 1:
                raise RuntimeError(f"localstripe did not start: {error or 'no answer'}")
        return self

    def hold_refunds(self, payment_intent: str, hold: bool = True) -> None:
        """While held, refunds created on ``payment_intent`` start ``pending`` (they count in the
        charge's ``amount_refunded``, as a pending refund does on Stripe, until they fail or are canceled)."""
        self._control("POST", "/_config/backout/hold_refunds", {"payment_intent": payment_intent, "hold": hold})

    def set_refund_status(self, refund_id: str, status: str, failure_reason: str | None = None) -> dict[str, Any]:
        """Move a stored refund to ``succeeded``, ``failed`` or ``canceled``; returns it as a webhook carries it.

        Moves as Stripe makes them (https://docs.stripe.com/api/refunds/object): pending or
        requires_action to succeeded, failed or canceled, and succeeded to failed (a refund can
        fail after it appeared succeeded: https://docs.stripe.com/refunds#failed-refunds). A failed
        refund gets ``failure_reason`` (default ``unknown``; also ``expired_or_canceled_card``,
        ``lost_or_stolen_card``, ...) and a ``failure_balance_transaction``. Another move is a
        ``ValueError``; the current status again changes nothing.
        """
        body = {"status": status, "failure_reason": failure_reason}
        return dict(self._control("POST", f"/_config/backout/refunds/{urllib.parse.quote(refund_id)}/status", body))

    def refunds(self, payment_intent: str) -> list[dict[str, Any]]:
        """Every refund of ``payment_intent`` (any status), newest first, as webhooks carry them."""
        query = urllib.parse.urlencode({"payment_intent": payment_intent})
        return list(self._control("GET", f"/_config/backout/refunds?{query}")["data"])

    def refunded_minor(self, payment_intent: str) -> int:
        """What the buyer got back through Stripe: the ``succeeded`` refunds of ``payment_intent``."""
        return sum(int(r["amount"]) for r in self.refunds(payment_intent) if r["status"] == "succeeded")

    def pending_minor(self, payment_intent: str) -> int:
        """What is on its way back: the ``pending`` refunds of ``payment_intent``."""
        return sum(int(r["amount"]) for r in self.refunds(payment_intent) if r["status"] == "pending")

    def _control(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - loopback only
                return json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            error = json.loads(exc.read() or b"{}").get("error") or {}
            raise ValueError(f"localstripe {exc.code}: {error.get('message') or exc.reason}") from None

    def stop(self) -> None:
        """Terminate the server."""
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self.proc = None


class FakeWooCommerce:
    """The WooCommerce REST API v3 orders endpoint, as far as Backout uses it.

    GET/PUT ``/wp-json/wc/v3/orders/{id}`` with HTTP Basic auth (consumer
    key/secret); 401 on bad credentials, 404 on unknown orders, 400 on an
    unknown status. Every PUT is kept in ``updates`` so tests can count them.
    """

    STATUSES = {"pending", "processing", "on-hold", "completed", "cancelled", "refunded", "failed", "cancel-request"}

    def __init__(self, key: str, secret: str) -> None:
        self.orders: dict[str, dict[str, Any]] = {}
        self.updates: list[tuple[str, dict[str, Any]]] = []
        self.auth = "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """Base URL of the store."""
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> "FakeWooCommerce":
        """Serve on a background thread."""
        self.thread.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return

            def _answer(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _order_id(self) -> str | None:
                prefix = "/wp-json/wc/v3/orders/"
                if self.headers.get("Authorization") != fake.auth:
                    self._answer(401, {"code": "woocommerce_rest_cannot_view", "message": "Sorry, you cannot view this resource."})
                    return None
                if not self.path.startswith(prefix) or self.path[len(prefix):] not in fake.orders:
                    self._answer(404, {"code": "woocommerce_rest_shop_order_invalid_id", "message": "Invalid ID."})
                    return None
                return self.path[len(prefix):]

            def do_GET(self) -> None:  # noqa: N802
                oid = self._order_id()
                if oid is not None:
                    self._answer(200, fake.orders[oid])

            def do_PUT(self) -> None:  # noqa: N802
                oid = self._order_id()
                if oid is None:
                    return
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                if "status" in body and body["status"] not in fake.STATUSES:
                    self._answer(400, {"code": "rest_invalid_param", "message": "Invalid parameter(s): status"})
                    return
                fake.updates.append((oid, body))
                fake.orders[oid].update(body)
                self._answer(200, fake.orders[oid])

        return Handler
