"""Run the model-based generator on a running local environment and summarise what it found.

    with LocalEnvironment(parameters={"CoolingOffSeconds": "0"}) as env:
        report = run_model(env, examples=8, steps=8)
        print(report.text())
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from backout_dev.sim.model.checks import Violation

#: The cooling-off window the model's sagas get (``COOLING_OFF_SECONDS``): short, so stories can outlast it.
WINDOW = 4.0
#: The default run's hypothesis seed (``backout model`` and tests/sim/test_model_based.py).
SEED = 13


@dataclass
class ModelReport:
    examples: int
    steps: int
    seconds: float
    violations: list[Violation] = field(default_factory=list)  # every one seen (shrinking replays included)
    failure: str = ""  # hypothesis's own report (the shrunk examples' steps)

    def shortest(self) -> dict[str, Violation]:
        """Per kind, the violation with the shortest story."""
        best: dict[str, Violation] = {}
        for v in self.violations:
            if v.kind not in best or v.story.count("\n") < best[v.kind].story.count("\n"):
                best[v.kind] = v
        return best

    def text(self) -> str:
        kinds = self.shortest()
        out = [f"examples run        {self.examples}",
               f"steps per example   up to {self.steps}",
               f"wall time           {self.seconds:.1f} s",
               f"violations          {len(self.violations)} ({len(kinds)} kinds)"]
        for kind, v in sorted(kinds.items()):
            n = sum(1 for x in self.violations if x.kind == kind)
            out += ["", f"== {kind} (seen {n} times); shortest story:", str(v)]
        return "\n".join(out)


def run_model(env: Any, examples: int = 6, steps: int = 8, shrink: bool = True, window: float = WINDOW,
              seed: int | None = SEED, collect: bool | None = None, orders: str = "store") -> ModelReport:
    """Draw ``examples`` stories of ``steps`` steps each (the placing of the order is the first).

    ``seed``: hypothesis's seed (the default run's is :data:`SEED`; None for a fresh random run).
    ``collect``: every violation recorded and none raised, so the run goes on drawing after the first
    (the default without shrinking: hypothesis stops at the first failure when it may not shrink it).
    ``orders``: ``store`` (WooCommerce + Stripe/PayPal, :mod:`machine`) or ``platforms`` (Shopify, Ozon,
    TikTok Shop and the carriers, :mod:`platform_machine`)."""
    from hypothesis import HealthCheck, Phase, settings
    from hypothesis import seed as hypothesis_seed
    from hypothesis.stateful import run_state_machine_as_test

    from backout_dev.sim.model.drive import OneShotFaults
    from backout_dev.sim.model import machine as store_machine
    from backout_dev.sim.model import platform_machine
    from backout_dev.sim.runner import _cooling_off

    started = time.monotonic()
    faults = OneShotFaults()
    faults.exempt_thread()
    faults.install(env.stack)
    faults.armed = True
    collect = (not shrink) if collect is None else collect
    bind = {"store": store_machine.bind, "platforms": platform_machine.bind}[orders]
    machine = bind(env, window, faults, collect=collect)
    if seed is not None:
        machine = hypothesis_seed(seed)(machine)
    phases = [Phase.explicit, Phase.generate] + ([Phase.shrink] if shrink else [])
    config = settings(max_examples=examples, stateful_step_count=steps, deadline=None, database=None,
                      derandomize=False, phases=phases, report_multiple_bugs=True, print_blob=False,
                      suppress_health_check=list(HealthCheck))
    failure = ""
    try:
        with _cooling_off(int(window)):
            run_state_machine_as_test(machine, settings=config)
    except BaseException as exc:  # noqa: BLE001 - AssertionError or an ExceptionGroup of them
        if isinstance(exc, KeyboardInterrupt):
            raise
        failure = f"{type(exc).__name__}: {exc}"
        for sub in getattr(exc, "exceptions", ()):
            notes = "\n".join(getattr(sub, "__notes__", []))
            failure += f"\n--- {type(sub).__name__}\n{notes}"
        failure += "\n" + "\n".join(getattr(exc, "__notes__", []))
    finally:
        faults.uninstall()
    return ModelReport(machine.examples, steps, time.monotonic() - started, list(machine.found), failure)


def add_parser(sub: Any) -> None:
    """``backout model --examples N --steps M [--no-shrink] [--window S]``."""
    p = sub.add_parser("model", help="the model-based adversarial generator (hypothesis state machines)")
    p.add_argument("--examples", type=int, default=30, help="stories drawn (hypothesis max_examples; default 30)")
    p.add_argument("--steps", type=int, default=10, help="steps per story (stateful_step_count; default 10)")
    p.add_argument("--window", type=float, default=WINDOW, help=f"cooling-off seconds (default {WINDOW:.0f})")
    p.add_argument("--no-shrink", action="store_true", help="report the stories as drawn (faster)")
    p.add_argument("--seed", type=int, default=SEED, help=f"hypothesis's seed (default {SEED})")
    p.add_argument("--random", action="store_true", help="a fresh random run instead of the seeded one")
    p.add_argument("--orders", choices=["store", "platforms", "both"], default="both",
                   help="WooCommerce + Stripe/PayPal orders, marketplace orders (Shopify, Ozon, TikTok) "
                        "with the carriers, or both (default)")
    p.set_defaults(fn=_cmd_model)


def _cmd_model(args: Any) -> int:
    import stripe

    from backout_dev.env import LocalEnvironment

    with LocalEnvironment(parameters={"CoolingOffSeconds": "0"}, secrets_file=None) as env:
        stripe.api_base = env.stripe.url
        stripe.api_key = env.secrets["credentials"]["stripe_api_key"]
        kinds = ["store", "platforms"] if args.orders == "both" else [args.orders]
        reports = [(kind, run_model(env, examples=args.examples, steps=args.steps, shrink=not args.no_shrink,
                                    window=args.window, seed=None if args.random else args.seed, orders=kind))
                   for kind in kinds]
    for kind, report in reports:
        print(f"== {kind} orders\n" + report.text())
        if report.failure:
            print("\n== hypothesis's shrunk examples\n" + report.failure)
    return 1 if any(report.violations for _, report in reports) else 0
