"""The local stack: template.yaml brought up on moto, handlers in-process.

    with LocalStack(parameters={"CoolingOffSeconds": "0"}) as stack:
        stack.post("/webhooks/woocommerce", body, headers)
        stack.wait_idle()

Everything is created from the template: tables (keys, streams, TTL),
queues, secrets (filled with values generated at start-up), functions
(with their environment), the state machine (definition file with its
substitutions resolved) and the stream event source mappings.
"""

from __future__ import annotations

import io
import json
import os
import secrets
import threading
import time
import zipfile
from pathlib import Path
from typing import Any

from backout_dev.lambdas import InProcessLambdas
from backout_dev.streams import StreamPoller
from backout_dev.template import ROOT, Resolver, load_template, parameter_defaults, resources_of

REGION = "us-east-1"
ACCOUNT = "123456789012"
LOCAL_ENV = {
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_DEV": "false",
}


def sfn_executions() -> list[tuple[Any, str]]:
    """Every execution in moto's memory with its status name ("" while moto is still creating it).

    Read in-process, not through ListExecutions: cheap for thousands, which the simulation and the
    throughput bench poll several times a second. moto's ``Execution.status`` raises until the
    execution's status is first set, so ``exec_status`` is read directly.
    """
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    out = []
    for ex in list(stepfunctions_parser_backends[ACCOUNT][REGION]._get_executions()):
        status = getattr(ex, "exec_status", None)
        out.append((ex, str(getattr(status, "value", status or ""))))
    return out


def generate_local_secrets() -> dict[str, Any]:
    """Fresh webhook and API secrets for one local stack (never committed)."""
    def tok() -> str:
        return secrets.token_urlsafe(24)

    import base64

    from backout_dev.sender import generate_provider_secrets

    providers = generate_provider_secrets()  # TikTok, Ozon, and PayPal with a throw-away fake CA
    return {
        "paypal_local": providers["paypal_local"],
        "webhooks": {
            **providers["webhooks"],
            "woocommerce": [tok()],
            "shopify": [tok()],
            "stripe": ["whsec_" + tok()],
            "aftership": [tok()],
            "easypost": [tok()],
            "standard": ["whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()],
        },
        "credentials": {
            "stripe_api_key": "sk_test_" + tok(),
            "woocommerce_key": "ck_" + tok(),
            "woocommerce_secret": "cs_" + tok(),
            "carrier_api_key": tok(),
            "ozon_client_id": str(secrets.randbelow(9_000_000) + 1_000_000),
            "ozon_api_key": tok(),
            "tiktok_app_key": tok()[:13],
            "tiktok_app_secret": tok(),
            "tiktok_access_token": "ROW_" + tok(),
            "tiktok_shop_cipher": "ROW_" + tok()[:16],
            "shopify_access_token": "shpat_" + tok(),
            "paypal_client_id": "local-" + tok()[:20],
            "paypal_client_secret": tok(),
        },
    }


def _item_rollback(transact_write_items: Any) -> Any:
    """moto's TransactWriteItems with a rollback of the touched items only.

    moto deep-copies every table a transaction names before it starts (to put the copy back
    on a failed condition): that costs time in proportion to the table, on every call. Here
    the table "copy" is the table itself and the items the transaction touches are saved and
    put back instead. Callers hold the write lock, so nothing else changes them meanwhile.
    """
    import copy
    import types

    import moto.dynamodb.models as models
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    def no_table_copy(value: Any, memo: Any = None) -> Any:
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)

    shim = types.SimpleNamespace(deepcopy=no_table_copy)

    def call(backend: Any, transact_items: list[dict[str, Any]]) -> Any:
        saved: list[tuple[Table, DynamoType, DynamoType | None, Any]] = []
        for entry in transact_items:
            op = next(iter(entry.values()), {})
            table = backend.tables.get(op.get("TableName")) if isinstance(op, dict) else None
            if table is None:
                continue
            key = op.get("Key") or op.get("Item") or {}
            hash_value = DynamoType(key[table.hash_key_attr])
            range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
            current = table.get_item(hash_value, range_value)
            saved.append((table, hash_value, range_value, copy.deepcopy(current)))
        models.copy = shim  # type: ignore[attr-defined]
        try:
            return transact_write_items(backend, transact_items)
        except Exception:
            for table, hash_value, range_value, item in reversed(saved):
                partition = table.items[hash_value] if range_value is not None else table.items
                slot = range_value if range_value is not None else hash_value
                if item is None:
                    partition.pop(slot, None)
                else:
                    partition[slot] = item
            raise
        finally:
            models.copy = copy  # type: ignore[attr-defined]

    return call


