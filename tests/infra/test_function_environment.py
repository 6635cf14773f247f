"""Each function's Environment in template.yaml against the variables its code reads (issue 15 item 4).

The code a function runs is its ``functions/<dir>/app.py`` and every ``backout`` module it imports,
directly or not, at module level or inside a function (``import`` statements, read with ``ast``). A
variable that code *requires* (``os.environ[...]``, ``aws.env(NAME)`` without a default) must be set
for the function, and a variable set for the function must be read by that code: a missing one fails
at run time in AWS only, an unused one is a setting that does nothing. Globals are checked as shared:
each must be read by at least one function. Variables the Lambda runtime sets (``AWS_REGION``, ...)
and the ones Powertools reads itself are named below.
"""

from __future__ import annotations

import ast
import re
from functools import lru_cache
from pathlib import Path

import pytest

from backout_dev.template import ROOT, load_template, resources_of

TEMPLATE = load_template()
FUNCTIONS = resources_of(TEMPLATE, "AWS::Serverless::Function")
GLOBAL_ENV = set(TEMPLATE["Globals"]["Function"]["Environment"]["Variables"])
SHARED = ROOT / "shared"
NAME = re.compile(r"^[A-Z][A-Z0-9_]{2,}$")
#: Set by the Lambda runtime (https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime).
RUNTIME = {"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_LAMBDA_FUNCTION_VERSION"}
#: Read by Powertools itself (https://docs.powertools.aws.dev/lambda/python/latest/#environment-variables).
POWERTOOLS = {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOG_LEVEL",
              "POWERTOOLS_LOGGER_LOG_EVENT"}
#: Helpers whose first argument names a variable (``aws.env``, the receiver's ``_int_env``, the saga's ``val``).
READERS = {"env": "required", "_secret": "required", "_int_env": "optional", "int_env": "optional", "val": "optional"}


def _reads(tree: ast.AST) -> dict[str, bool]:
    """Variable name -> required, for every read in one module."""
    found: dict[str, bool] = {}

    def add(name: object, required: bool) -> None:
        if isinstance(name, str) and NAME.match(name):
            found[name] = found.get(name, False) or required

    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute) and node.value.attr == "environ":
            if isinstance(node.slice, ast.Constant):
                add(node.slice.value, True)
        if not isinstance(node, ast.Call) or not node.args or not isinstance(node.args[0], ast.Constant):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        owner = func.value if isinstance(func, ast.Attribute) else None
        if name == "get" and isinstance(owner, ast.Attribute) and owner.attr == "environ" or name == "getenv":
            add(node.args[0].value, False)
        elif name in READERS:
            add(node.args[0].value, READERS[name] == "required" and len(node.args) == 1 and not node.keywords)
    return found


def _module_file(module: str) -> Path | None:
    base = SHARED.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def _imports(tree: ast.AST, top_level_only: bool = False) -> set[str]:
    out: set[str] = set()
    nodes = [n for n in tree.body if not isinstance(n, ast.If)] + [
        b for n in tree.body if isinstance(n, ast.If) for b in n.body] if top_level_only else ast.walk(tree)
    for node in nodes:
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.split(".")[0] == "backout"}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "backout":
            out.add(node.module)
            out |= {f"{node.module}.{a.name}" for a in node.names if _module_file(f"{node.module}.{a.name}")}
    return out


@lru_cache(maxsize=None)
def _parsed(path: Path) -> ast.AST:
    return ast.parse(path.read_text(), str(path))


def code_reads(app: Path, top_level_only: bool = False) -> dict[str, bool]:
    """Every variable the function's code reads (required or optional), over its import closure.

    ``top_level_only`` follows only module-level imports: the code every invocation loads. Imports
    inside a function are the lazy seams where paths branch (a TikTok intake, one provider's client), so
    a read behind one counts as *read* (not unused) but is not demanded of every function that can reach it.
    """
    seen: set[Path] = set()
    todo = [app]
    reads: dict[str, bool] = {}
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        tree = _parsed(path)
        for name, required in _reads(tree).items():
            reads[name] = reads.get(name, False) or required
        for module in _imports(tree, top_level_only):
            parts = module.split(".")
            for i in range(1, len(parts) + 1):  # a package's __init__ runs before its module
                found = _module_file(".".join(parts[:i]))
                if found:
                    todo.append(found)
    return reads


