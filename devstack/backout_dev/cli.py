"""The `backout` command: the local stack and the operator's tools.

    backout demo              start everything, run the sample flow, print timelines, exit 0 on success
    backout serve [--port N]  keep the local stack running (HTTP API and the console on localhost)
    backout console [--stack NAME] [--port N]  the operator's web console on 127.0.0.1 (local stack by default)
    backout send FILE [...]   re-sign sample events with the local secrets and post them
    backout timeline ORDER    print an order's timeline from a running `backout serve`
    backout approve ORDER     approve a held cancellation (operator)
    backout reject ORDER      reject a held cancellation (operator)
    backout model             the model-based adversarial generator (--examples N --steps M)
    backout report [--chart P] cancellation rates vs the guardrails; PNG chart of weekly cancellations
    backout replay            re-drive the dead-letter queues, each message exactly once
    backout audit             reconcile the stock ledger with the counts; list differing SKUs
    backout bench [--quick]   measure the performance budgets side by side; five tables (docs/bench.md)
    backout soak [--orders N --deliveries M]  exactly-once simulation with faults; summary table (docs/simulation.md)
    backout security [--fuzz N]  forged, malformed and fuzzed requests at every route; counts accepted wrongly
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path


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


def _cmd_decide(args: argparse.Namespace) -> int:
    url = f"{_endpoint(args)}/operator/orders/{args.order}/decision"
    data = json.dumps({"decision": args.command, "note": args.note}).encode()
    req = urllib.request.Request(url, data=data, method="POST", headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - loopback
            print(resp.read().decode())
            return 0
    except urllib.error.HTTPError as exc:
        print(f"{args.order}: HTTP {exc.code} {exc.read().decode()}", file=sys.stderr)
        return 1


def _cmd_timeline(args: argparse.Namespace) -> int:
    url = f"{_endpoint(args)}/operator/orders/{args.order}/timeline"
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:  # noqa: S310 - loopback
            data = json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        print(f"{args.order}: HTTP {exc.code}", file=sys.stderr)
        return 1
    order = data["order"]
    print(f"{args.order}  status={order['status']}  total={order['total']} {order['currency']}")
    for step in data["timeline"]:
        print(f"  {step['at']}  {step['step']:<24} {json.dumps(step.get('detail') or {})}")
    return 0


def _cmd_ops(args: argparse.Namespace) -> int:
    """report / replay / audit: run inside the `backout serve` process (moto lives there) and print here."""
    from backout_dev import audit, replay, report

    with urllib.request.urlopen(f"{_endpoint(args)}/_local/ops/{'counts' if args.command == 'report' else args.command}",
                                timeout=120) as resp:  # noqa: S310 - loopback
        data = json.loads(resp.read())
    if args.command == "report":
        report.print_report(report.counts_from_json(data["counts"]), sys.stdout, Path(args.chart))
        return 0
    return (replay.print_results if args.command == "replay" else audit.print_audit)(data, sys.stdout)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `backout` command."""
    parser = argparse.ArgumentParser(prog="backout", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
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
    for verb in ("approve", "reject"):
        decide = sub.add_parser(verb, help=f"{verb} a held cancellation on a running stack")
        decide.add_argument("order")
        decide.add_argument("--note", default="")
        decide.add_argument("--url")
        decide.set_defaults(fn=_cmd_decide)
    timeline = sub.add_parser("timeline", help="print an order's timeline from a running stack")
    timeline.add_argument("order")
    timeline.add_argument("--url")
    timeline.set_defaults(fn=_cmd_timeline)
    for verb, text in (("report", "print the cancellation-rate table and write the weekly chart (PNG)"),
                       ("replay", "re-drive the dead-letter queues (each message deleted after success)"),
                       ("audit", "run the inventory audit and list differing SKUs")):
        ops = sub.add_parser(verb, help=f"{text}, on a running stack")
        ops.add_argument("--url")
        if verb == "report":
            ops.add_argument("--chart", default=str(Path(".backout") / "cancellations.png"), help="PNG path")
        ops.set_defaults(fn=_cmd_ops)
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
