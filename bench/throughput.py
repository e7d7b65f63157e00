"""Throughput of no-op runs: harvester vs. bare Celery on the same broker.

    python bench/throughput.py [--tasks N] [--concurrency 2] [--backend redis|embedded|all]

For each scenario (``redis``: Redis broker, PostgreSQL history; ``embedded``: kombu
``filesystem://`` broker, SQLite history) it measures, one after the other:

(a) bare Celery: ``celery -A bench.noop worker -c C --pool prefork`` (prefetch 1, acks_late) with a
    result backend; N no-op tasks are published, then all N results are collected;
(b) harvester: ``python -m harvester worker -c C`` with ``HARVESTER_COLLECTORS=bench.noop``; N runs
    are submitted with ``hv.submit`` in batches, then the runs table is polled until all N succeeded.

Each worker is warmed up first. Results: a table on stdout and ``bench/results/latest.json``.
See bench/README.md.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import functools
import itertools
import json
import os
import platform
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Settings() reads HARVESTER_* from the environment: keep the caller's out of every scenario.
for _name in [n for n in os.environ if n.startswith(("HARVESTER_", "BENCH_"))]:
    del os.environ[_name]

from sqlalchemy import create_engine  # noqa: E402

from bench.noop import BARE_TASK, make_bare_app  # noqa: E402
from harvester.app import Harvester  # noqa: E402
from harvester.history.engine import normalise_url  # noqa: E402
from harvester.history.store import FINISHED  # noqa: E402
from harvester.settings import Settings  # noqa: E402

DEFAULT_TASKS = {"redis": 2000, "embedded": 500}
RESULTS = ROOT / "bench" / "results" / "latest.json"
TARGET_RATIO = 0.8
SEQ = itertools.count()


class BenchError(RuntimeError):
    pass


# -- subprocesses --------------------------------------------------------------------------------


class Processes:
    """Every worker this script starts, each in its own process group (the pool children too)."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, argv: list[str], env: dict[str, str], cwd: Path, log: Path) -> subprocess.Popen[bytes]:
        with log.open("wb") as out:
            proc = subprocess.Popen(
                argv, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.procs.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen[bytes], grace: float = 15.0) -> None:
        """SIGTERM the worker (warm shutdown), then SIGKILL whatever is left of its process group."""
        pgid = proc.pid  # start_new_session: the worker leads its own group
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=grace)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)  # stray pool children, or a worker that ignored SIGTERM
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)
        if proc in self.procs:
            self.procs.remove(proc)

    def stop_all(self) -> None:
        for proc in list(self.procs):
            self.stop(proc, grace=5.0)


PROCESSES = Processes()
atexit.register(PROCESSES.stop_all)


def _on_sigterm(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)  # unwinds through the finally blocks that clean up


def child_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HARVESTER_", "BENCH_"))}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def log_tail(log: Path, lines: int = 30) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def check_alive(proc: subprocess.Popen[bytes], log: Path) -> None:
    if proc.poll() is not None:
        tail = log_tail(log)
        hint = (
            " (it got a shutdown signal this script did not send: is something else killing workers by name?)"
            if "Warm shutdown" in tail or "Cold shutdown" in tail
            else ""
        )
        raise BenchError(f"worker exited with code {proc.returncode}{hint}; last lines of {log}:\n{tail}")


# -- scenarios -----------------------------------------------------------------------------------


