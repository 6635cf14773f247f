"""Table 3: cold start, the import time of each function's module in a fresh interpreter, against ``import boto3``.

Each measurement is its own ``python`` process (nothing cached in memory;
the file system cache is warm, as on a warm Lambda host). The child times
the import with ``time.process_time``, the CPU the import itself took, so
time the process spent waiting for a busy machine is not counted. Rounds
interleave every module with ``import boto3``; the figures are medians.

A receiver imports boto3 only when it first writes (``backout.aws``), so
its module import alone is well under boto3's. The budget is therefore held
against the **cold path**: the module plus every module the first
acknowledgement imports (boto3 and Powertools parameters), which is what a
cold invocation really pays before it can answer. Its ratio to boto3 is
measured inside one process, so that both sides see the same machine: the
child imports boto3 (timed), then the module and the rest of its cold path
(timed). The set of modules imported is the cold path's whichever comes
first, so the sum is the cold path and the first part is ``import boto3``
alone.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from typing import Any

from backout_dev.bench.report import Table, verdict
from backout_dev.stack import LOCAL_ENV
from backout_dev.template import ROOT, load_template, parameter_defaults, resources_of

#: Budget: a receiver's cold path over ``import boto3`` alone.
RECEIVER_IMPORT_BUDGET = 1.15
RECEIVERS = ("platform_webhooks", "gateway_webhooks", "carrier_webhooks")
#: The provider whose first delivery each receiver's cold path answers (PayPal's adds cryptography, on first use).
COLD_PATH_PROVIDER = {"platform_webhooks": "woocommerce", "gateway_webhooks": "stripe", "carrier_webhooks": "aftership"}

_ACK_CHILD = r"""
import importlib.util, json, sys
spec = json.load(sys.stdin)
import boto3
from botocore.awsrequest import AWSResponse

class Raw:
    def __init__(self, body): self.body = body
    def stream(self, **kwargs): yield self.body

def null_endpoint(request, **kwargs):  # answers like AWS, stores nothing
    target = request.headers.get("X-Amz-Target", b"")
    target = target.decode() if isinstance(target, bytes) else target
    body = {"Name": "s", "ARN": "arn:aws:secretsmanager:us-east-1:1:secret:s", "SecretString": spec["secret"]} \
        if target.endswith("GetSecretValue") else {}
    return AWSResponse(request.url, 200, {}, Raw(json.dumps(body).encode()))

from botocore import handlers
handlers.BUILTIN_HANDLERS.append(("before-send", null_endpoint))  # every session made from now on
before = set(sys.modules)
module_spec = importlib.util.spec_from_file_location("app", spec["path"])
app = importlib.util.module_from_spec(module_spec)
module_spec.loader.exec_module(app)  # a receiver loads and checks its webhook configuration here (init)
status = app.handler(spec["event"], None)["statusCode"]
print(json.dumps({"status": status, "imported": sorted(set(sys.modules) - before)}))
"""

#: Run before a receiver module is imported: its init reads the webhook secret (answered ``{}``, no network).
_NULL_SECRET = r"""
import json as _json
from botocore import handlers as _handlers
from botocore.awsrequest import AWSResponse as _Response

class _Raw:
    def __init__(self, body): self.body = body
    def stream(self, **kwargs): yield self.body

def _null(request, **kwargs):
    body = {"Name": "s", "ARN": "arn:aws:secretsmanager:us-east-1:1:secret:s", "SecretString": "{}"}
    return _Response(request.url, 200, {}, _Raw(_json.dumps(body).encode()))

_handlers.BUILTIN_HANDLERS.append(("before-send", _null))
"""

_CHILD = "NULL_SECRET = " + repr(_NULL_SECRET) + r"""
import importlib.util, sys, time
path = sys.argv[1]
start = time.process_time()
if path == "-":
    import boto3
else:
    exec(NULL_SECRET)  # a receiver's init reads the webhook secret (botocore's import is its own cost anyway)
    spec = importlib.util.spec_from_file_location("app", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
print(time.process_time() - start)
"""

_COLD_CHILD = "NULL_SECRET = " + repr(_NULL_SECRET) + r"""
import importlib, importlib.util, sys, time
path, extra = sys.argv[1], [m for m in sys.argv[2].split(",") if m]
start = time.process_time()
import boto3
middle = time.process_time()
exec(NULL_SECRET)  # a receiver's init reads the webhook secret: its client and call are on the cold path
spec = importlib.util.spec_from_file_location("app", path)
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
for name in extra:
    importlib.import_module(name)
print(middle - start, time.process_time() - start)
"""


def _env(props: dict[str, Any], template: dict[str, Any]) -> dict[str, str]:
    """What Lambda would set: the template's variables (parameters at their defaults, other references a placeholder)."""
    glob = template["Globals"]["Function"]["Environment"]["Variables"]
    own = (props.get("Environment") or {}).get("Variables") or {}
    params = parameter_defaults(template)

    def value(v: Any) -> Any:
        if isinstance(v, dict) and "Ref" in v:
            return params.get(v["Ref"], "bench")
        return v if isinstance(v, (str, int, float)) else "bench"

    values = {k: value(v) for k, v in {**glob, **own}.items()}
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT / "shared")}
    return base | LOCAL_ENV | {k: str(v) for k, v in values.items()}


def _run(code: str, env: dict[str, str], path: str, *extra: str) -> list[float]:
    """Run a timing child on ``path`` (``-``: boto3 alone); its figures in ms of CPU."""
    done = subprocess.run([sys.executable, "-c", code, path, ",".join(extra)], env=env, capture_output=True,
                          text=True, timeout=120, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"importing {path} failed: {done.stderr.strip().splitlines()[-1:]}")
    return [float(x) * 1000 for x in done.stdout.split()]


