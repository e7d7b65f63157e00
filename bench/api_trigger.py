"""API trigger under load: ``POST /api/v1/collect/trigger`` of harvester's API vs. a hand-written one.

    python bench/api_trigger.py [--rounds 5] [--duration 10] [--connections 32]

The anchor (bench/api_anchor.py) is what a user would write instead: a FastAPI ``def`` endpoint
that validates with pydantic and calls Celery's ``send_task``. harvester's API also records the
run in PostgreSQL and checks the request against its access rules. Both are served by one uvicorn
process on loopback, with Redis as broker; no worker runs, so only the trigger path is measured.
The load is ``wrk`` (Debian package ``wrk``) with N connections for D seconds, after a 2 s warm-up.
The sides alternate, and which goes first alternates too; every round's ratio is shown
(requests/s of harvester / anchor) with the median, and each server's CPU time per request: on
a shared machine, requests/s follow whatever else runs, while CPU per request stays put.
Results: ``bench/results/api_trigger.json``.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.throughput import (  # noqa: E402  (scrubs HARVESTER_* from this process's environment)
    PROCESSES,
    BenchError,
    check_alive,
    child_env,
    environment,
    flush_redis,
    redis_scenario,
)

RESULTS = ROOT / "bench" / "results" / "api_trigger.json"
BODY = {"collector": "bench_noop", "params": {"seq": 1}}
LUA = f"""wrk.method = "POST"
wrk.body = '{json.dumps(BODY)}'
wrk.headers["Content-Type"] = "application/json"
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        check_alive(proc, log)
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise BenchError(f"{url} did not answer within {timeout:g} s; see {log}")


def wrk(url: str, script: Path, seconds: float, connections: int, *, check: bool = True) -> dict[str, float]:
    """One wrk run; requests/s and latency percentiles (ms). Non-2xx answers fail the benchmark
    (``check``; not in the warm-up, where the first requests open connections and may time out)."""
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds:g}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if check and ("Non-2xx" in out or "Socket errors" in out):
        raise BenchError(f"errors under load at {url}:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    latency = {}
    for pct in ("50", "99"):
        value, unit = re.search(rf"\s{pct}%\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
        latency[pct] = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    return {"rps": rps, "requests": requests, "p50_ms": latency["50"], "p99_ms": latency["99"]}


def _side(got: dict[str, float]) -> str:
    return f"{got['rps']:.0f} req/s (p99 {got['p99_ms']:.0f} ms, {got['cpu_ms_per_request']:.2f} ms CPU/request)"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--duration", type=float, default=10.0, help="seconds of load per side and round")
    p.add_argument("--connections", "-c", type=int, default=32)
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379")
    p.add_argument("--redis-dbs", type=lambda s: [int(x) for x in s.split(",")], default=[11, 12])
    p.add_argument("--flush", action="store_true", help="empty the Redis DBs first even when they hold keys")
    p.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432")
    p.add_argument("--output", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    args.tasks = 0
    if shutil.which("wrk") is None:
        p.error("needs wrk (Debian: apt install wrk)")
    workdir = Path(tempfile.mkdtemp(prefix="harvester-bench-api-"))
    script = workdir / "post.lua"
    script.write_text(LUA)
    rounds: list[dict[str, Any]] = []
    try:
        with redis_scenario(args, workdir) as sc:
            hv_env = child_env({**sc.harvester_env, "HARVESTER_COLLECTORS": "bench.noop"})
            subprocess.run([sys.executable, "-m", "harvester", "db", "upgrade"], env=hv_env, cwd=workdir, check=True)
            sides: dict[str, tuple[str, subprocess.Popen[bytes], Path]] = {}
            for side, argv_, env in (
                ("harvester", [sys.executable, "-m", "harvester", "api", "--port", "{port}"], hv_env),
                (
                    "anchor",
                    [sys.executable, "-m", "uvicorn", "bench.api_anchor:app", "--port", "{port}", "--no-access-log"],
                    child_env({"BENCH_BROKER_URL": sc.bare_broker}),
                ),
            ):
                port = free_port()
                log = workdir / f"{side}.log"
                proc = PROCESSES.start([a.format(port=port) for a in argv_], env, workdir, log)
                base = f"http://127.0.0.1:{port}"
                wait_ready(f"{base}/openapi.json", proc, log)
                sides[side] = (f"{base}/api/v1/collect/trigger", proc, log)
                wrk(sides[side][0], script, 2, args.connections, check=False)  # warm-up
            for n in range(1, args.rounds + 1):
                order = ["anchor", "harvester"] if n % 2 else ["harvester", "anchor"]
                got: dict[str, Any] = {}
                for side in order:
                    url, proc, log = sides[side]
                    cpu_before = sum(psutil.Process(proc.pid).cpu_times()[:2])
                    got[side] = wrk(url, script, args.duration, args.connections)
                    cpu = sum(psutil.Process(proc.pid).cpu_times()[:2]) - cpu_before
                    got[side]["cpu_ms_per_request"] = 1000 * cpu / max(got[side]["requests"], 1)
                    check_alive(proc, log)
                    flush_redis(sc.bare_broker if side == "anchor" else sc.harvester_env["HARVESTER_BROKER_URL"])
                got["ratio"] = got["harvester"]["rps"] / got["anchor"]["rps"]
                rounds.append(got)
                print(
                    f"round {n}: anchor {_side(got['anchor'])}, harvester {_side(got['harvester'])}, "
                    f"ratio {got['ratio']:.2f}x",
                    flush=True,
                )
    finally:
        PROCESSES.stop_all()
        shutil.rmtree(workdir, ignore_errors=True)
    ratios = [r["ratio"] for r in rounds]
    summary = {
        "median_ratio": statistics.median(ratios),
        "harvester_p99_ms_median": statistics.median(r["harvester"]["p99_ms"] for r in rounds),
        "anchor_p99_ms_median": statistics.median(r["anchor"]["p99_ms"] for r in rounds),
        "harvester_cpu_ms_per_request_median": statistics.median(r["harvester"]["cpu_ms_per_request"] for r in rounds),
        "anchor_cpu_ms_per_request_median": statistics.median(r["anchor"]["cpu_ms_per_request"] for r in rounds),
    }
    print(
        f"median ratio {summary['median_ratio']:.2f}x over {len(rounds)} rounds "
        f"(every round: {', '.join(f'{r:.2f}x' for r in ratios)}); "
        f"p99 harvester {summary['harvester_p99_ms_median']:.0f} ms, anchor {summary['anchor_p99_ms_median']:.0f} ms; "
        f"CPU per request harvester {summary['harvester_cpu_ms_per_request_median']:.2f} ms, "
        f"anchor {summary['anchor_cpu_ms_per_request_median']:.2f} ms"
    )
    report = {
        "scenario": "api_trigger",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "settings": {"connections": args.connections, "duration": args.duration, "body": BODY},
        "environment": environment(),
        "rounds": rounds,
        **summary,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
