"""The scheduler under a big schedule: how late due entries are sent, and what it costs.

    python bench/scheduler.py [--entries 10000] [--every 30s] [--occurrences 2] [--staggered 1000]

Two measurements with ``harvester beat`` on Redis + PostgreSQL (no worker: only dispatch counts):

- **at once**: N entries (``bench_noop`` with distinct params, in groups of 100) all due at the
  same instant every ``--every``. For each sent occurrence, lateness = the time of its
  "Sending due entry" log line (written once its group's batch went out) - the occurrence. p50,
  p99 and max over every occurrence of the first ``--occurrences`` instants; the beat's CPU.
- **staggered**: M cron entries spread over the hour (``m * * * *``, m = i mod 60): the beat's
  CPU share of one core over ``--window`` seconds after ``--warmup`` seconds of start-up, as a
  long-running scheduler would cost.

Results: ``bench/results/scheduler.json``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil
import yaml

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.throughput import PROCESSES, BenchError, check_alive, child_env, environment, redis_scenario  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "scheduler.json"
GROUP_SIZE = 100


def schedule_file(path: Path, entries: int, spec: str | None) -> None:
    """``entries`` bench_noop entries in groups of 100; every one ``spec``, or cron spread over the hour."""
    groups: dict[str, Any] = {}
    for i in range(entries):
        task = {"collector": "bench_noop", "params": {"seq": i}}
        task["schedule"] = spec if spec is not None else f"{i % 60} * * * *"
        groups.setdefault(f"g{i // GROUP_SIZE}", {"tasks": []})["tasks"].append(task)
    path.write_text(yaml.safe_dump({"timezone": "UTC", "groups": groups}, sort_keys=False))


def sent(log: Path) -> list[float]:
    """Lateness in seconds of every occurrence the beat's JSON log says it sent."""
    late = []
    for line in log.read_text(errors="replace").splitlines():
        if not line.startswith("{"):
            continue
        record = json.loads(line)
        message = record.get("message", "")
        if not message.startswith("Sending due entry"):
            continue
        occurrence = datetime.fromisoformat(message.split(" occurrence ", 1)[1].split(": ", 1)[0])
        late.append((datetime.fromisoformat(record["time"]) - occurrence).total_seconds())
    return late


def start_beat(env: dict[str, str], workdir: Path, name: str) -> tuple[Any, Path]:
    log = workdir / f"{name}.log"
    proc = PROCESSES.start([sys.executable, "-m", "harvester", "beat"], env, workdir, log)
    return proc, log


def at_once(args: argparse.Namespace, base_env: dict[str, str], workdir: Path) -> dict[str, Any]:
    path = workdir / "at_once.yaml"
    schedule_file(path, args.entries, f"every {args.every}")
    env = child_env({**base_env, "HARVESTER_SCHEDULE_FILE": str(path)})
    proc, log = start_beat(env, workdir, "beat-at-once")
    cpu_start = None
    try:
        expected = args.entries * args.occurrences
        deadline = time.monotonic() + args.timeout
        while len(sent(log)) < expected:
            check_alive(proc, log)
            if cpu_start is None and "Sending due entry" in log.read_text(errors="replace"):
                cpu_start = psutil.Process(proc.pid).cpu_times()
            if time.monotonic() > deadline:
                raise BenchError(f"only {len(sent(log))}/{expected} occurrences sent in {args.timeout:g} s; see {log}")
            time.sleep(0.5)
        late = sorted(sent(log))[:expected]
        cpu = psutil.Process(proc.pid).cpu_times()
    finally:
        PROCESSES.stop(proc)
    p99 = late[min(len(late) - 1, int(len(late) * 0.99))]
    return {
        "entries": args.entries,
        "every": args.every,
        "occurrences_sent": len(late),
        "lateness_p50_s": statistics.median(late),
        "lateness_p99_s": p99,
        "lateness_max_s": late[-1],
        "beat_cpu_s_while_sending": (cpu.user + cpu.system) - ((cpu_start.user + cpu_start.system) if cpu_start else 0),
    }


def staggered(args: argparse.Namespace, base_env: dict[str, str], workdir: Path) -> dict[str, Any]:
    path = workdir / "staggered.yaml"
    schedule_file(path, args.staggered, None)
    env = child_env({**base_env, "HARVESTER_SCHEDULE_FILE": str(path)})
    proc, log = start_beat(env, workdir, "beat-staggered")
    try:
        time.sleep(args.warmup)  # start-up: imports, loading the file, the first tick and alert pass
        check_alive(proc, log)
        beat = psutil.Process(proc.pid)
        before, started = beat.cpu_times(), time.monotonic()
        time.sleep(args.window)
        check_alive(proc, log)
        after, wall = beat.cpu_times(), time.monotonic() - started
    finally:
        PROCESSES.stop(proc)
    cpu = (after.user + after.system) - (before.user + before.system)
    return {"entries": args.staggered, "window_s": wall, "beat_cpu_s": cpu, "share_of_a_core": cpu / wall}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--entries", type=int, default=10000)
    p.add_argument("--every", default="30s", help="the period of the at-once entries [default: 30s]")
    p.add_argument("--occurrences", type=int, default=2, help="due instants measured [default: 2]")
    p.add_argument("--staggered", type=int, default=1000, help="cron entries spread over the hour (0: skip)")
    p.add_argument("--window", type=float, default=120.0, help="seconds the staggered beat's CPU is read over")
    p.add_argument("--warmup", type=float, default=30.0, help="seconds of start-up before that window [default: 30]")
    p.add_argument("--timeout", type=float, default=600.0)
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379")
    p.add_argument("--redis-dbs", type=lambda s: [int(x) for x in s.split(",")], default=[7, 8])
    p.add_argument("--flush", action="store_true")
    p.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432")
    p.add_argument("--output", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    args.tasks = 0
    workdir = Path(tempfile.mkdtemp(prefix="harvester-bench-scheduler-"))
    report: dict[str, Any] = {"scenario": "scheduler"}
    try:
        with redis_scenario(args, workdir) as sc:
            env = {
                **sc.harvester_env,
                "HARVESTER_COLLECTORS": "bench.noop",
                "HARVESTER_LOG_FORMAT": "json",
                "HARVESTER_LOG_LEVEL": "INFO",
            }
            subprocess.run(
                [sys.executable, "-m", "harvester", "db", "upgrade"], env=child_env(env), cwd=workdir, check=True
            )
            report["at_once"] = at_once(args, env, workdir)
            a = report["at_once"]
            print(
                f"{a['entries']} entries due at once, {a['occurrences_sent']} sent: lateness p50 "
                f"{a['lateness_p50_s']:.2f} s, p99 {a['lateness_p99_s']:.2f} s, max {a['lateness_max_s']:.2f} s",
                flush=True,
            )
            if args.staggered:
                report["staggered"] = staggered(args, env, workdir)
                s = report["staggered"]
                print(f"{s['entries']} staggered entries: beat CPU {100 * s['share_of_a_core']:.1f}% of a core")
    finally:
        PROCESSES.stop_all()
        shutil.rmtree(workdir, ignore_errors=True)
    report["environment"] = environment()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