def _env(props: dict) -> set[str]:
    return set(((props.get("Environment") or {}).get("Variables") or {}))


def _app(props: dict) -> Path:
    return ROOT / props["CodeUri"] / (props["Handler"].split(".")[0] + ".py")


READS = {logical: code_reads(_app(res["Properties"])) for logical, res in FUNCTIONS.items()}
LOADED = {logical: code_reads(_app(res["Properties"]), top_level_only=True) for logical, res in FUNCTIONS.items()}

#: Reads in a module the function loads, on a path the function never takes (module granularity is coarse).
_MARGIN = {"GUARDRAIL_MARGIN_PERCENT"}  # ops.guardrails.margin_percent: only OrdersFunction's begin asks it
_RECEIVER = {"MAX_BODY_BYTES", "REPLAY_WINDOW_SECONDS"}  # receiver.Settings: only the three receivers build it
_START = {"CANCELLATION_STATE_MACHINE_ARN"}  # adapters.stepfunctions.start: these only complete or heartbeat tokens
NOT_ON_PATH: dict[str, set[str]] = {
    "AuditFunction": _MARGIN, "GuardrailsFunction": _MARGIN, "InventoryFunction": _MARGIN, "PaymentsFunction": _MARGIN,
    # it reads inbox items (receiver.read_inbox_item); it neither receives nor writes one (receiver.inbox_item)
    "DispatcherFunction": _MARGIN | _RECEIVER | {"INBOX_RETENTION_DAYS"},
    # the poller writes inbox items (receiver.inbox_item) and builds only the Ozon client of saga.providers
    "OzonPollerFunction": _RECEIVER | {"CARRIER_API_BASE_URL", "SHOPIFY_API_BASE_URL", "TIKTOK_API_BASE_URL",
                                       "WOOCOMMERCE_BASE_URL"},
    "OperatorFunction": _START, "PlatformsFunction": _START,
}


def test_the_scanner_sees_the_reads_it_must() -> None:
    dispatcher = READS["DispatcherFunction"]
    assert dispatcher["ORDERS_TABLE"] is True  # aws.env in repo/orders.py
    assert dispatcher["CANCELLATION_STATE_MACHINE_ARN"] is True  # adapters/stepfunctions.py
    assert dispatcher["COOLING_OFF_SECONDS"] is False  # os.environ.get with a default
    assert READS["PlatformsFunction"]["WOOCOMMERCE_BASE_URL"] is True  # os.environ[...] in saga/providers.py


#: Variables the template sets somewhere from a Parameter: code that reads one with a default would
#: silently use the default instead of the stack's setting, so wherever it is read it must be set.
FROM_PARAMETERS = {name for res in FUNCTIONS.values()
                   for name, value in ((res["Properties"].get("Environment") or {}).get("Variables") or {}).items()
                   if isinstance(value, dict) and value.get("Ref") in TEMPLATE["Parameters"]}


def _needed(logical: str) -> set[str]:
    return {name for name, required in LOADED[logical].items() if required or name in FROM_PARAMETERS}


@pytest.mark.parametrize("logical", sorted(FUNCTIONS))
def test_every_variable_the_code_requires_is_set(logical: str) -> None:
    env = _env(FUNCTIONS[logical]["Properties"]) | GLOBAL_ENV | RUNTIME
    missing = _needed(logical) - env - NOT_ON_PATH.get(logical, set())
    assert not missing, f"{logical} reads {sorted(missing)}, which its Environment does not set"


def test_each_exemption_is_still_needed() -> None:
    """An exemption that no longer names a missing read is removed, so the list stays true."""
    for logical, names in NOT_ON_PATH.items():
        env = _env(FUNCTIONS[logical]["Properties"]) | GLOBAL_ENV
        assert names <= _needed(logical) - env, (logical, names - (_needed(logical) - env))


@pytest.mark.parametrize("logical", sorted(FUNCTIONS))
def test_every_variable_set_for_a_function_is_read_by_its_code(logical: str) -> None:
    unused = _env(FUNCTIONS[logical]["Properties"]) - set(READS[logical]) - POWERTOOLS
    assert not unused, f"{logical} sets {sorted(unused)}, which its code never reads"


def test_every_global_variable_is_read_by_some_function() -> None:
    read_anywhere = set().union(*READS.values())
    unused = GLOBAL_ENV - read_anywhere - POWERTOOLS
    assert not unused, f"Globals set {sorted(unused)}, which no function reads"