@dataclass
class Scenario:
    name: str
    tasks: int
    workdir: Path
    bare_broker: str = ""
    bare_backend: str = ""
    bare_fs_dir: str | None = None
    harvester_env: dict[str, str] = field(default_factory=dict)
    cleanups: list[Callable[[], None]] = field(default_factory=list)

    def cleanup(self) -> None:
        for fn in reversed(self.cleanups):
            try:
                fn()
            except Exception as exc:
                print(f"  cleanup of {self.name} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        self.cleanups.clear()


CLAIM_KEY = "harvester-bench:claimed"


def flush_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()


def claim_redis(url: str, flush: bool) -> None:
    """Take a Redis DB for this run: it must be empty (or ``--flush``); a marker key keeps it non-empty.

    The marker matters because the test suite picks "the first empty DB" for itself and flushes it.
    """
    import redis

    client = redis.Redis.from_url(url)
    try:
        size = client.dbsize()
        if size and not flush:
            raise BenchError(
                f"Redis {url} is not empty ({size} keys): pick other DBs with --redis-dbs, or pass --flush "
                "if its content may go (a bench run that was killed leaves its DBs behind)"
            )
        client.flushdb()
        client.set(CLAIM_KEY, str(os.getpid()))
    finally:
        client.close()


@contextlib.contextmanager
def redis_scenario(args: argparse.Namespace, workdir: Path) -> Iterator[Scenario]:
    import psycopg

    base = args.redis_url.rstrip("/")
    bare_url, hv_url = f"{base}/{args.redis_dbs[0]}", f"{base}/{args.redis_dbs[1]}"
    sc = Scenario("redis", args.tasks or DEFAULT_TASKS["redis"], workdir, bare_broker=bare_url, bare_backend=bare_url)
    try:
        for url in (bare_url, hv_url):
            claim_redis(url, args.flush)
            sc.cleanups.append(functools.partial(flush_redis, url))
        dbname = f"harvester_bench_{secrets.token_hex(4)}"
        admin = args.postgres_url.rstrip("/")
        with psycopg.connect(f"{admin}/postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{dbname}"')

        def drop() -> None:
            with psycopg.connect(f"{admin}/postgres", autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')

        sc.cleanups.append(drop)
        sc.harvester_env = {
            "HARVESTER_BROKER_URL": hv_url,
            "HARVESTER_DATABASE_URL": f"{admin}/{dbname}",
            "HARVESTER_DATA_DIR": str(workdir / "harvester"),
        }
        yield sc
    finally:
        sc.cleanup()


@contextlib.contextmanager
def embedded_scenario(args: argparse.Namespace, workdir: Path) -> Iterator[Scenario]:
    bare_dir = workdir / "bare"
    sc = Scenario(
        "embedded",
        args.tasks or DEFAULT_TASKS["embedded"],
        workdir,
        bare_broker="filesystem://",
        bare_backend=f"file://{bare_dir / 'results'}",
        bare_fs_dir=str(bare_dir / "broker"),
        harvester_env={"HARVESTER_DATA_DIR": str(workdir / "harvester")},  # no URL: the embedded default
    )
    (bare_dir / "results").mkdir(parents=True, exist_ok=True)
    try:
        yield sc
    finally:
        sc.cleanup()


# -- (a) bare Celery -----------------------------------------------------------------------------


def poll_in_order(
    ids: list[str],
    ready_among: Callable[[list[str]], dict[str, Any]],
    deadline: float,
    on_interval: Callable[[], None],
    what: str,
    chunk: int = 100,
    interval: float = 0.01,
) -> dict[str, Any]:
    """Poll until every id in ``ids`` is done; ``ready_among(keys)`` returns the done ones of a chunk.

    Both sides are watched alike: in submission order, ``chunk`` ids per lookup, and a poll stops
    at the first chunk that is not all done, so being watched costs little while the workers run.
    """
    pending = list(ids)
    done: dict[str, Any] = {}
    while pending:
        while pending:
            keys = pending[:chunk]
            ready = ready_among(keys)
            done.update(ready)
            pending = [k for k in pending if k not in ready]
            if len(ready) < len(keys):
                break
        if not pending:
            break
        if time.perf_counter() > deadline:
            raise BenchError(f"{what}: timed out with {len(done)}/{len(ids)} done")
        on_interval()
        time.sleep(interval)
    return done


def collect_results(
    backend: Any, ids: list[str], deadline: float, on_interval: Callable[[], None]
) -> dict[str, dict[str, Any]]:
    """The results of ``ids`` from the result backend, one MGET per chunk.

    Like ``backend.get_many``, except that a value that does not decode counts as not ready yet:
    the ``file://`` backend writes results in place, so a reader can catch one half-written
    (``get_many`` then raises kombu's ``DecodeError``).
    """
    from celery import states
    from kombu.exceptions import DecodeError

    def ready_among(keys: list[str]) -> dict[str, Any]:
        values = list(backend.mget([backend.get_key_for_task(k) for k in keys]))
        ready: dict[str, Any] = {}
        for task_id, raw in zip(keys, values, strict=True):
            if raw is None:
                continue
            try:
                meta = backend.decode_result(raw)
            except (ValueError, DecodeError):  # half-written by the file:// backend
                continue
            if meta["status"] in states.READY_STATES:
                ready[task_id] = meta
        return ready

    return poll_in_order(ids, ready_among, deadline, on_interval, "bare Celery")


def bare_batch(app: Any, n: int, proc: subprocess.Popen[bytes], log: Path, timeout: float) -> float:
    """Publish ``n`` no-op tasks, collect all ``n`` results; seconds from first publish to last result."""
    task = app.tasks[BARE_TASK]
    started = time.perf_counter()
    with app.producer_or_acquire() as producer:
        ids = [task.apply_async(producer=producer).id for _ in range(n)]
    metas = collect_results(app.backend, ids, started + timeout, lambda: check_alive(proc, log))
    elapsed = time.perf_counter() - started
    bad = [m for m in metas.values() if m["status"] != "SUCCESS"]
    if len(metas) != n or bad:
        raise BenchError(f"bare Celery: {len(metas)}/{n} results, {len(bad)} not SUCCESS: {bad[:1]}")
    return elapsed


def bare_worker_argv(args: argparse.Namespace) -> list[str]:
    """``celery worker`` for the bare app, configured like harvester's worker."""
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "bench.noop",
        "worker",
        "-c",
        str(args.concurrency),
        "--pool",
        "prefork",
        "--loglevel",
        args.loglevel,
        "--hostname",
        f"bench-{os.getpid()}@%h",
        *args.bare_worker_arg,
    ]


def bench_bare(sc: Scenario, args: argparse.Namespace, round_no: int) -> float:
    """A fresh bare worker: warm-up, then one timed batch; its seconds."""
    env = {"BENCH_BROKER_URL": sc.bare_broker, "BENCH_RESULT_BACKEND": sc.bare_backend}
    if sc.bare_fs_dir:
        env["BENCH_FS_DIR"] = sc.bare_fs_dir
    if args.defaults:
        env["BENCH_DEFAULTS"] = "1"
    app = make_bare_app(sc.bare_broker, sc.bare_backend, sc.bare_fs_dir, defaults=args.defaults)
    log = sc.workdir / f"bare-worker-{round_no}.log"
    argv = bare_worker_argv(args)
    proc = PROCESSES.start(argv, child_env(env), sc.workdir, log)
    try:
        bare_batch(app, args.warmup, proc, log, timeout=120)
        return bare_batch(app, sc.tasks, proc, log, timeout=args.timeout)
    finally:
        PROCESSES.stop(proc)
        app.close()


# -- (b) harvester -------------------------------------------------------------------------------


def harvester_settings(env: dict[str, str], concurrency: int) -> Settings:
    return Settings(
        _env_file=None,
        data_dir=Path(env["HARVESTER_DATA_DIR"]),
        broker_url=env.get("HARVESTER_BROKER_URL"),
        database_url=env.get("HARVESTER_DATABASE_URL"),
        collectors=["bench.noop"],
        concurrency=concurrency,
    )


#: The status of a chunk of runs by primary key: one array (PostgreSQL) or JSON (SQLite) parameter,
#: so a poll costs about what bare Celery's MGET of a chunk costs (100 bound parameters through
#: SQLAlchemy cost three times that). No status condition: the planner would then scan every
#: finished run through the status index, a cost that grows with the history.
STATUS_OF = {
    "postgresql": "SELECT id, status FROM runs WHERE id = ANY(%s)",
    "sqlite": "SELECT id, status FROM runs WHERE id IN (SELECT value FROM json_each(?))",
}


def collect_runs(poll: Any, ids: list[str], deadline: float, on_interval: Callable[[], None]) -> dict[str, str]:
    """The final status of each run in ``ids``, one primary-key lookup per chunk (see :data:`STATUS_OF`)."""
    dialect = poll.dialect.name
    sql = STATUS_OF[dialect]
    raw = poll.raw_connection()
    try:
        # each poll sees what the workers committed: no transaction (and snapshot) held open
        if dialect == "postgresql":
            raw.dbapi_connection.autocommit = True
            # On a young table the planner's statistics say a sequential scan beats 100 primary-key
            # probes; with a few thousand runs that scan costs the server ~1 ms per poll.
            raw.cursor().execute("SET enable_seqscan = off")
        else:
            raw.dbapi_connection.isolation_level = None
        cursor = raw.cursor()

        def ready_among(keys: list[str]) -> dict[str, Any]:
            cursor.execute(sql, (keys if dialect == "postgresql" else json.dumps(keys),))
            return {run_id: status for run_id, status in cursor.fetchall() if status in FINISHED}

        return poll_in_order(ids, ready_among, deadline, on_interval, "harvester")
    finally:
        raw.close()


def harvester_batch(
    hv: Harvester,
    poll: Any,
    n: int,
    batch: int,
    proc: subprocess.Popen[bytes],
    log: Path,
    timeout: float,
) -> float:
    """Submit ``n`` runs in batches, poll until all are finished; seconds from first submit to last success."""
    started = time.perf_counter()
    ids: list[str] = []
    left = n
    while left:
        size = min(batch, left)
        # distinct params per run: runs of one collector with equal params would hit the overlap lock
        ids += hv.submit([hv.request("bench_noop", {"seq": next(SEQ)}) for _ in range(size)])
        left -= size
    statuses = collect_runs(poll, ids, started + timeout, lambda: check_alive(proc, log))
    elapsed = time.perf_counter() - started
    bad = {s for s in statuses.values() if s != "succeeded"}
    if bad:
        raise BenchError(f"harvester: not every run succeeded: {sorted(bad)}")
    return elapsed


@dataclass
class HarvesterWorker:
    """A running ``harvester worker`` for a scenario, the app that submits to it, and a poll engine."""

    hv: Harvester
    poll: Any
    proc: subprocess.Popen[bytes]
    log: Path


@contextlib.contextmanager
def harvester_worker(sc: Scenario, args: argparse.Namespace, name: str) -> Iterator[HarvesterWorker]:
    env = dict(
        sc.harvester_env,
        HARVESTER_COLLECTORS="bench.noop",
        HARVESTER_LOG_LEVEL=args.loglevel,
        HARVESTER_CONCURRENCY=str(args.concurrency),
    )
    env.update(args.harvester_env)  # the worker's settings; the submitting side does not need them
    hv = Harvester(harvester_settings(env, args.concurrency))
    hv.store.upgrade()
    poll = create_engine(normalise_url(hv.settings.effective_database_url))  # plain engine: no write lock on reads
    log = sc.workdir / f"{name}.log"
    argv = [sys.executable, "-m", "harvester", "worker", "-c", str(args.concurrency)]
    proc = PROCESSES.start(argv, child_env(env), sc.workdir, log)
    try:
        yield HarvesterWorker(hv, poll, proc, log)
    finally:
        PROCESSES.stop(proc)
        poll.dispose()
        hv.close()
        if "celery" in hv.__dict__:
            hv.celery.close()


def bench_harvester(sc: Scenario, args: argparse.Namespace, round_no: int) -> float:
    """A fresh harvester worker: warm-up, then one timed batch; its seconds."""
    with harvester_worker(sc, args, f"harvester-worker-{round_no}") as w:
        harvester_batch(w.hv, w.poll, args.warmup, args.batch, w.proc, w.log, timeout=120)
        return harvester_batch(w.hv, w.poll, sc.tasks, args.batch, w.proc, w.log, timeout=args.timeout)


def interleaved(sc: Scenario, args: argparse.Namespace) -> tuple[list[float], list[float]]:
    """``--repeat`` rounds of one bare batch then one harvester batch, each in a fresh worker.

    The machine's speed drifts during a run (±20 % on a shared 2-core box); alternating the two
    sides spreads that drift over both instead of charging it to whichever ran second.
    """
    bare: list[float] = []
    harvester: list[float] = []
    for round_no in range(args.repeat):
        bare.append(bench_bare(sc, args, round_no))
        harvester.append(bench_harvester(sc, args, round_no))
        print(
            f"[{sc.name}]   round {round_no + 1}: bare {sc.tasks / bare[-1]:.1f} tasks/s, "
            f"harvester {sc.tasks / harvester[-1]:.1f} runs/s",
            flush=True,
        )
    return bare, harvester


# -- reporting -----------------------------------------------------------------------------------


def summarize(n: int, times: list[float]) -> dict[str, Any]:
    rates = [n / t for t in times]
    return {
        "tasks": n,
        "seconds": [round(t, 3) for t in times],
        "tasks_per_s_each": [round(r, 1) for r in rates],
        "tasks_per_s": round(statistics.median(rates), 1),
    }


def environment() -> dict[str, Any]:
    from importlib.metadata import version

    info: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "packages": {p: version(p) for p in ("celery", "kombu", "sqlalchemy", "psycopg", "redis")},
    }
    with contextlib.suppress(Exception):
        info["git_commit"] = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    return info


def print_table(rows: list[dict[str, Any]]) -> None:
    head = f"{'scenario':<10} {'tasks':>6} {'bare Celery /s':>15} {'harvester /s':>13} {'ratio':>7}"
    print()
    print(head)
    print("-" * len(head))
    for r in rows:
        if "error" in r:
            print(f"{r['scenario']:<10} {'':>6} error: {r['error']}")
            continue
        ratio = r["ratio"]
        mark = "" if ratio >= TARGET_RATIO else f"  (below the {TARGET_RATIO}x target)"
        print(
            f"{r['scenario']:<10} {r['tasks']:>6} {r['bare']['tasks_per_s']:>15.1f} "
            f"{r['harvester']['tasks_per_s']:>13.1f} {ratio:>6.2f}x{mark}"
        )
    print()


def print_fanout_table(rows: list[dict[str, Any]]) -> None:
    head = f"{'scenario':<10} {'members':>8} {'bare chord s':>13} {'harvester s':>12} {'ratio':>7}"
    print()
    print(head)
    print("-" * len(head))
    for r in rows:
        if "error" in r:
            print(f"{r['scenario']:<10} {'':>8} error: {r['error']}")
            continue
        print(
            f"{r['scenario']:<10} {r['fanout']:>8} {r['bare']['seconds']:>13.2f} "
            f"{r['harvester']['seconds']:>12.2f} {r['ratio']:>6.2f}x"
        )
    print("ratio = bare chord time / harvester time (1.0 = as fast as a bare chord)")
    print()


def run_scenario(name: str, args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix=f"harvester-bench-{name}-"))
    factory = redis_scenario if name == "redis" else embedded_scenario
    try:
        with factory(args, workdir) as sc:
            if args.fanout:
                from bench.fanout import run as run_fanout

                return run_fanout(sc, args)
            print(
                f"[{name}] {args.repeat} rounds of {sc.tasks} bare Celery tasks, then {sc.tasks} harvester runs; "
                f"concurrency {args.concurrency} ...",
                flush=True,
            )
            bare_times, hv_times = interleaved(sc, args)
            bare, hv = summarize(sc.tasks, bare_times), summarize(sc.tasks, hv_times)
            return {
                "scenario": name,
                "tasks": sc.tasks,
                "bare": bare,
                "harvester": hv,
                "ratio": round(hv["tasks_per_s"] / bare["tasks_per_s"], 3),
                "ratio_each_round": [round(b / h, 3) for b, h in zip(bare_times, hv_times, strict=True)],
            }
    finally:
        if args.keep:
            print(f"[{name}] kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--tasks", "-n", type=int, default=None, help="tasks per timed batch [default: 2000 redis, 500 embedded]"
    )
    p.add_argument("--concurrency", "-c", type=int, default=2, help="worker processes [default: 2]")
    p.add_argument("--backend", choices=["redis", "embedded", "all"], default="all")
    p.add_argument(
        "--repeat", type=int, default=3, help="rounds of one timed batch per side (--fanout: flows per side)"
    )
    p.add_argument("--warmup", type=int, default=20, help="untimed tasks before timing [default: 20]")
    p.add_argument("--batch", type=int, default=100, help="runs per hv.submit call [default: 100]")
    p.add_argument("--loglevel", default="WARNING", help="log level of both workers [default: WARNING]")
    p.add_argument("--timeout", type=float, default=300, help="seconds one timed batch may take")
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379")
    p.add_argument(
        "--redis-dbs",
        type=lambda s: [int(x) for x in s.split(",")],
        default=[13, 14],
        help="Redis DB numbers for bare Celery and harvester; must be empty, flushed after [13,14]",
    )
    p.add_argument("--flush", action="store_true", help="empty the Redis DBs first even when they hold keys")
    p.add_argument(
        "--postgres-url",
        default="postgresql://postgres@127.0.0.1:5432",
        help="server where a scratch database harvester_bench_<random> is created and dropped",
    )
    p.add_argument(
        "--harvester-env",
        metavar="HARVESTER_X=VALUE",
        action="append",
        default=[],
        type=lambda s: tuple(s.split("=", 1)),
        help="extra setting for the harvester worker (repeatable), e.g. HARVESTER_MAX_TASKS_PER_CHILD=1000",
    )
    p.add_argument(
        "--bare-worker-arg",
        metavar="ARG",
        action="append",
        default=[],
        help="extra argument for the bare `celery worker` (repeatable), "
        "e.g. --bare-worker-arg=--max-tasks-per-child=100",
    )
    p.add_argument(
        "--max-tasks-per-child",
        type=int,
        default=100,
        help="for both workers, so they are configured alike [default: 100]",
    )
    p.add_argument(
        "--defaults",
        action="store_true",
        help="each side at its own defaults (bare Celery: early acks, prefetch 4, no recycling; harvester: "
        "its settings' defaults): the comparison a user sees; ignores --max-tasks-per-child",
    )
    p.add_argument(
        "--fanout",
        type=int,
        default=0,
        metavar="N",
        help="instead of throughput: one fan-out of N no-op members vs. a bare Celery chord of N (bench/fanout.py)",
    )
    p.add_argument("--output", type=Path, default=None, help=f"[default: {RESULTS}, or fanout.json with --fanout]")
    p.add_argument("--keep", action="store_true", help="keep the temp dirs (worker logs, SQLite, broker files)")
    args = p.parse_args(argv)
    bad = [k for k, *_ in args.harvester_env if not k.startswith("HARVESTER_")]
    if bad or any(len(kv) != 2 for kv in args.harvester_env):
        p.error("--harvester-env takes HARVESTER_NAME=VALUE")
    args.output = args.output or (RESULTS.with_name("fanout.json") if args.fanout else RESULTS)
    if args.defaults:
        args.harvester_env = dict(args.harvester_env)
        return args
    args.harvester_env = {"HARVESTER_MAX_TASKS_PER_CHILD": str(args.max_tasks_per_child), **dict(args.harvester_env)}
    args.bare_worker_arg = [f"--max-tasks-per-child={args.max_tasks_per_child}", *args.bare_worker_arg]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _on_sigterm)
    names = ["redis", "embedded"] if args.backend == "all" else [args.backend]
    rows: list[dict[str, Any]] = []
    failed = False
    try:
        for name in names:
            try:
                rows.append(run_scenario(name, args))
            except Exception as exc:  # report it, go on with the next scenario
                failed = True
                if not isinstance(exc, BenchError):
                    traceback.print_exc()
                print(f"[{name}] FAILED: {type(exc).__name__}: {exc}", file=sys.stderr)
                rows.append({"scenario": name, "error": str(exc)})
    finally:
        PROCESSES.stop_all()
    (print_fanout_table if args.fanout else print_table)(rows)
    report = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "settings": {
            "concurrency": args.concurrency,
            "repeat": args.repeat,
            "warmup": args.warmup,
            "batch": args.batch,
            "loglevel": args.loglevel,
            "target_ratio": TARGET_RATIO,
            "fanout": args.fanout,
            "defaults": args.defaults,
            "harvester_env": args.harvester_env,
            "bare_worker_args": args.bare_worker_arg,
        },
        "environment": environment(),
        "scenarios": rows,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {args.output}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
