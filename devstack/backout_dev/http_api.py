"""Serves the template's HTTP API routes on localhost (what `sam local start-api` does).

Requests become API Gateway HTTP API (payload format 2.0) events and go to
the real handler in-process; the proxy response comes back as HTTP.

Two things exist only here, for local development, and never in AWS:

* ``x-backout-local-source-ip`` (dev-only header): the event's
  ``requestContext.http.sourceIp`` is normally the TCP peer (127.0.0.1). A
  request from the loopback interface may name another source address in
  this header, so that ``backout send`` can post Ozon samples "from" Ozon's
  networks. The header is removed before the handler sees the request. API
  Gateway has no such header: there the source address is the real peer.
* The AWS_IAM routes (the operator's) check SigV4 as API Gateway does (backout_dev.sigv4): an
  unsigned or wrongly signed request is refused with 403 before any handler runs; a signed one
  carries the caller in ``requestContext.authorizer.iam``. The keys it knows are the local
  stack's (``stack.iam_keys``, by default the local credentials).
* When the local secrets hold a fake PayPal CA (``paypal_local``), the
  receiver's certificate fetcher is replaced, while the API runs, by one
  that serves that CA's leaf certificate at its ``https://api.paypal.com/...``
  URL (``sender.paypal_cert_fetcher``).
"""

from __future__ import annotations

import base64
import ipaddress
import json
import re
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

from backout_dev.sender import LOCAL_SOURCE_IP_HEADER, paypal_cert_fetcher
from backout_dev import sigv4
from backout_dev.template import http_routes, iam_routes

_TEXTUAL = ("application/json", "text/", "application/x-www-form-urlencoded")


def local_source_ip(peer: str, headers: dict[str, str]) -> str:
    """The source address to report: the peer, or the dev-only header's value for a loopback peer.

    Removes the header from ``headers``. Raises ValueError for a value that is not an IP address.
    """
    claimed = headers.pop(LOCAL_SOURCE_IP_HEADER, None)
    if claimed is None or not ipaddress.ip_address(peer).is_loopback:
        return peer
    return str(ipaddress.ip_address(claimed.strip()))


def query_parameters(query: str) -> dict[str, str] | None:
    """As API Gateway (payload 2.0) passes them: decoded, repeated names joined with commas, None when empty."""
    pairs: dict[str, list[str]] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        pairs.setdefault(name, []).append(value)
    return {k: ",".join(v) for k, v in pairs.items()} or None


def _compile(path: str) -> re.Pattern[str]:
    pattern = re.sub(r"\{(\w+)\+?\}", r"(?P<\1>[^/]+)", path)
    return re.compile(f"^{pattern}$")


class LocalHttpApi:
    """A threaded HTTP server mapping template routes to in-process handlers."""

    def __init__(self, stack: Any, port: int = 0) -> None:
        self.stack = stack
        self.routes = [(m, _compile(p), p, fn) for m, p, fn in http_routes(stack.template)]
        self.iam = iam_routes(stack.template)
        self.server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._saved_fetcher: Any = None

    @property
    def url(self) -> str:
        """Base URL, e.g. http://127.0.0.1:3000."""
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> "LocalHttpApi":
        """Serve on a background thread (and stand in for PayPal's certificate host, see above)."""
        local_secrets = getattr(self.stack, "secrets", None) or {}
        if local_secrets.get("paypal_local"):
            from backout.ingress import receiver

            self._saved_fetcher = receiver.fetch_paypal_cert
            receiver.fetch_paypal_cert = paypal_cert_fetcher(local_secrets)
            receiver.clear_paypal_cert_cache()
        self.thread.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()
        if self._saved_fetcher is not None:
            from backout.ingress import receiver

            receiver.fetch_paypal_cert = self._saved_fetcher
            receiver.clear_paypal_cert_cache()
            self._saved_fetcher = None

    def caller(self, method: str, raw_path: str, headers: dict[str, str], body: bytes) -> tuple[dict[str, str] | None, str]:
        """The IAM caller of a SigV4-signed request, or (None, why it is refused)."""
        from backout_dev.stack import ACCOUNT, LOCAL_ENV, REGION

        keys = getattr(self.stack, "iam_keys", None) or {LOCAL_ENV["AWS_ACCESS_KEY_ID"]: LOCAL_ENV["AWS_SECRET_ACCESS_KEY"]}
        key, reason = sigv4.verify(method, f"http://{headers.get('host', '')}{raw_path}", headers, body, keys, REGION)
        return (sigv4.iam_identity(key, ACCOUNT), "") if key else (None, reason)

    def to_event(self, method: str, raw_path: str, query: str, headers: dict[str, str], body: bytes,
                 route: str, params: dict[str, str], source_ip: str) -> dict[str, Any]:
        """The API Gateway v2 event for one request."""
        ctype = headers.get("content-type", "")
        textual = any(ctype.startswith(t) for t in _TEXTUAL) or not body
        try:
            text = body.decode("utf-8") if textual else None
        except UnicodeDecodeError:
            text = None
        return {
            "version": "2.0", "routeKey": f"{method} {route}", "rawPath": raw_path, "rawQueryString": query,
            "headers": headers, "pathParameters": params or None, "queryStringParameters": query_parameters(query),
            "requestContext": {"http": {"method": method, "path": raw_path, "sourceIp": source_ip,
                                        "protocol": "HTTP/1.1", "userAgent": headers.get("user-agent", "")},
                               "requestId": str(uuid.uuid4()), "routeKey": f"{method} {route}", "stage": "$default",
                               "timeEpoch": int(time.time() * 1000)},
            "body": text if text is not None else base64.b64encode(body).decode(),
            "isBase64Encoded": text is None,
        }

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                return

            def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _dispatch(self) -> None:
                path, _, query = self.path.partition("?")
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                for method, pattern, route, function in api.routes:
                    m = pattern.match(path)
                    if m and method == self.command:
                        headers = {k.lower(): v for k, v in self.headers.items()}
                        try:
                            source_ip = local_source_ip(self.client_address[0], headers)
                        except ValueError:
                            self._send(400, b'{"message":"invalid x-backout-local-source-ip"}',
                                       {"Content-Type": "application/json"})
                            return
                        event = api.to_event(method, path, query, headers, body, route, m.groupdict(), source_ip)
                        if (method, route) in api.iam:
                            caller, reason = api.caller(method, self.path, headers, body)
                            if caller is None:
                                self._send(403, json.dumps({"message": f"Forbidden: {reason}"}).encode(),
                                           {"Content-Type": "application/json"})
                                return
                            event["requestContext"]["authorizer"] = {"iam": caller}
                        self._proxy(function, event)
                        return
                self._send(404, b'{"message":"Not Found"}', {"Content-Type": "application/json"})

            def _proxy(self, function: str, event: dict[str, Any]) -> None:
                payload, errored = api.stack.invoke(function, event)
                if errored or not isinstance(payload, dict):
                    self._send(500, b'{"message":"Internal Server Error"}', {"Content-Type": "application/json"})
                    return
                raw = payload.get("body") or ""
                data = base64.b64decode(raw) if payload.get("isBase64Encoded") else str(raw).encode()
                self._send(int(payload.get("statusCode", 200)), data, dict(payload.get("headers") or {}))

            do_POST = do_GET = do_PUT = do_DELETE = _dispatch  # noqa: N815

        return Handler
