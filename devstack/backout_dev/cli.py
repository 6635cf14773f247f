"""The `backout` command: the local stack and the operator's tools.

    backout demo              start everything, run the sample flow, print timelines, exit 0 on success
    backout serve [--port N]  keep the local stack running (HTTP API on localhost)
    backout send FILE [...]   re-sign sample events with the local secrets and post them
    backout timeline ORDER    print an order's timeline from a running `backout serve`
    backout approve ORDER     approve a held cancellation (operator)
    backout reject ORDER      reject a held cancellation (operator)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path


def _cmd_demo(args: argparse.Namespace) -> int:
    from backout_dev.demo import run_demo

    return run_demo(cooling_off_seconds=args.cooling_off)


def _cmd_serve(args: argparse.Namespace) -> int:
    from backout_dev.env import SECRETS_FILE, LocalEnvironment

    with LocalEnvironment(parameters={"CoolingOffSeconds": str(args.cooling_off)}, port=args.port,
                          log_level="INFO") as env:
        print(f"Backout local stack on {env.url}")
        print(f"  routes: {', '.join(f'{m} {p}' for m, p, _ in __import__('backout_dev.template', fromlist=['x']).http_routes(env.stack.template))}")
        print(f"  localstripe: {env.stripe.url}   fake WooCommerce: {env.woo.url}")
        print(f"  webhook secrets for this run (generated at start-up): {SECRETS_FILE}")
        print("  send a sample: backout send events/woocommerce/order.created.json   (Ctrl-C to stop)")
        try:
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            return 0


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


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `backout` command."""
    parser = argparse.ArgumentParser(prog="backout", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run the end-to-end demo on the local stack")
    demo.add_argument("--cooling-off", type=int, default=2, help="cooling-off window in seconds (default 2)")
    demo.set_defaults(fn=_cmd_demo)
    serve = sub.add_parser("serve", help="keep the local stack running")
    serve.add_argument("--port", type=int, default=3000)
    serve.add_argument("--cooling-off", type=int, default=30)
    serve.set_defaults(fn=_cmd_serve)
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
    args = parser.parse_args(argv)
    return int(args.fn(args))


if __name__ == "__main__":
    sys.exit(main())
