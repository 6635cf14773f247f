"""A small JSON-over-HTTP client for provider APIs (stdlib only)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from backout.errors import PlatformRejected, TransientError

#: Status codes that mean "try again later".
RETRYABLE = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


def request_json(method: str, url: str, *, headers: dict[str, str] | None = None, body: Any = None,
                 timeout: float = 8.0) -> Any:
    """Send a JSON request; 2xx returns the decoded body, retryable codes raise
    TransientError, other 4xx raise PlatformRejected."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json", "Accept": "application/json",
                                          **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - URLs come from configuration
            raw = resp.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read()[:300].decode("utf-8", "replace")
        if exc.code in RETRYABLE:
            raise TransientError(f"{method} {url}: HTTP {exc.code}") from exc
        raise PlatformRejected(f"{method} {url}: HTTP {exc.code} {detail}") from exc
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        raise TransientError(f"{method} {url}: {exc}") from exc
    return json.loads(raw) if raw else None
