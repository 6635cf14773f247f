"""Table 5: memory of a receiver handling many webhooks, sampled along the way (no growth with count).

Runs in a fresh interpreter (``python -m backout_dev.bench.memory N``) so the
peak RSS is the receiver's alone. Deliveries of every provider go round-robin
through their receiver functions and the real boto3 client; the PutItem is
answered by a null endpoint (a botocore ``before-call`` hook that stores
nothing; the request is built and serialised, not signed or sent), because
the embedded moto keeps every item in memory and its growth would hide the
receiver's.
"""

from __future__ import annotations

import gc
import json
import resource
import subprocess
import sys
from typing import Any

from backout_dev.bench.report import Table, verdict
from backout_dev.template import ROOT

#: Budget: peak RSS may grow by at most this much (KiB) between the first and the last sample.
FLAT_RSS_KIB = 2048
_BATCH = 50


def _null_put(model: Any = None, **_: Any) -> Any:
    """Answer PutItem with an empty success before it is sent (``before-call`` short-circuit); nothing is stored."""
    from botocore.awsrequest import AWSResponse

    return AWSResponse("https://dynamodb.null", 200, {}, None), {"ResponseMetadata": {"HTTPStatusCode": 200}}


def peak_rss_kib() -> int:
    """This process's own peak resident set, KiB.

    Linux: ``VmHWM`` of ``/proc/self/status``, which starts afresh at
    ``exec``. ``getrusage``'s ``ru_maxrss`` does not: it is kept across
    ``exec``, so a child started by a large process (the bench after table 4
    holds gigabytes) reports its parent's peak, and growth below it would not
    show. Elsewhere ``ru_maxrss`` (bytes on macOS).
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak


def profile(total: int, samples: tuple[int, ...]) -> list[dict[str, int]]:
    """Answer ``total`` deliveries in this process; peak RSS (KiB) and live objects at each count in ``samples``."""
    from backout_dev.bench.deliveries import PROVIDERS, bench_secrets, function_of, signed_events
    from backout_dev.bench.endpoint import inbox_endpoint, receivers

    secrets = bench_secrets()
    out: list[dict[str, int]] = []
    with inbox_endpoint(secrets), receivers() as apps, open("/dev/null", "w") as sink:
        from backout import aws

        aws.client("dynamodb").meta.events.register_first("before-call.dynamodb.PutItem", _null_put)
        done, failures = 0, 0
        saved, sys.stdout = sys.stdout, sink  # metrics (EMF) print to stdout
        try:
            while done < total:
                provider = PROVIDERS[(done // _BATCH) % len(PROVIDERS)]
                handler = apps[function_of(provider)].handler
                for event in signed_events(provider, min(_BATCH, total - done), secrets):
                    failures += handler(event, None)["statusCode"] != 200
                    done += 1
                    if done in samples:
                        gc.collect()
                        out.append({"webhooks": done, "max_rss_kib": peak_rss_kib(),
                                    "objects": len(gc.get_objects()), "failures": failures})
        finally:
            sys.stdout = saved
    return out


def measure_memory(total: int = 10_000, samples: tuple[int, ...] = (1_000, 5_000, 10_000)) -> list[dict[str, int]]:
    """:func:`profile` in a fresh interpreter."""
    done = subprocess.run([sys.executable, "-m", "backout_dev.bench.memory", str(total), *map(str, samples)],
                          capture_output=True, text=True, timeout=3600, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"memory run failed: {done.stderr[-1000:]}")
    return list(json.loads(done.stdout.strip().splitlines()[-1]))


def memory_table(samples: list[dict[str, int]]) -> Table:
    """Table 5 from :func:`measure_memory`."""
    table = Table("5. Memory of one receiver process answering webhooks (every provider, round-robin)",
                  ["webhooks answered", "peak RSS MiB", "growth since first sample KiB", "live objects", "non-200"])
    first = samples[0]
    for s in samples:
        table.rows.append([s["webhooks"], s["max_rss_kib"] / 1024, s["max_rss_kib"] - first["max_rss_kib"],
                           s["objects"], s["failures"]])
    growth = samples[-1]["max_rss_kib"] - first["max_rss_kib"]
    held = growth <= FLAT_RSS_KIB and samples[-1]["failures"] == 0
    table.budget("flat memory", held,
                 f"peak RSS grew {growth} KiB from {first['webhooks']:,} to {samples[-1]['webhooks']:,} webhooks "
                 f"(allowed {FLAT_RSS_KIB} KiB); live objects {first['objects']:,} -> {samples[-1]['objects']:,}"
                 + ("" if held else ": something keeps a reference per delivery (a cache without a bound?)"))
    table.rows[-1].append(verdict(held))
    table.columns.append("flat?")
    table.notes.append("fresh interpreter; real handlers and boto3 client; PutItem answered by a null endpoint "
                       "(moto would keep every item); peak RSS is the process's own high-water mark (VmHWM), so a "
                       "flat column means no growth")
    return table


if __name__ == "__main__":
    n, *marks = (int(a) for a in sys.argv[1:])
    print(json.dumps(profile(n, tuple(marks) or (n,))))
