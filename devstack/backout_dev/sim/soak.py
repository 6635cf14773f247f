"""`backout soak`: the simulation at size, on a fresh local environment, with a summary table."""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
from typing import TextIO


def run_soak(orders: int, deliveries: int, seed: int, threads: int, fault_scale: float,
             transport: str = "direct", out: TextIO = sys.stdout) -> int:
    """Start the stack, run the simulation, print the table; 0 when every invariant holds."""
    import stripe

    from backout_dev.bench import machine
    from backout_dev.env import LocalEnvironment
    from backout_dev.sim import FaultPlan, SimConfig, run_simulation

    out.write(f"backout soak: {orders} orders, {deliveries} deliveries, seed {seed}, on {machine()}\n")
    out.flush()
    noise = io.StringIO()  # the handlers' metric lines would drown the table
    with LocalEnvironment(parameters={"CoolingOffSeconds": "0"}, secrets_file=None, log_level="CRITICAL") as env:
        stripe.api_base = env.stripe.url
        stripe.api_key = env.secrets["credentials"]["stripe_api_key"]
        config = SimConfig(orders=orders, deliveries=deliveries, seed=seed, threads=threads,
                           faults=FaultPlan.default(fault_scale), transport=transport, quiet_timeout=3600)
        with contextlib.redirect_stdout(noise):
            report = run_simulation(env, config)
    out.write(report.table() + "\n")
    out.write(f"result: {'PASSED' if report.ok else 'FAILED'}\n")
    return 0 if report.ok else 1


def add_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Register `backout soak` on the `backout` command's subparsers."""
    soak = sub.add_parser("soak", help="run the exactly-once simulation at size and print its summary table")
    soak.add_argument("--orders", type=int, default=10_000)
    soak.add_argument("--deliveries", type=int, default=100_000, help="target number of webhook posts")
    soak.add_argument("--seed", type=int, default=1)
    soak.add_argument("--threads", type=int, default=6, help="concurrent senders")
    soak.add_argument("--fault-scale", type=float, default=1.0, help="multiplies every fault rate (0: none)")
    soak.add_argument("--transport", choices=("direct", "http"), default="direct",
                      help="post through the local HTTP API, or hand the same event to the function directly")
    soak.set_defaults(fn=lambda a: run_soak(a.orders, a.deliveries, a.seed, a.threads, a.fault_scale, a.transport))
