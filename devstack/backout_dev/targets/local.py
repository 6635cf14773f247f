"""The local stack as an OperatorTarget: a running `backout serve` (its URL in .backout/endpoint).

Requests are SigV4-signed with the local stack's credentials (backout_dev.stack.LOCAL_ENV), as a
deployed stack requires: the local HTTP API refuses unsigned or wrongly signed operator calls.
"""

from __future__ import annotations

from botocore.credentials import Credentials

from backout_dev.targets.base import TargetError
from backout_dev.targets.signed import SignedOperatorApi


class LocalTarget(SignedOperatorApi):
    """OperatorTarget for the local stack."""

    name = "local"

    def __init__(self, url: str) -> None:
        from backout_dev.stack import LOCAL_ENV, REGION

        super().__init__(url, Credentials(LOCAL_ENV["AWS_ACCESS_KEY_ID"], LOCAL_ENV["AWS_SECRET_ACCESS_KEY"]), REGION)

    @classmethod
    def open(cls, url: str | None = None) -> "LocalTarget":
        """The stack at ``url``, else the running `backout serve`."""
        from backout_dev.env import ENDPOINT_FILE

        if url:
            return cls(url)
        if not ENDPOINT_FILE.exists():
            raise TargetError(0, "no running `backout serve` found; start one or pass --url")
        return cls(ENDPOINT_FILE.read_text().strip())
