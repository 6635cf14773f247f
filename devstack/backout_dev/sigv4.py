"""SigV4 for the operator routes: sign a request (botocore's SigV4Auth) and verify one (the local IAM check).

API Gateway's AWS_IAM authorizer accepts a request only when it is SigV4-signed for service
``execute-api``; the local HTTP API does the same with botocore's signer, recomputing the
signature from the request as received, and refuses (403) an unsigned or wrongly signed one.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import datetime, timedelta, timezone
from typing import Mapping

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

SERVICE = "execute-api"
#: How far a request's X-Amz-Date may be from now (AWS allows 5 minutes of clock skew).
MAX_SKEW = timedelta(minutes=5)
_AUTH = re.compile(r"^AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)"
                   r"/aws4_request, ?SignedHeaders=(?P<signed>[a-z0-9;-]+), ?Signature=(?P<sig>[0-9a-f]{64})$")


def sign(method: str, url: str, body: bytes, credentials: Credentials, region: str,
         headers: Mapping[str, str] | None = None) -> dict[str, str]:
    """The headers to send (Authorization, X-Amz-Date, X-Amz-Content-SHA256, token) with ``headers``."""
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    request.headers["X-Amz-Content-SHA256"] = hashlib.sha256(body).hexdigest()
    SigV4Auth(credentials, SERVICE, region).add_auth(request)
    return dict(request.headers.items())


def verify(method: str, url: str, headers: Mapping[str, str], body: bytes,
           secrets: Mapping[str, str], region: str, now: datetime | None = None) -> tuple[str | None, str]:
    """(access key id, "") when the request is validly signed by a known key, else (None, reason)."""
    lower = {k.lower(): v for k, v in headers.items()}
    m = _AUTH.match(lower.get("authorization", "").strip())
    if not m:
        return None, "missing or malformed SigV4 Authorization header"
    if m["service"] != SERVICE or m["region"] != region:
        return None, f"credential scope must be {region}/{SERVICE}"
    secret = secrets.get(m["key"])
    if secret is None:
        return None, "unknown access key"
    stamp = lower.get("x-amz-date", "")
    try:
        when = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
    except ValueError:
        return None, "missing or malformed X-Amz-Date"
    if abs((now or datetime.now(timezone.utc)) - when) > MAX_SKEW or stamp[:8] != m["date"]:
        return None, "request time is too far from now"
    digest = hashlib.sha256(body).hexdigest()
    if lower.get("x-amz-content-sha256", digest) != digest:
        return None, "body does not match X-Amz-Content-SHA256"
    signed = m["signed"].split(";")
    if "host" not in signed or any(h not in lower for h in signed):
        return None, "a signed header is missing"
    request = AWSRequest(method=method, url=url, data=body, headers={h: lower[h] for h in signed})
    request.context["timestamp"] = stamp
    signer = SigV4Auth(Credentials(m["key"], secret, lower.get("x-amz-security-token")), SERVICE, region)
    expected = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
    if not hmac.compare_digest(expected, m["sig"]):
        return None, "signature does not match"
    return m["key"], ""
