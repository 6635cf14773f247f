"""PayPal's certificate host: the fetcher a receiver is given, and the in-process cache of valid certificates.

The receiver is handed a fetcher (:func:`fetch_paypal_cert` in AWS; the local
stack and tests hand it a stand-in for PayPal's host) rather than patching one.
"""

from __future__ import annotations

import threading
from typing import Any

__all__ = ["CertUnavailable", "PAYPAL_CERT_CACHE_SIZE", "CertCache", "fetch_paypal_cert"]

#: How long the receiver waits for PayPal's certificate host (the sender gives up at a few seconds).
PAYPAL_CERT_TIMEOUT_SECONDS = 2.0
#: Largest certificate document read from PayPal.
PAYPAL_CERT_MAX_BYTES = 65536
#: Certificates kept in-process (valid ones only; PayPal rotates them by URL).
PAYPAL_CERT_CACHE_SIZE = 16


class CertUnavailable(Exception):
    """PayPal's certificate host could not be reached (transient)."""


def fetch_paypal_cert(url: str) -> bytes:
    """GET the PEM document at a PayPal certificate URL.

    Called only after :func:`backout.ingress.verify.verify_paypal` checked
    that ``url`` is ``https`` on a paypal.com host. Redirects are refused.
    A 4xx answer is the sender's fault (the delivery is refused with 401);
    an unreachable host, a timeout or a 5xx raise :class:`CertUnavailable`
    (answered 503, so PayPal retries). The local stack and tests hand the
    receiver a stand-in instead.
    """
    import ssl
    import urllib.error
    import urllib.request

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect, urllib.request.HTTPSHandler(context=ssl.create_default_context()))
    request = urllib.request.Request(url, headers={"Accept": "application/x-pem-file, */*"})
    try:
        with opener.open(request, timeout=PAYPAL_CERT_TIMEOUT_SECONDS) as resp:
            data = bytes(resp.read(PAYPAL_CERT_MAX_BYTES + 1))
    except urllib.error.HTTPError as exc:
        if exc.code >= 500 or exc.code == 429:
            raise CertUnavailable(f"HTTP {exc.code}") from exc
        raise
    except (urllib.error.URLError, OSError) as exc:  # DNS, connect, TLS, timeout
        raise CertUnavailable(type(exc).__name__) from exc
    if len(data) > PAYPAL_CERT_MAX_BYTES:
        raise ValueError("certificate document too large")
    return data


class CertCache(dict[str, bytes]):
    """Valid certificate documents by URL, shared by a process's deliveries, trimmed to a few entries."""

    def __init__(self, size: int = PAYPAL_CERT_CACHE_SIZE) -> None:
        super().__init__()
        self.size = size
        self.lock = threading.Lock()

    def trim(self) -> None:
        """Drop the oldest entries beyond ``size``."""
        with self.lock:
            while len(self) > self.size:
                self.pop(next(iter(self)))
