"""Cached boto3 clients, created on first use (cold start pays only for what a path needs)."""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any


@lru_cache(maxsize=None)
def client(service: str) -> Any:
    """A boto3 client for ``service``, shared by every call in this process."""
    import boto3  # imported here so modules that never touch AWS stay light

    return boto3.client(service, region_name=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"))


def reset_clients() -> None:
    """Forget cached clients (tests that restart the embedded AWS call this)."""
    client.cache_clear()


def env(name: str, default: str | None = None) -> str:
    """A required setting from the function's environment, with a clear error."""
    value = os.environ.get(name, default)
    if value is None:
        raise RuntimeError(f"missing environment variable {name}")
    return value
