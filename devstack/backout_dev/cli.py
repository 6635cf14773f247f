"""The `backout` command: the local stack and the operator's tools.

    backout demo              start everything, run the sample flow, print timelines, exit 0 on success
    backout serve [--port N]  keep the local stack running (HTTP API and the console on localhost)
    backout console [--stack NAME] [--port N]  the operator's web console on 127.0.0.1 (local stack by default)
    backout send FILE [...]   re-sign sample events with the local secrets and post them

  operator commands (the local stack, or a deployed one with --stack NAME [--region R] [--profile P]):
    backout holds             every order waiting for a person: reason, age, amount owed, deadline
    backout find TEXT         orders by platform order number, payment id, refund id or tracking number
    backout timeline ORDER    print an order's record and timeline
    backout approve ORDER     approve a held cancellation (--note TEXT)
    backout reject ORDER      reject a held cancellation (--note TEXT)
    backout dead-letters      list the dead letters without consuming them
    backout replay            re-drive the dead-letter queues, each message exactly once
    backout report [--chart P] cancellation rates vs the guardrails; PNG chart of weekly cancellations
    backout audit             reconcile the stock ledger with the counts; list differing SKUs

  development:
    backout model             the model-based adversarial generator (--examples N --steps M)
    backout bench [--quick]   measure the performance budgets side by side; five tables (docs/bench.md)
    backout soak [--orders N --deliveries M]  exactly-once simulation with faults; summary table (docs/simulation.md)
    backout security [--fuzz N]  forged, malformed and fuzzed requests at every route; counts accepted wrongly
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Callable


def _cmd_bench(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from backout_dev.bench import FULL, QUICK, run

    sizes = QUICK if args.quick else FULL
    if args.orders:
        sizes = replace(sizes, orders=tuple(int(n) for n in args.orders.split(",")))
    return run(sizes, tables=tuple(args.table or (1, 2, 3, 4, 5)))


def _cmd_demo(args: argparse.Namespace) -> int:
    from backout_dev.demo import run_demo

    return run_demo(cooling_off_seconds=args.cooling_off, console_port=args.console_port, stay=args.stay)


def _cmd_console(args: argparse.Namespace) -> int:
    from backout_dev.console import serve_forever
    from backout_dev.targets import TargetError, open_target

    try:
        target = open_target(args.stack, region=args.region, profile=args.profile, url=args.url)
    except TargetError as exc:
        print(f"backout console: {exc}", file=sys.stderr)
        return 1
    serve_forever(target, args.port)
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    from backout_dev.env import SECRETS_FILE, LocalEnvironment

    with LocalEnvironment(parameters={"CoolingOffSeconds": str(args.cooling_off)}, port=args.port,
                          log_level="INFO") as env:
        print(f"Backout local stack on {env.url}")
        print(f"  routes: {', '.join(f'{m} {p}' for m, p, _ in __import__('backout_dev.template', fromlist=['x']).http_routes(env.stack.template))}")
        print(f"  localstripe: {env.stripe.url}   fake WooCommerce: {env.woo.url}")
        print(f"  webhook secrets for this run (generated at start-up): {SECRETS_FILE}")
        from backout_dev.console import start_console
        from backout_dev.targets.local import LocalTarget

        console = start_console(LocalTarget(env.url), port=args.console_port)
        print(f"  operator console: {console.url}")
        print("  send a sample: backout send events/woocommerce/order.created.json   (Ctrl-C to stop)")
        try:
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            return 0
        finally:
            console.stop()


def _endpoint(args: argparse.Namespace) -> str:
    from backout_dev.env import ENDPOINT_FILE

    if args.url:
        return str(args.url).rstrip("/")
    if not ENDPOINT_FILE.exists():
        raise SystemExit("no running `backout serve` found; pass --url")
    return ENDPOINT_FILE.read_text().strip()


def _cmd_send(args: argparse.Namespace) -> int:
    from backout_dev.env import SECRETS_FILE
    from backout_dev.sender import load_sample, send_event

    secrets = json.loads(Path(args.secrets or SECRETS_FILE).read_text())
    failed = 0
    for name in args.files:
        status, answer = send_event(_endpoint(args), load_sample(Path(name)), secrets)
        print(f"{name}: HTTP {status} {json.dumps(answer)}")
        failed += status >= 300
    return 1 if failed else 0


def _target(args: argparse.Namespace) -> Any:
    """The stack the operator command works on: ``--stack NAME`` (deployed), else the local stack."""
    from backout_dev.targets import open_target

    return open_target(getattr(args, "stack", None), region=getattr(args, "region", None),
                       profile=getattr(args, "profile", None), url=getattr(args, "url", None))


def _operator(run: Callable[[Any, argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Run an operator command on its target; a refusal or an unreachable stack prints its reason, exit 1."""
    from backout_dev.targets import TargetError

    def call(args: argparse.Namespace) -> int:
        try:
            return run(_target(args), args)
        except TargetError as exc:
            what = f"{args.order}: " if getattr(args, "order", None) else ""
            print(f"{what}{exc}", file=sys.stderr)
            return 1

    return call


