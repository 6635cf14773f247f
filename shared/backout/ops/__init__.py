"""Operating Backout: cancellation-rate counters and guardrails, inventory audit, dead-letter replay."""
