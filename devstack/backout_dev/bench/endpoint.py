"""The acknowledgement benchmark's AWS: the template's inbox table and webhook secret on in-process moto.

Only what the acknowledgement path touches is created (no stream poller, no
saga), so nothing runs in the background while CPU time is measured. The
receiver functions are loaded from ``functions/*/app.py`` as Lambda would.
"""

from __future__ import annotations

import importlib.util
import io
import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

from backout_dev.stack import LOCAL_ENV, REGION
from backout_dev.template import ROOT, load_template, parameter_defaults

INBOX_TABLE = "backout-bench-inbox"
SECRET_NAME = "backout/bench/webhook-secrets"


def receiver_env(template: dict[str, Any]) -> dict[str, str]:
    """The receiver functions' environment: template Globals and tunables at their defaults (metrics on, as deployed)."""
    glob = template["Globals"]["Function"]["Environment"]["Variables"]
    params = parameter_defaults(template)
    return LOCAL_ENV | {k: str(v) for k, v in glob.items() if k.startswith("POWERTOOLS_")} | {
        "POWERTOOLS_METRICS_DISABLED": "false",
        "INBOX_TABLE": INBOX_TABLE, "WEBHOOK_SECRETS_NAME": SECRET_NAME,
        "REPLAY_WINDOW_SECONDS": str(params["ReplayWindowSeconds"]), "MAX_BODY_BYTES": str(params["MaxWebhookBodyBytes"]),
        "INBOX_RETENTION_DAYS": str(params["InboxRetentionDays"]),
    }


@contextmanager
def patched_env(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables for the block, then restore them."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def forget_clients() -> None:
    """Drop cached boto3 clients and secrets, so the next ones are made on this endpoint."""
    from aws_lambda_powertools.utilities.parameters import base

    from backout import aws, credentials

    aws.reset_clients()
    credentials.clear_cache()
    base.DEFAULT_PROVIDERS.clear()


@contextmanager
def inbox_endpoint(secrets: dict[str, Any]) -> Iterator[Any]:
    """moto with the template's InboxTable and the webhook secret; yields a DynamoDB client on it."""
    import boto3
    from moto import mock_aws

    from backout.ingress import receiver
    from backout_dev.sender import paypal_cert_fetcher

    template = load_template()
    props = template["Resources"]["InboxTable"]["Properties"]
    with patched_env(receiver_env(template)), mock_aws():
        forget_clients()
        ddb = boto3.client("dynamodb", region_name=REGION)
        ddb.create_table(TableName=INBOX_TABLE, KeySchema=props["KeySchema"], BillingMode="PAY_PER_REQUEST",
                         AttributeDefinitions=props["AttributeDefinitions"],
                         StreamSpecification={"StreamEnabled": True, **props["StreamSpecification"]})
        boto3.client("secretsmanager", region_name=REGION).create_secret(
            Name=SECRET_NAME, SecretString=json.dumps(secrets["webhooks"]))
        saved_fetcher = receiver.fetch_paypal_cert
        receiver.fetch_paypal_cert = paypal_cert_fetcher(secrets)
        receiver.clear_paypal_cert_cache()
        try:
            yield ddb
        finally:
            receiver.fetch_paypal_cert = saved_fetcher
            receiver.clear_paypal_cert_cache()
            forget_clients()


@contextmanager
def receivers(sink: io.TextIOBase | None = None) -> Iterator[dict[str, ModuleType]]:
    """The three receiver modules, imported as Lambda would, logging at the template's level into ``sink``.

    Lambda writes log lines to stdout; here they go to ``sink`` (default: discarded). The
    service logger's stream and level are restored afterwards.
    """
    logger = logging.getLogger(os.environ.get("POWERTOOLS_SERVICE_NAME", "backout"))
    level = logger.level  # before Powertools configures it
    modules = {folder: _load(folder) for folder in ("platform_webhooks", "gateway_webhooks", "carrier_webhooks")}
    stream = sink or open(os.devnull, "w")  # noqa: SIM115 - closed below when it is ours
    streams = [(h, h.setStream(stream)) for h in logger.handlers if isinstance(h, logging.StreamHandler)]
    logger.setLevel(os.environ.get("POWERTOOLS_LOG_LEVEL", "INFO"))
    try:
        yield modules
    finally:
        logger.setLevel(level)
        for handler, previous in streams:
            handler.setStream(previous)
        if sink is None:
            stream.close()


def _load(folder: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"backout_bench_{folder}", ROOT / "functions" / folder / "app.py")
    if spec is None or spec.loader is None:
        raise ImportError(folder)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