def _cmd_decide(target: Any, args: argparse.Namespace) -> int:
    print(json.dumps(target.decide(args.order, args.command, args.note)))
    return 0


def _cmd_timeline(target: Any, args: argparse.Namespace) -> int:
    data = target.order(args.order)
    order = data["order"]
    print(f"{args.order}  status={order['status']}  total={order['total']} {order['currency']}")
    for step in data["timeline"]:
        print(f"  {step['at']}  {step['step']:<24} {json.dumps(step.get('detail') or {})}")
    return 0


def _cmd_holds(target: Any, args: argparse.Namespace) -> int:
    holds = target.holds()
    print(f"{len(holds)} order(s) waiting for a person on {target.name}")
    for h in holds:
        due = f"  {h['deadline_kind']} {h['deadline']}" if h.get("deadline") else ""
        print(f"  {h['order_id']:<28} {h['reason']:<22} held {h['age_seconds'] // 3600:>4} h  "
              f"owed {h['owed_minor']} {h['currency']} (minor units){due}")
    return 0


def _cmd_find(target: Any, args: argparse.Namespace) -> int:
    matches = target.find(args.query)
    for m in matches:
        print(f"  {m['order_id']:<28} {m['status']:<18} matched {m['matched']}")
    if not matches:
        print(f"no order matches {args.query!r}", file=sys.stderr)
    return 0 if matches else 1


def _cmd_dead_letters(target: Any, args: argparse.Namespace) -> int:
    letters = target.dead_letters()
    print(f"{len(letters)} dead letter(s) on {target.name}")
    for d in letters:
        print(f"  {d['queue']:<26} {d['age_seconds'] // 60:>6} min  {d['id']}  {d['summary']}")
    return 0


def _cmd_replay(target: Any, args: argparse.Namespace) -> int:
    from backout_dev import replay

    return replay.print_results(target.replay(), sys.stdout)


def _cmd_report(target: Any, args: argparse.Namespace) -> int:
    from backout_dev import report

    report.print_report(target.report(), sys.stdout, Path(args.chart) if args.chart else None)
    return 0


def _cmd_audit(target: Any, args: argparse.Namespace) -> int:
    from backout_dev import audit

    return audit.print_audit(target.audit(), sys.stdout)


def _target_options() -> argparse.ArgumentParser:
    """--url / --stack / --region / --profile, accepted after an operator command too."""
    opts = argparse.ArgumentParser(add_help=False)
    opts.add_argument("--url", default=argparse.SUPPRESS, help="a running local stack's URL")
    opts.add_argument("--stack", default=argparse.SUPPRESS, help="a deployed CloudFormation stack's name")
    opts.add_argument("--region", default=argparse.SUPPRESS, help="the deployed stack's region")
    opts.add_argument("--profile", default=argparse.SUPPRESS, help="the AWS profile whose credentials sign")
    return opts


