"""Worker memory: a harvester worker at its defaults at rest and over many runs, vs. a bare Celery worker.

    python bench/worker_memory.py [--runs 20000] [--concurrency 2]

Redis broker, PostgreSQL history (as bench/throughput.py's ``redis`` scenario). It starts a bare
Celery worker at Celery's defaults, lets it run 20 no-op tasks, and reads its RSS (main process
and pool children, psutil); then a harvester worker at harvester's defaults, 20 runs, RSS "at
rest"; then N more runs, and RSS again. What it reports: the growth of the harvester worker's main
process over the N runs (the per-run state a worker must not keep, e.g. time-limit timers), and
the total RSS at rest as a ratio of the bare worker's. Results: ``bench/results/worker_memory.json``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.noop import make_bare_app  # noqa: E402
from bench.throughput import (  # noqa: E402  (scrubs HARVESTER_* from this process's environment)
    PROCESSES,
    bare_batch,
    bare_worker_argv,
    child_env,
    environment,
    harvester_batch,
    harvester_worker,
    redis_scenario,
)

RESULTS = ROOT / "bench" / "results" / "worker_memory.json"
MB = 1024 * 1024


def rss(pid: int) -> dict[str, float]:
    """Resident MB of a worker's main process and of it with its pool children."""
    main = psutil.Process(pid)
    children = main.children(recursive=True)
    main_rss = main.memory_info().rss
    return {"main_mb": main_rss / MB, "total_mb": (main_rss + sum(c.memory_info().rss for c in children)) / MB}


def settle() -> None:
    time.sleep(2)  # let the pool's children finish their acknowledgements before reading memory


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=20000)
    p.add_argument("--concurrency", "-c", type=int, default=2)
    p.add_argument("--batch", type=int, default=500)
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379")
    p.add_argument("--redis-dbs", type=lambda s: [int(x) for x in s.split(",")], default=[9, 10])
    p.add_argument("--flush", action="store_true")
    p.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432")
    p.add_argument("--output", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    args.tasks, args.loglevel, args.harvester_env, args.bare_worker_arg = 0, "WARNING", {}, []
    workdir = Path(tempfile.mkdtemp(prefix="harvester-bench-memory-"))
    report: dict[str, Any] = {"scenario": "worker_memory", "runs": args.runs, "concurrency": args.concurrency}
    try:
        with redis_scenario(args, workdir) as sc:
            env = {"BENCH_BROKER_URL": sc.bare_broker, "BENCH_RESULT_BACKEND": sc.bare_backend, "BENCH_DEFAULTS": "1"}
            app = make_bare_app(sc.bare_broker, sc.bare_backend, defaults=True)
            log = workdir / "bare.log"
            proc = PROCESSES.start(bare_worker_argv(args), child_env(env), workdir, log)
            try:
                bare_batch(app, 20, proc, log, timeout=120)
                settle()
                report["bare_at_rest"] = rss(proc.pid)
            finally:
                PROCESSES.stop(proc)
                app.close()
            with harvester_worker(sc, args, "harvester-worker") as w:
                harvester_batch(w.hv, w.poll, 20, 20, w.proc, w.log, timeout=120)
                settle()
                report["harvester_at_rest"] = rss(w.proc.pid)
                seconds = harvester_batch(w.hv, w.poll, args.runs, args.batch, w.proc, w.log, timeout=3600)
                settle()
                report["harvester_after_runs"] = rss(w.proc.pid)
                report["runs_per_second"] = args.runs / seconds
    finally:
        PROCESSES.stop_all()
        shutil.rmtree(workdir, ignore_errors=True)
    growth = report["harvester_after_runs"]["main_mb"] - report["harvester_at_rest"]["main_mb"]
    ratio = report["harvester_at_rest"]["total_mb"] / report["bare_at_rest"]["total_mb"]
    report.update(main_growth_mb=growth, rest_ratio=ratio, environment=environment())
    print(
        f"bare Celery at rest {report['bare_at_rest']['total_mb']:.0f} MB; harvester at rest "
        f"{report['harvester_at_rest']['total_mb']:.0f} MB ({ratio:.2f}x); harvester main process "
        f"{report['harvester_at_rest']['main_mb']:.0f} -> {report['harvester_after_runs']['main_mb']:.0f} MB "
        f"over {args.runs} runs ({growth:+.1f} MB)"
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