class LocalStack:
    """Brings the SAM template up on an embedded moto, with real handlers."""

    def __init__(self, parameters: dict[str, str] | None = None, env: dict[str, str] | None = None,
                 local_secrets: dict[str, Any] | None = None) -> None:
        self.template = load_template()
        self.parameters = parameter_defaults(self.template) | {"StageName": "local"} | (parameters or {})
        self.extra_env = env or {}
        self.secrets = local_secrets or generate_local_secrets()
        self.lambdas = InProcessLambdas()
        self._clients: dict[str, Any] = {}
        self._clients_lock = threading.Lock()
        self.refs: dict[str, Any] = {}
        self.attrs: dict[tuple[str, str], Any] = {}
        self.pollers: list[StreamPoller] = []
        self.routes: list[tuple[str, str, str]] = []
        self._mock: Any = None
        self._saved_env: dict[str, str | None] = {}

    # ------------------------------------------------------------ lifecycle
    def __enter__(self) -> "LocalStack":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Start moto, create every resource, start stream pollers."""
        from moto import mock_aws

        self._set_env(LOCAL_ENV)
        self._clients.clear()
        self._mock = mock_aws(config={"stepfunctions": {"execute_state_machine": True}})
        self._mock.start()
        self._lock_moto_puts()
        from backout_dev import moto_speedups, sfn_patches

        sfn_patches.install()  # moto vs AWS: a token completed before the heartbeat wait
        moto_speedups.install()  # memoise what moto recomputes per call (parses, clients, lookups)
        from backout import aws, credentials

        aws.reset_clients()
        self.lambdas.install()
        self.resolver = Resolver(self.parameters, self.refs, self._attr, REGION, ACCOUNT)
        self._create_tables()
        self._create_queues()
        self._create_secrets()
        credentials.clear_cache()
        self._create_functions()
        self._create_state_machines()
        self._start_pollers()

    def _lock_moto_puts(self) -> None:
        """DynamoDB's conditional PutItem is atomic; moto's is not under threads. Serialise it.

        Every other write is serialised with it: moto's TransactWriteItems deep-copies the whole
        table first and puts that copy back when a condition fails, which would otherwise
        crash on (or undo) another thread's concurrent write.
        """
        import threading

        from moto.dynamodb.models import DynamoDBBackend
        from moto.dynamodb.models.table import Table

        lock, original = threading.RLock(), Table.put_item
        self._original_put = original
        self._original_writes = {name: getattr(DynamoDBBackend, name)
                                 for name in ("update_item", "delete_item", "transact_write_items")}

        def locked(fn: Any) -> Any:
            def call(owner: Any, *args: Any, **kwargs: Any) -> Any:
                with lock:
                    return fn(owner, *args, **kwargs)
            return call

        Table.put_item = locked(original)  # type: ignore[method-assign]
        for name, fn in self._original_writes.items():
            setattr(DynamoDBBackend, name, locked(_item_rollback(fn) if name == "transact_write_items" else fn))

    def stop(self) -> None:
        """Stop pollers and moto; restore the environment."""
        for p in self.pollers:
            p.stop()
        if getattr(self, "_original_put", None) is not None:
            from moto.dynamodb.models.table import Table

            Table.put_item = self._original_put  # type: ignore[method-assign]
            from moto.dynamodb.models import DynamoDBBackend

            for name, fn in getattr(self, "_original_writes", {}).items():
                setattr(DynamoDBBackend, name, fn)
        self.lambdas.uninstall()
        from backout_dev import moto_speedups, sfn_patches

        moto_speedups.uninstall()
        sfn_patches.uninstall()
        if self._mock is not None:
            self._mock.stop()
            self._mock = None
        for k, v in self._saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        from backout import aws

        aws.reset_clients()

    def _set_env(self, values: dict[str, str]) -> None:
        for k, v in values.items():
            self._saved_env.setdefault(k, os.environ.get(k))
            os.environ[k] = str(v)

    def client(self, service: str) -> Any:
        """A boto3 client on the embedded AWS (one per service: creating one costs more than most calls,
        and the local HTTP API asks for one on every request)."""
        import boto3

        with self._clients_lock:
            if service not in self._clients:
                self._clients[service] = boto3.client(service, region_name=REGION)
            return self._clients[service]

    # ------------------------------------------------------------ resources
    def _attr(self, logical: str, attr: str) -> Any:
        if (logical, attr) in self.attrs:
            return self.attrs[(logical, attr)]
        raise KeyError(f"unresolved GetAtt {logical}.{attr}")

    def _create_tables(self) -> None:
        ddb = self.client("dynamodb")
        for logical, res in resources_of(self.template, "AWS::DynamoDB::Table").items():
            props = res["Properties"]
            name = f"backout-local-{logical}"
            kwargs: dict[str, Any] = {
                "TableName": name, "KeySchema": props["KeySchema"],
                "AttributeDefinitions": props["AttributeDefinitions"], "BillingMode": "PAY_PER_REQUEST",
            }
            for index in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):  # as the template declares them
                if props.get(index):
                    kwargs[index] = props[index]
            if "StreamSpecification" in props:
                kwargs["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
            desc = ddb.create_table(**kwargs)["TableDescription"]
            ttl = props.get("TimeToLiveSpecification")
            if ttl:
                ddb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
            self.refs[logical] = name
            self.attrs[(logical, "Arn")] = desc["TableArn"]
            self.attrs[(logical, "StreamArn")] = desc.get("LatestStreamArn", "")

    def _create_queues(self) -> None:
        sqs = self.client("sqs")
        for logical in resources_of(self.template, "AWS::SQS::Queue"):
            url = sqs.create_queue(QueueName=f"backout-local-{logical}")["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            self.refs[logical] = url
            self.attrs[(logical, "Arn")] = arn
            self.attrs[(logical, "QueueName")] = f"backout-local-{logical}"

    def _create_secrets(self) -> None:
        sm = self.client("secretsmanager")
        values = {"WebhookSecrets": self.secrets["webhooks"], "ProviderCredentials": self.secrets["credentials"]}
        for logical, res in resources_of(self.template, "AWS::SecretsManager::Secret").items():
            name = self.resolver.resolve(res["Properties"]["Name"])
            arn = sm.create_secret(Name=name, SecretString=json.dumps(values.get(logical, {})))["ARN"]
            self.refs[logical] = arn

    def _function_env(self, res: dict[str, Any]) -> dict[str, str]:
        glob = self.template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
        own = (res["Properties"].get("Environment") or {}).get("Variables", {})
        return {k: str(v) for k, v in self.resolver.resolve({**glob, **own}).items()}

    def _create_functions(self) -> None:
        lam = self.client("lambda")
        role = self.client("iam").create_role(RoleName="backout-local", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        functions = resources_of(self.template, "AWS::Serverless::Function")
        for logical in functions:  # ARNs are known before creation; env vars may refer to them
            self.refs[logical] = logical
            self.attrs[(logical, "Arn")] = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{logical}"
        for logical, res in resources_of(self.template, "AWS::Serverless::StateMachine").items():
            name = self._machine_name(logical, res)
            arn = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{name}"
            self.refs[logical] = arn
            self.attrs[(logical, "Name")] = name
            self.attrs[(logical, "Arn")] = arn
        merged: dict[str, str] = {}
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as zf:
            zf.writestr("app.py", "# the local stack runs the real handler in-process\n")
        for logical, res in functions.items():
            env = self._function_env(res)
            for k, v in env.items():  # handlers share one process: one value per variable
                if merged.get(k, v) != v:
                    raise RuntimeError(f"environment variable {k} differs between functions; rename it")
                merged[k] = v
            lam.create_function(FunctionName=logical, Runtime="python3.12", Role=role, Handler="app.handler",
                                Code={"ZipFile": code.getvalue()}, Timeout=60)
        self._set_env(merged | self.extra_env)  # before import: Powertools reads settings at import time
        for logical, res in functions.items():
            props = res["Properties"]
            self.lambdas.load(logical, ROOT / props["CodeUri"], props["Handler"])

    def _machine_name(self, logical: str, res: dict[str, Any]) -> str:
        """The template's ``Name`` (functions that start executions build the ARN from it), else the logical id."""
        name = res["Properties"].get("Name")
        return str(self.resolver.resolve({"name": name})["name"]) if name else logical

    def _create_state_machines(self) -> None:
        sfn = self.client("stepfunctions")
        for logical, res in resources_of(self.template, "AWS::Serverless::StateMachine").items():
            props = res["Properties"]
            text = (ROOT / props["DefinitionUri"]).read_text()
            for key, value in self.resolver.resolve(props.get("DefinitionSubstitutions", {})).items():
                text = text.replace("${" + key + "}", str(value))
            sfn.create_state_machine(name=self._machine_name(logical, res), definition=text,
                                     roleArn=f"arn:aws:iam::{ACCOUNT}:role/backout-local", type=props.get("Type", "STANDARD"))

    def _start_pollers(self) -> None:
        from moto.dynamodb.models import dynamodb_backends

        backend = dynamodb_backends[ACCOUNT][REGION]
        sqs = self.client("sqs")
        for logical, res in resources_of(self.template, "AWS::Serverless::Function").items():
            for ev in (res["Properties"].get("Events") or {}).values():
                if ev["Type"] != "DynamoDB":
                    continue
                props = ev["Properties"]
                stream_arn = self.resolver.resolve(props["Stream"])
                table_logical = props["Stream"]["Fn::GetAtt"][0]
                table = backend.get_table(self.refs[table_logical])
                dlq_arn = self.resolver.resolve(((props.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination"))
                dlq_url = next((self.refs[k] for (k, a), v in self.attrs.items() if a == "Arn" and v == dlq_arn), None)

                def send(message: dict[str, Any], url: str | None = dlq_url) -> None:
                    if url:
                        sqs.send_message(QueueUrl=url, MessageBody=json.dumps(message))

                poller = StreamPoller(shard_items=lambda t=table: t.stream_shard.items, function_name=logical,
                                      invoke=self.invoke, properties=props, send_to_dlq=send,
                                      stream_arn=stream_arn, region=REGION)
                poller.start()
                self.pollers.append(poller)

    # ------------------------------------------------------------ use
    def invoke(self, function: str, event: dict[str, Any]) -> tuple[dict[str, Any] | None, bool]:
        """Invoke a function through moto's Lambda API; returns (payload, errored)."""
        resp = self.client("lambda").invoke(FunctionName=function, Payload=json.dumps(event).encode())
        payload = resp["Payload"].read()
        data = json.loads(payload) if payload else None
        return data, "FunctionError" in resp

    def running_executions(self) -> int:
        """How many saga executions are busy (running and not parked on a task token)."""
        sfn = self.client("stepfunctions")
        total = 0
        for sm in sfn.list_state_machines()["stateMachines"]:
            for ex in sfn.list_executions(stateMachineArn=sm["stateMachineArn"], statusFilter="RUNNING")["executions"]:
                events = sfn.get_execution_history(executionArn=ex["executionArn"])["events"]
                if not events or events[-1]["type"] != "TaskSubmitted":  # TaskSubmitted: waiting for its token
                    total += 1
        return total

    def wait_idle(self, timeout: float = 60.0) -> None:
        """Block until every stream record is handled and no saga is running."""
        deadline = time.monotonic() + timeout
        quiet = 0
        while time.monotonic() < deadline:
            if all(p.idle for p in self.pollers) and self.running_executions() == 0:
                quiet += 1
                if quiet >= 3:
                    return
            else:
                quiet = 0
            time.sleep(0.05)
        raise TimeoutError("local stack still busy")

    def executions(self) -> list[dict[str, Any]]:
        """Every saga execution with its status."""
        sfn = self.client("stepfunctions")
        out: list[dict[str, Any]] = []
        for sm in sfn.list_state_machines()["stateMachines"]:
            out.extend(sfn.list_executions(stateMachineArn=sm["stateMachineArn"])["executions"])
        return out

    def webhook_secret(self, provider: str) -> str:
        """The current (first) local webhook secret of a provider."""
        return str(self.secrets["webhooks"][provider][0])

    def dump_secrets(self, path: Path) -> None:
        """Write the local secrets for `backout send` (file is git-ignored)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.secrets, indent=2))
        path.chmod(0o600)