def _add_operator_commands(sub: Any) -> None:
    opts = _target_options()
    for verb in ("approve", "reject"):
        decide = sub.add_parser(verb, parents=[opts], help=f"{verb} a held cancellation")
        decide.add_argument("order")
        decide.add_argument("--note", default="")
        decide.set_defaults(fn=_operator(_cmd_decide))
    timeline = sub.add_parser("timeline", parents=[opts], help="print an order's timeline")
    timeline.add_argument("order")
    timeline.set_defaults(fn=_operator(_cmd_timeline))
    find = sub.add_parser("find", parents=[opts],
                          help="find orders by platform order number, payment id, refund id or tracking number")
    find.add_argument("query")
    find.set_defaults(fn=_operator(_cmd_find))
    for verb, fn, text in (("holds", _cmd_holds, "every order waiting for a person, oldest first"),
                           ("dead-letters", _cmd_dead_letters, "list the dead letters without consuming them"),
                           ("replay", _cmd_replay, "re-drive the dead-letter queues (each message deleted after success)"),
                           ("audit", _cmd_audit, "run the inventory audit and list differing SKUs"),
                           ("report", _cmd_report, "print the cancellation-rate table and write the weekly chart (PNG)")):
        cmd = sub.add_parser(verb, parents=[opts], help=text)
        if verb == "report":
            cmd.add_argument("--chart", default=str(Path(".backout") / "cancellations.png"),
                             help="PNG path ('' for none)")
        cmd.set_defaults(fn=_operator(fn))


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `backout` command."""
    parser = argparse.ArgumentParser(prog="backout", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", help="operator commands: a deployed CloudFormation stack (default: the local stack)")
    parser.add_argument("--region", help="the deployed stack's region (default: the AWS environment's)")
    parser.add_argument("--profile", help="the AWS profile whose credentials sign the operator's calls")
    sub = parser.add_subparsers(dest="command", required=True)
    bench = sub.add_parser("bench", help="measure the performance budgets (five tables)")
    bench.add_argument("--quick", action="store_true", help="small sizes: a smoke run of every table")
    bench.add_argument("--table", type=int, action="append", choices=range(1, 6), help="only this table (repeatable)")
    bench.add_argument("--orders", help="table 4's sizes, e.g. 1000,10000 (default; --quick: 10,100)")
    bench.set_defaults(fn=_cmd_bench)
    demo = sub.add_parser("demo", help="run the end-to-end demo on the local stack")
    demo.add_argument("--cooling-off", type=int, default=2, help="cooling-off window in seconds (default 2)")
    demo.add_argument("--console-port", type=int, default=0, help="the console's port (default: any free port)")
    demo.add_argument("--stay", action="store_true", help="keep the stack and the console up after the scenarios")
    demo.set_defaults(fn=_cmd_demo)
    serve = sub.add_parser("serve", help="keep the local stack running")
    serve.add_argument("--port", type=int, default=3000)
    serve.add_argument("--cooling-off", type=int, default=30)
    serve.add_argument("--console-port", type=int, default=3001, help="the operator console's port (default 3001)")
    serve.set_defaults(fn=_cmd_serve)
    console = sub.add_parser("console", help="serve the operator's web console on 127.0.0.1")
    console.add_argument("--stack", help="a deployed CloudFormation stack (your own AWS credentials); default: local")
    console.add_argument("--region")
    console.add_argument("--profile")
    console.add_argument("--url", help="the local stack's URL (default: the running `backout serve`)")
    console.add_argument("--port", type=int, default=3002, help="the console's port (default 3002)")
    console.set_defaults(fn=_cmd_console)
    send = sub.add_parser("send", help="re-sign sample events and post them to a running stack")
    send.add_argument("files", nargs="+")
    send.add_argument("--url")
    send.add_argument("--secrets")
    send.set_defaults(fn=_cmd_send)
    _add_operator_commands(sub)
    from backout_dev import security
    from backout_dev.sim import soak
    from backout_dev.sim.model import run as model_run

    soak.add_parser(sub)
    model_run.add_parser(sub)
    security.add_parser(sub)
    args = parser.parse_args(argv)
    return int(args.fn(args))


if __name__ == "__main__":
    sys.exit(main())
