"""The SAM template and the state machine definitions are valid and agree with the code."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from backout.errors import ERROR_NAMES
from backout_dev.template import ROOT, load_template, resources_of

TEMPLATE = load_template()
STATE_MACHINES = resources_of(TEMPLATE, "AWS::Serverless::StateMachine")
FUNCTIONS = resources_of(TEMPLATE, "AWS::Serverless::Function")
ASL_FILES = sorted((ROOT / "statemachines").glob("*.asl.json"))
BIN = Path(sys.executable).parent


def _walk_states(states: dict[str, Any]) -> dict[str, Any]:
    """All states, including those nested in Parallel branches and Map iterators."""
    found = dict(states)
    for state in states.values():
        for branch in state.get("Branches", []):
            found |= _walk_states(branch["States"])
        for key in ("Iterator", "ItemProcessor"):
            if key in state:
                found |= _walk_states(state[key]["States"])
    return found


def test_cfn_lint_passes() -> None:
    result = subprocess.run([str(BIN / "cfn-lint"), str(ROOT / "template.yaml")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("asl", ASL_FILES, ids=lambda p: p.name)
def test_statelint_passes(asl: Path) -> None:
    result = subprocess.run([str(BIN / "statelint"), str(asl)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_asl_file_is_used_by_the_template() -> None:
    used = {ROOT / sm["Properties"]["DefinitionUri"] for sm in STATE_MACHINES.values()}
    assert set(ASL_FILES) == used


@pytest.mark.parametrize("logical", sorted(FUNCTIONS))
def test_every_handler_imports(logical: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from backout.ingress import receiver

    # a receiver loads and checks its webhook configuration when its handler is made (Lambda init)
    monkeypatch.setattr(receiver, "load_webhook_config", lambda settings=None: {})
    props = FUNCTIONS[logical]["Properties"]
    module, attr = props["Handler"].rsplit(".", 1)
    path = ROOT / props["CodeUri"] / f"{module}.py"
    spec = importlib.util.spec_from_file_location(f"check_{logical}", path)
    assert spec and spec.loader, path
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert callable(getattr(mod, attr))


@pytest.mark.parametrize("logical", sorted(STATE_MACHINES))
def test_asl_references_exist(logical: str) -> None:
    props = STATE_MACHINES[logical]["Properties"]
    text = (ROOT / props["DefinitionUri"]).read_text()
    subs = props.get("DefinitionSubstitutions", {})
    # every ${placeholder} in the definition has a substitution, and every substitution is used
    placeholders = set(re.findall(r"\$\{(\w+)\}", text))
    assert placeholders == set(subs), (placeholders, set(subs))
    # every substitution points at a resource that exists in the template
    for key, value in subs.items():
        target = value.get("Fn::GetAtt", [None])[0] if isinstance(value, dict) and "Fn::GetAtt" in value else (
            value.get("Ref") if isinstance(value, dict) else None)
        assert target in TEMPLATE["Resources"], f"{key} -> {value}"
    # every Lambda the definition invokes is granted to the state machine
    granted = {p["LambdaInvokePolicy"]["FunctionName"]["Ref"] for p in props["Policies"] if "LambdaInvokePolicy" in p}
    invoked = {subs[k]["Fn::GetAtt"][0] for k in placeholders if k.endswith("FunctionArn")}
    assert invoked <= granted
    # every Next / Default / Catch target names a state, and error names are ones the code defines
    definition = json.loads(text)
    states = _walk_states(definition["States"])
    assert definition["StartAt"] in states
    for name, state in states.items():
        targets = [state.get("Next"), state.get("Default")] + [c["Next"] for c in state.get("Choices", [])] + [
            c["Next"] for c in state.get("Catch", [])]
        for target in filter(None, targets):
            assert target in states, f"{name} -> {target}"
        for rule in state.get("Retry", []) + state.get("Catch", []):
            for error in rule["ErrorEquals"]:
                assert error.startswith(("States.", "Lambda.")) or error in ERROR_NAMES, f"{name}: {error}"


def test_tables_used_by_functions_exist() -> None:
    env = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    for key, value in env.items():
        if isinstance(value, dict) and "Ref" in value and key.endswith("_TABLE"):
            assert TEMPLATE["Resources"][value["Ref"]]["Type"] == "AWS::DynamoDB::Table"


def test_no_plaintext_secrets_in_template() -> None:
    text = (ROOT / "template.yaml").read_text()
    assert not re.search(r"(whsec_|sk_live_|sk_test_)[A-Za-z0-9]", text)
    for res in resources_of(TEMPLATE, "AWS::SecretsManager::Secret").values():
        assert "SecretString" not in res["Properties"]


# ---------------------------------------------------------------- operations: alarms, dashboard, dead letters


def _backout_metrics_in_template() -> set[str]:
    """Every metric name in namespace Backout that an alarm or the dashboard refers to."""
    used = {res["Properties"]["MetricName"] for res in resources_of(TEMPLATE, "AWS::CloudWatch::Alarm").values()
            if res["Properties"].get("Namespace") == "Backout"}
    for dash in resources_of(TEMPLATE, "AWS::CloudWatch::Dashboard").values():
        body = dash["Properties"]["DashboardBody"]["Fn::Sub"][0]
        used |= set(re.findall(r'\["Backout", "(\w+)"', body))
        used |= set(re.findall(r'\{Backout,[\w,]+\} MetricName=\\"(\w+)\\"', body))
    return used


def test_alarm_and_dashboard_metric_names_are_ones_the_code_emits() -> None:
    from backout import metric_names

    declared = {v for k, v in vars(metric_names).items() if k.isupper() and isinstance(v, str) and k != "NAMESPACE"}
    used = _backout_metrics_in_template()
    assert {"CancellationRate", "InventoryErrorRate", "WeeklyCancellationsExceeded", "WebhooksReceived"} <= used
    assert used <= declared, used - declared
    # "emitted": each name the template uses is passed to an emitter somewhere in the functions or the layer
    code = "\n".join(p.read_text() for d in ("shared/backout", "functions") for p in (ROOT / d).rglob("*.py")
                     if p.name != "metric_names.py")
    constant = {v: k for k, v in vars(metric_names).items() if k.isupper() and isinstance(v, str)}
    not_emitted = {name for name in used if f"names.{constant[name]}" not in code}
    assert not not_emitted, not_emitted


def test_guardrail_alarms_match_the_guardrails_in_code() -> None:
    from backout.metric_names import GUARDRAIL_NAMES
    from backout.ops.rates import GUARDRAILS

    assert set(GUARDRAIL_NAMES) == {g.name for g in GUARDRAILS}
    alarms = resources_of(TEMPLATE, "AWS::CloudWatch::Alarm").values()
    thresholds = {d["Value"]: a["Properties"]["Threshold"] for a in alarms for d in a["Properties"].get("Dimensions", [])
                  if d["Name"] == "guardrail"}
    assert thresholds == {g.name: g.threshold_percent for g in GUARDRAILS}
    # Powertools adds the service dimension: an alarm without it would watch a metric nobody writes
    for alarm in alarms:
        if alarm["Properties"].get("Namespace") == "Backout":
            assert {"Name": "service", "Value": "backout"} in alarm["Properties"]["Dimensions"]
            assert alarm["Properties"]["AlarmActions"] == [{"Ref": "OpsAlarmTopic"}]


def test_every_asynchronous_path_has_a_dead_letter_queue() -> None:
    for logical, res in FUNCTIONS.items():
        for name, event in (res["Properties"].get("Events") or {}).items():
            props = event["Properties"]
            if event["Type"] in ("DynamoDB", "SQS", "Kinesis"):
                assert (props.get("DestinationConfig") or {}).get("OnFailure"), f"{logical}.{name}"
            elif event["Type"] in ("Schedule", "ScheduleV2", "EventBridgeRule"):
                assert props.get("DeadLetterConfig"), f"{logical}.{name}"


def test_long_waits_heartbeat_and_the_watchdog_watches_exactly_them() -> None:
    """Every wait with a heartbeat is one the watchdog beats for (and the dispatcher sets its interval)."""
    from backout.dispatch import _timeouts
    from backout.watchdog import WAITS

    definition = json.loads((ROOT / "statemachines" / "cancellation.asl.json").read_text())
    states = _walk_states(definition["States"])
    beating = {name: s for name, s in states.items() if "HeartbeatSecondsPath" in s}
    assert set(beating) == {"AwaitPlatformDecision", "AwaitIntercept", "AwaitReturn", "AwaitRefundSettlement"}
    assert {s["Parameters"]["Payload"]["purpose"] for s in beating.values()} == set(WAITS)
    for name, state in beating.items():
        assert state["HeartbeatSecondsPath"].removeprefix("$.timeouts.") in _timeouts(), name
        no_retry = next(r for r in state["Retry"] if r.get("MaxAttempts") == 0)["ErrorEquals"]
        assert {"States.Timeout", "States.HeartbeatTimeout"} <= set(no_retry), name
        assert any("States.ALL" in c["ErrorEquals"] and c["Next"] == "HoldForOperator" for c in state["Catch"]), name
    watchdog = FUNCTIONS["WatchdogFunction"]["Properties"]
    assert watchdog["Events"]["Hourly"]["Properties"]["Schedule"] == "rate(1 hour)"
    platforms_env = FUNCTIONS["PlatformsFunction"]["Properties"]["Environment"]["Variables"]
    asked = {k for k in platforms_env if not k.startswith("HIGH_VALUE_")}  # the guard is the saga's, not the probe's
    assert asked <= set(watchdog["Environment"]["Variables"])  # it asks the same providers
