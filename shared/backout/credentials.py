"""Secrets, fetched from Secrets Manager through Powertools parameters (cached)."""

from __future__ import annotations

from typing import Any

from backout import aws

#: How long a fetched secret is reused before asking Secrets Manager again.
SECRET_MAX_AGE_SECONDS = 300


def _secret(name_env: str) -> dict[str, Any]:
    from aws_lambda_powertools.utilities import parameters

    value = parameters.get_secret(aws.env(name_env), transform="json", max_age=SECRET_MAX_AGE_SECONDS)
    if not isinstance(value, dict):
        raise RuntimeError(f"secret {name_env} must hold a JSON object")
    return value


def provider_credentials() -> dict[str, Any]:
    """Outbound API credentials (stripe_api_key, woocommerce_key, ...)."""
    return _secret("PROVIDER_CREDENTIALS_NAME")


def webhook_secrets(provider: str) -> list[str]:
    """The active webhook secrets of a provider (several during a rotation)."""
    value = _secret("WEBHOOK_SECRETS_NAME").get(provider, [])
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


def clear_cache() -> None:
    """Forget cached secrets (after a rotation in tests)."""
    from aws_lambda_powertools.utilities import parameters

    parameters.clear_caches()
