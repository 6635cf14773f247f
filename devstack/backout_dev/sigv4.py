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
from typing import Any, Mapping

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


def sign_local(method: str, url: str, body: bytes = b"", headers: Mapping[str, str] | None = None) -> dict[str, str]:
    """``sign`` with the local stack's credentials (what its HTTP API's IAM check accepts)."""
    from backout_dev.stack import LOCAL_ENV, REGION

    creds = Credentials(LOCAL_ENV["AWS_ACCESS_KEY_ID"], LOCAL_ENV["AWS_SECRET_ACCESS_KEY"])
    return sign(method, url, body, creds, REGION, headers)


def iam_identity(access_key: str, account: str) -> dict[str, str]:
    """``requestContext.authorizer.iam`` as API Gateway passes it for a caller's access key (a user's)."""
    return {"accessKey": access_key, "accountId": account, "callerId": access_key, "userId": access_key,
            "userArn": f"arn:aws:iam::{account}:user/{access_key}"}


def local_request(url: str, data: bytes | None = None, method: str = "GET",
                  headers: Mapping[str, str] | None = None) -> Any:
    """A ``urllib.request.Request`` to the local stack, signed with its credentials (for the IAM routes)."""
    import urllib.request

    signed = sign_local(method, url, data or b"", headers)
    return urllib.request.Request(url, data=data, method=method, headers=signed)
