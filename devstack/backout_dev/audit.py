"""`backout audit` output: the inventory audit's findings (POST /operator/audit's answer)."""

from __future__ import annotations

from typing import Any, TextIO


def print_audit(summary: dict[str, Any], out: TextIO) -> int:
    """Print the audit; 1 when the error rate is above the 0.5 % threshold."""
    out.write(f"inventory audit {summary['run_at']}: {summary['skus_audited']} SKU(s), "
              f"{len(summary['differing'])} differing, error rate {summary['error_percent']:.2f} % "
              f"({'ABOVE' if summary['over_threshold'] else 'within'} 0.5 %)"
              f"{'' if summary['platform_checked'] else '; no platform stock adapter, ledger and counts only'}\n")
    for finding in summary["differing"]:
        out.write(f"  {finding['sku']:<20} on hand {finding['on_hand']}: {'; '.join(finding['problems'])}\n")
    return 1 if summary["over_threshold"] else 0
