"""Tables with budgets: what every benchmark section returns and how it is printed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PASS = "ok"
FAIL = "FAIL"


@dataclass
class Table:
    """One printed table: a title, column names, rows of cells and notes under it.

    ``verdicts`` maps a budget's name to ``(held, reason)``; a budget that does
    not hold is printed as FAIL with its reason, never hidden.
    """

    title: str
    columns: list[str]
    rows: list[list[Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    verdicts: dict[str, tuple[bool, str]] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)

    def budget(self, name: str, held: bool, reason: str) -> bool:
        """Record a budget's outcome (``reason`` says what was measured against what)."""
        self.verdicts[name] = (held, reason)
        return held

    @property
    def passed(self) -> bool:
        """True when every budget in this table holds."""
        return all(held for held, _ in self.verdicts.values())

    def render(self) -> str:
        """The table as fixed-width text."""
        cells = [[_fmt(c) for c in row] for row in self.rows]
        widths = [max([len(col)] + [len(r[i]) for r in cells if i < len(r)]) for i, col in enumerate(self.columns)]
        line = "  ".join("-" * w for w in widths)
        out = [self.title, "=" * len(self.title), "  ".join(c.ljust(w) for c, w in zip(self.columns, widths)), line]
        out += ["  ".join(c.rjust(w) if _numeric(c) else c.ljust(w) for c, w in zip(row, widths)) for row in cells]
        out.append(line)
        out += [f"budget {name}: {PASS if held else FAIL}  {reason}" for name, (held, reason) in self.verdicts.items()]
        out += [f"note: {n}" for n in self.notes]
        return "\n".join(out)


def verdict(held: bool) -> str:
    """The cell text of a budget check."""
    return PASS if held else FAIL


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        if value == 0:
            return "0"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 1:
            return f"{value:.2f}"
        return f"{value:.4g}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _numeric(text: str) -> bool:
    return text.replace(",", "").replace(".", "", 1).replace("-", "", 1).replace("$", "").isdigit()
