"""The exactly-once simulation: random orders, every webhook they imply (1-3 times,
shuffled, concurrent), faults at the seams, and invariants checked against
localstripe, the stock table, the order records and the fakes' ledgers.

Entry points: :func:`backout_dev.sim.runner.run_simulation` and ``backout soak``.
"""

from backout_dev.sim.faults import FaultInjector, FaultPlan
from backout_dev.sim.runner import SimConfig, SimReport, run_simulation

__all__ = ["FaultInjector", "FaultPlan", "SimConfig", "SimReport", "run_simulation"]
