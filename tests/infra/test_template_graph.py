"""CloudFormation refuses a template whose resources depend on each other in a circle
(cfn-lint misses the SAM-level ones): every Ref, GetAtt and ${Sub} between resources is an edge."""

from __future__ import annotations

import re
from typing import Any

from backout_dev.template import load_template

_SUB = re.compile(r"\$\{([A-Za-z0-9]+)(?:\.[A-Za-z0-9.]+)?\}")


def _refs(node: Any, names: set[str]) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str) and value in names:
                found.add(value)
            elif key == "Fn::GetAtt":
                target = value[0] if isinstance(value, list) else str(value).split(".", 1)[0]
                if target in names:
                    found.add(target)
            elif key == "Fn::Sub":
                text = value[0] if isinstance(value, list) else value
                found |= {m for m in _SUB.findall(str(text)) if m in names}
                if isinstance(value, list):
                    found |= _refs(value[1:], names)
            elif key == "DependsOn":
                found |= {value} if isinstance(value, str) else set(value)
            else:
                found |= _refs(value, names)
    elif isinstance(node, list):
        for value in node:
            found |= _refs(value, names)
    return found


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = 2
        path.pop()
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_resources_have_no_dependency_cycle() -> None:
    resources = load_template()["Resources"]
    names = set(resources)
    graph = {name: _refs(body, names) - {name} for name, body in resources.items()}
    assert _cycle(graph) is None, f"dependency cycle: {' -> '.join(_cycle(graph) or [])}"


def test_the_cycle_check_finds_a_planted_cycle() -> None:
    assert _cycle({"A": {"B"}, "B": {"C"}, "C": {"A"}}) == ["A", "B", "C", "A"]
    assert _cycle({"A": {"B"}, "B": set()}) is None
