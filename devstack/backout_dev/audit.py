"""`backout audit`: run the inventory audit on the local stack and print the differing SKUs."""

from __future__ import annotations

from typing import Any, TextIO


def run_audit() -> dict[str, Any]:
    """Run the audit in process (what the scheduled AuditFunction does) and return its summary."""
    from backout.ops.audit import InventoryAudit
    from backout.ops.publish import publish_audit

    return publish_audit(InventoryAudit().run())


def print_audit(summary: dict[str, Any], out: TextIO) -> int:
    """Print the audit; 1 when the error rate is above the 0.5 % threshold."""
    out.write(f"inventory audit {summary['run_at']}: {summary['skus_audited']} SKU(s), "
              f"{len(summary['differing'])} differing, error rate {summary['error_percent']:.2f} % "
              f"({'ABOVE' if summary['over_threshold'] else 'within'} 0.5 %)"
              f"{'' if summary['platform_checked'] else '; no platform stock adapter, ledger and counts only'}\n")
    for finding in summary["differing"]:
        out.write(f"  {finding['sku']:<20} on hand {finding['on_hand']}: {'; '.join(finding['problems'])}\n")
    return 1 if summary["over_threshold"] else 0