def ack_path_imports(folder: str, env: dict[str, str]) -> tuple[str, ...]:
    """What a receiver's first acknowledgement imports beyond its module: ``boto3`` plus what is new after it.

    Found by answering one signed delivery in a fresh interpreter, against a
    null endpoint (botocore ``before-send`` hook; nothing is stored).
    """
    from backout_dev.bench.deliveries import bench_secrets, signed_events

    secrets = bench_secrets()
    spec = {"path": str(ROOT / "functions" / folder / "app.py"), "secret": json.dumps(secrets["webhooks"]),
            "event": signed_events(COLD_PATH_PROVIDER[folder], 1, secrets)[0]}
    done = subprocess.run([sys.executable, "-c", _ACK_CHILD], input=json.dumps(spec), env=env, capture_output=True,
                          text=True, timeout=120, cwd=ROOT)
    result = json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 else {}
    if result.get("status") != 200:
        raise RuntimeError(f"{folder}: the cold-path delivery was not answered 200: "
                           f"{done.stdout[-800:]} {done.stderr[-800:]}")
    return ("boto3", *(m for m in result["imported"] if not m.startswith("_")))


def measure_imports(rounds: int = 7, folders: tuple[str, ...] | None = None) -> dict[str, Any]:
    """Median import CPU (ms) per function folder and of boto3 alone; for receivers also the cold path.

    Keys: ``boto3``, ``<folder>`` (the module alone), ``<folder>+ack`` (the cold path, ms) and
    ``<folder>+ack÷`` (its ratio to ``import boto3`` in the same process), ``rounds``, ``lazy``.
    """
    template = load_template()
    functions = {str(res["Properties"]["CodeUri"]).strip("/").split("/")[-1]: res["Properties"]
                 for res in resources_of(template, "AWS::Serverless::Function").values()}
    chosen = [f for f in sorted(functions) if folders is None or f in folders]
    samples: dict[str, list[float]] = {"boto3": []}
    env0 = _env({}, template)
    lazy = {f: ack_path_imports(f, _env(functions[f], template)) for f in chosen if f in RECEIVERS}
    for _ in range(rounds):
        samples["boto3"].append(_run(_CHILD, env0, "-")[0])
        for folder in chosen:
            path = str(ROOT / "functions" / folder / "app.py")
            env = _env(functions[folder], template)
            samples.setdefault(folder, []).append(_run(_CHILD, env, path)[0])
            if folder in lazy:
                boto3_ms, cold_ms = _run(_COLD_CHILD, env, path, *lazy[folder][1:])
                samples.setdefault(f"{folder}+ack", []).append(cold_ms)
                samples.setdefault(f"{folder}+ack÷", []).append(cold_ms / boto3_ms)
    return {name: statistics.median(values) for name, values in samples.items()} | {"rounds": rounds, "lazy": lazy}


def coldstart_table(medians: dict[str, Any]) -> Table:
    """Table 3 from :func:`measure_imports`."""
    boto3_ms = float(medians["boto3"])
    table = Table(f"3. Cold start: module import in a fresh interpreter (median of {medians['rounds']} runs, "
                  "ms of CPU)", ["function module", "import ms", "÷ boto3", "cold path ms", "cold path ÷ boto3",
                                 "budget", "≤1.15"])
    table.rows.append(["import boto3 (reference)", boto3_ms, 1.0, "-", "-", "-", "-"])
    failing = []
    for folder in sorted(k for k in medians if k not in ("boto3", "rounds", "lazy") and "+ack" not in k):
        ms = float(medians[folder])
        if folder in RECEIVERS:
            ratio = float(medians[f"{folder}+ack÷"])
            held = ratio <= RECEIVER_IMPORT_BUDGET
            failing += [] if held else [folder]
            table.rows.append([f"functions/{folder}", ms, round(ms / boto3_ms, 3), float(medians[f"{folder}+ack"]),
                               round(ratio, 3), "receiver", verdict(held)])
        else:
            table.rows.append([f"functions/{folder}", ms, round(ms / boto3_ms, 3), "-", "-", "none", "-"])
    worst = max((float(medians[f"{f}+ack÷"]) for f in RECEIVERS if f"{f}+ack÷" in medians), default=0.0)
    table.budget(f"receiver cold path ÷ boto3 ≤ {RECEIVER_IMPORT_BUDGET}", not failing,
                 f"worst {worst:.3f}" if not failing else
                 f"{', '.join(failing)} over budget: see which module is heavy with "
                 "`python -X importtime functions/<f>/app.py` and import it where it is used")
    table.notes.append("CPU time of each child (time.process_time). cold path ÷ boto3 is measured in one process: "
                       "`import boto3` (timed), then the module and the rest of its cold path (timed); the whole "
                       "over the first part (so it is not the quotient of two medians taken in different processes)")
    table.notes.append("cold path = the module, then what its first acknowledgement imports (found by answering "
                       "one delivery in a fresh interpreter against a null endpoint): boto3, then "
                       + "; ".join(f"{f}: {', '.join(_roots(mods[1:])) or '-'}"
                                   for f, mods in medians.get("lazy", {}).items())
                       + ". PayPal's first delivery also imports cryptography. Other functions have no budget.")
    return table


def _roots(modules: tuple[str, ...] | list[str]) -> list[str]:
    """The modules whose parent package is not in the list (``a.b`` for ``a.b``, ``a.b.c``, ``a.b.d``)."""
    names = set(modules)
    return sorted(m for m in names if m.rsplit(".", 1)[0] not in names or "." not in m)
