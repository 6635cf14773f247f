"""Read template.yaml and resolve the intrinsics the local stack needs.

The local stack builds every resource from the template itself, so what
runs locally and what SAM deploys cannot drift apart.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable

import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"

_SHORT = {"Ref": "Ref", "Sub": "Fn::Sub", "GetAtt": "Fn::GetAtt", "Join": "Fn::Join", "Select": "Fn::Select",
          "If": "Fn::If", "Equals": "Fn::Equals", "Not": "Fn::Not", "ImportValue": "Fn::ImportValue",
          "Split": "Fn::Split", "FindInMap": "Fn::FindInMap", "GetAZs": "Fn::GetAZs", "Base64": "Fn::Base64"}


class _CfnLoader(yaml.SafeLoader):
    """A YAML loader that turns CloudFormation short tags into long form."""


def _construct(loader: _CfnLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = _SHORT.get(tag_suffix, f"Fn::{tag_suffix}")
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if name == "Fn::GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CfnLoader.add_multi_constructor("!", _construct)


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    """The template as plain data, short tags expanded."""
    return dict(yaml.load(path.read_text(), Loader=_CfnLoader))  # noqa: S506 - SafeLoader subclass


def resources_of(template: dict[str, Any], *types: str) -> dict[str, dict[str, Any]]:
    """Logical id -> resource for the given resource types."""
    return {k: v for k, v in template["Resources"].items() if v["Type"] in types}


class Resolver:
    """Evaluates Ref, GetAtt and Sub against the local stack's physical values."""

    def __init__(self, parameters: dict[str, Any], refs: dict[str, Any], attrs: Callable[[str, str], Any],
                 region: str, account: str) -> None:
        self.parameters = parameters
        self.refs = refs
        self.attrs = attrs
        self.pseudo = {"AWS::Region": region, "AWS::AccountId": account, "AWS::URLSuffix": "amazonaws.com",
                       "AWS::StackName": "backout-local", "AWS::Partition": "aws"}

    def ref(self, name: str) -> Any:
        """Value of a Ref."""
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.refs:
            return self.refs[name]
        raise KeyError(f"unresolved Ref {name}")

    def resolve(self, value: Any) -> Any:
        """Resolve intrinsics anywhere inside ``value``."""
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, arg), = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::GetAtt":
                logical, attr = arg if isinstance(arg, list) else str(arg).split(".", 1)
                return self.attrs(logical, attr)
            if key == "Fn::Sub":
                return self._sub(arg)
        return {k: self.resolve(v) for k, v in value.items()}

    def _sub(self, arg: Any) -> str:
        text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))

        def repl(m: re.Match[str]) -> str:
            name = m.group(1)
            if name in extra:
                return str(extra[name])
            if "." in name:
                logical, attr = name.split(".", 1)
                return str(self.attrs(logical, attr))
            return str(self.ref(name))

        return re.sub(r"\$\{([^}!]+)\}", repl, text)


def parameter_defaults(template: dict[str, Any]) -> dict[str, Any]:
    """Parameter name -> default value (as CloudFormation passes it: a string)."""
    return {k: str(v.get("Default", "")) for k, v in template.get("Parameters", {}).items()}


def http_routes(template: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(method, path, function logical id) for every HttpApi event in the template."""
    routes = []
    for logical, res in resources_of(template, "AWS::Serverless::Function").items():
        for ev in (res["Properties"].get("Events") or {}).values():
            if ev["Type"] == "HttpApi":
                routes.append((ev["Properties"]["Method"].upper(), ev["Properties"]["Path"], logical))
    return routes


def iam_routes(template: dict[str, Any]) -> set[tuple[str, str]]:
    """(method, path) of every HttpApi route whose authorizer is AWS_IAM (API Gateway checks SigV4 there)."""
    routes = set()
    for res in resources_of(template, "AWS::Serverless::Function").values():
        for ev in (res["Properties"].get("Events") or {}).values():
            props = ev.get("Properties") or {}
            if ev["Type"] == "HttpApi" and (props.get("Auth") or {}).get("Authorizer") == "AWS_IAM":
                routes.add((props["Method"].upper(), props["Path"]))
    return routes
