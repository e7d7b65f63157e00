"""Fan-out of N no-op members through harvester vs. a bare Celery chord of N no-op tasks.

    python bench/throughput.py --fanout 1000 [--backend redis|embedded|all] [--repeat 3]

Same scenarios, brokers and worker settings as the throughput benchmark (bench/throughput.py):

(a) bare Celery: ``chord([noop.s()] * N)(gather.s())``; timed from publishing to the callback's result;
(b) harvester: one run of ``bench_fanout`` (N ``bench_noop`` members, each a recorded run with its
    own overlap lock, then gather) submitted with ``hv.submit``; timed until the parent succeeded.

The ratio is bare seconds / harvester seconds (above 1: harvester faster), like the throughput one.
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path
from typing import Any

from celery import chord
from sqlalchemy import select

from bench.noop import BARE_GATHER, BARE_TASK, make_bare_app
from bench.throughput import (
    PROCESSES,
    BenchError,
    Scenario,
    bare_worker_argv,
    check_alive,
    child_env,
    harvester_worker,
)
from harvester.app import Harvester
from harvester.history.models import runs

SEQ = itertools.count(1)


def summarize(members: int, times: list[float]) -> dict[str, Any]:
    return {
        "members": members,
        "seconds_each": [round(t, 3) for t in times],
        "seconds": round(sorted(times)[len(times) // 2], 3),
    }


def bare_chord(app: Any, n: int, proc: Any, log: Path, timeout: float) -> float:
    started = time.perf_counter()
    result = chord([app.signature(BARE_TASK) for _ in range(n)], app=app)(app.signature(BARE_GATHER))
    deadline = started + timeout
    while not result.ready():
        if time.perf_counter() > deadline:
            raise BenchError(f"bare chord of {n}: no callback result after {timeout}s")
        check_alive(proc, log)
        time.sleep(0.01)
    elapsed = time.perf_counter() - started
    if result.get(timeout=5) != n:
        raise BenchError(f"bare chord: callback counted {result.result} of {n}")
    return elapsed


def bench_bare_chord(sc: Scenario, args: argparse.Namespace) -> dict[str, Any]:
    env = {"BENCH_BROKER_URL": sc.bare_broker, "BENCH_RESULT_BACKEND": sc.bare_backend}
    if sc.bare_fs_dir:
        env["BENCH_FS_DIR"] = sc.bare_fs_dir
    if args.defaults:
        env["BENCH_DEFAULTS"] = "1"
    app = make_bare_app(sc.bare_broker, sc.bare_backend, sc.bare_fs_dir, defaults=args.defaults)
    log = sc.workdir / "bare-chord-worker.log"
    proc = PROCESSES.start(bare_worker_argv(args), child_env(env), sc.workdir, log)
    try:
        bare_chord(app, 10, proc, log, timeout=120)  # warm-up
        times = [bare_chord(app, args.fanout, proc, log, args.timeout) for _ in range(args.repeat)]
    finally:
        PROCESSES.stop(proc)
        app.close()
    return summarize(args.fanout, times)


def harvester_fanout(hv: Harvester, poll: Any, n: int, proc: Any, log: Path, timeout: float) -> float:
    started = time.perf_counter()
    (run_id,) = hv.submit([hv.request("bench_fanout", {"members": n, "seq": next(SEQ)})])
    query = select(runs.c.status, runs.c.result, runs.c.error_message).where(runs.c.id == run_id)
    deadline = started + timeout
    while True:
        with poll.connect() as conn:
            status, result, error = conn.execute(query).one()
        if status in ("succeeded", "failed", "skipped"):
            break
        if time.perf_counter() > deadline:
            raise BenchError(f"harvester fan-out of {n}: still {status} after {timeout}s")
        check_alive(proc, log)
        time.sleep(0.02)
    elapsed = time.perf_counter() - started
    if status != "succeeded" or result != n:
        raise BenchError(f"harvester fan-out: {status}, gathered {result} of {n}: {error}")
    return elapsed


def bench_harvester_fanout(sc: Scenario, args: argparse.Namespace) -> dict[str, Any]:
    with harvester_worker(sc, args, "harvester-fanout-worker") as w:
        harvester_fanout(w.hv, w.poll, 10, w.proc, w.log, timeout=120)  # warm-up
        times = [harvester_fanout(w.hv, w.poll, args.fanout, w.proc, w.log, args.timeout) for _ in range(args.repeat)]
    return summarize(args.fanout, times)


def run(sc: Scenario, args: argparse.Namespace) -> dict[str, Any]:
    print(f"[{sc.name}] bare Celery chord of {args.fanout} x {args.repeat} ...", flush=True)
    bare = bench_bare_chord(sc, args)
    print(f"[{sc.name}]   {bare['seconds_each']} s", flush=True)
    print(f"[{sc.name}] harvester fan-out of {args.fanout} x {args.repeat} ...", flush=True)
    hv = bench_harvester_fanout(sc, args)
    print(f"[{sc.name}]   {hv['seconds_each']} s", flush=True)
    return {
        "scenario": sc.name,
        "fanout": args.fanout,
        "bare": bare,
        "harvester": hv,
        "ratio": round(bare["seconds"] / hv["seconds"], 3),
        "ratio_each_round": [round(b / h, 3) for b, h in zip(bare["seconds_each"], hv["seconds_each"], strict=True)],
    }
