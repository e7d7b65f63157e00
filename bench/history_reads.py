"""History reads at a small and a large history: dashboard ``/``, ``/health``, ``/metrics``, ``harvester list``.

    python bench/history_reads.py [--small 10000] [--large 5000000] [--rounds 7]

A scratch PostgreSQL database ``harvester_bench_<random>`` gets a schedule of 20 collectors with 5
entries each, and a history made by ``INSERT ... SELECT generate_series`` (triggers off, then the
summary filled by migration 0013's backfill statement): one run every 6.3 s per history (5M runs
is a year), 90% succeeded, 10% failed, durations 0-10 s. The reads are timed first at ``--small``
runs, then again once the history has grown to ``--large``: ``/`` and ``/metrics`` and ``/health``
through the API app in this process (the broker refused at once, so its checks fail fast and
freshness is what is left), ``harvester list`` as the history read it makes
(``Harvester.schedule_overview``). Every round's times and the large/small ratio of each read are
printed with the medians; the target is at most 1.5x. Results: ``bench/results/history_reads.json``
(numbers from a loaded machine are provisional).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.emit import scratch_database  # noqa: E402
from harvester.app import Harvester  # noqa: E402
from harvester.collector import Collector  # noqa: E402
from harvester.history.migrate import MIGRATIONS  # noqa: E402
from harvester.registry import Registry  # noqa: E402
from harvester.schedule.freshness import entry_key  # noqa: E402
from harvester.schedule.loader import load_schedule  # noqa: E402
from harvester.settings import Settings  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "history_reads.json"
COLLECTORS = 20
ENTRIES = 5  # per collector
SPACING = 6.3  # seconds between runs: 5M runs span a year
READS = ("/", "/health", "/metrics", "harvester list")

GENERATE = """
INSERT INTO runs (id, collector, params, params_key, trigger, status, attempt, queued_at, started_at,
                  attempt_started_at, finished_at, duration, records, error_category, force,
                  schedule_group, entry_key, batch_id)
SELECT md5(g::text), 'bench_read_' || lpad(mod(g, %(collectors)s)::text, 2, '0'), '{}', %(params_key)s, 'schedule',
       CASE WHEN mod(g, 10) = 0 THEN 'failed' ELSE 'succeeded' END, 1,
       %(start)s + g * %(spacing)s * interval '1 second',
       %(start)s + g * %(spacing)s * interval '1 second',
       %(start)s + g * %(spacing)s * interval '1 second',
       %(start)s + (g * %(spacing)s + mod(g, 100) / 10.0) * interval '1 second',
       mod(g, 100) / 10.0, mod(g, 7), CASE WHEN mod(g, 10) = 0 THEN 'network' END, false,
       'bench', (%(keys)s::text[])[1 + mod(g, %(collectors)s) + %(collectors)s * mod(g / %(collectors)s, %(entries)s)],
       lpad(g::text, 12, '0')
FROM generate_series(%(first)s::int, %(last)s::int) AS g
"""


def _collector(index: int) -> type[Collector]:
    def collect(self: Collector) -> None:
        """Not run: the benchmark writes history itself."""

    return type(f"BenchRead{index:02d}", (Collector,), {"name": f"bench_read_{index:02d}", "collect": collect})


def write_schedule(path: Path) -> None:
    tasks = [
        f"      - collector: bench_read_{c:02d}\n        schedule: every {e + 1}h\n"
        for e in range(ENTRIES)
        for c in range(COLLECTORS)
    ]
    path.write_text("timezone: UTC\ngroups:\n  bench:\n    tasks:\n" + "".join(tasks))


def backfill_sql() -> str:
    path = next((MIGRATIONS / "versions").glob("0013_*.py"))
    spec = importlib.util.spec_from_file_location("m0013", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return str(module.backfill_sql())


def grow(url: str, hv: Harvester, first: int, last: int, start: datetime) -> float:
    """Runs ``first``..``last`` of the history; returns the seconds it took."""
    import psycopg

    schedule = load_schedule(hv.settings.schedule_file, hv.registry)
    keys = [entry_key(entry, hv.registry) for entry in schedule.entries]
    params_key = hv.registry.get("bench_read_00")().params_key()
    values = {"collectors": COLLECTORS, "entries": ENTRIES, "params_key": params_key, "start": start}
    values.update(spacing=SPACING, keys=keys, first=first, last=last)
    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ALTER TABLE runs DISABLE TRIGGER USER")
        conn.execute(GENERATE, values)
        conn.execute("ALTER TABLE runs ENABLE TRIGGER USER")
        conn.execute("TRUNCATE collector_summary")
        conn.execute(backfill_sql())
        conn.execute("VACUUM ANALYZE runs")
        conn.execute("VACUUM ANALYZE collector_summary")
    return time.perf_counter() - started


def readers(hv: Harvester) -> dict[str, Callable[[], Any]]:
    from fastapi.testclient import TestClient

    from harvester.api.app import create_app

    client = TestClient(create_app(hv), base_url="http://127.0.0.1")

    def get(path: str) -> Callable[[], Any]:
        def read() -> Any:
            answer = client.get(path)
            if answer.status_code not in (200, 503):  # /health: the broker is refused on purpose
                raise RuntimeError(f"{path}: {answer.status_code} {answer.text[:300]}")
            return answer

        return read

    return {
        "/": get("/"),
        "/health": get("/health"),
        "/metrics": get("/metrics"),
        "harvester list": lambda: hv.schedule_overview(datetime.now(UTC)),
    }


def time_reads(reads: dict[str, Callable[[], Any]], rounds: int) -> dict[str, list[float]]:
    for read in reads.values():
        read()  # warm: connections, templates, plans
    times: dict[str, list[float]] = {name: [] for name in reads}
    for _ in range(rounds):
        for name, read in reads.items():
            started = time.perf_counter()
            read()
            times[name].append(time.perf_counter() - started)
    return times


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--small", type=int, default=10_000)
    p.add_argument("--large", type=int, default=5_000_000)
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432")
    p.add_argument("--workdir", type=Path, default=Path("/tmp/harvester-bench-reads"))
    p.add_argument("--output", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    schedule_file = args.workdir / "schedule.yaml"
    write_schedule(schedule_file)
    registry = Registry(_collector(i) for i in range(COLLECTORS))
    # The small history is the newest runs (up to now); growing adds older ones.
    origin = datetime.fromtimestamp(datetime.now(UTC).timestamp() - args.large * SPACING, UTC)
    with scratch_database(args.postgres_url) as url:
        settings = Settings(database_url=url, broker_url="redis://127.0.0.1:1/0", schedule_file=schedule_file)
        hv = Harvester(settings, registry=registry)
        made = {"small": grow(url, hv, args.large - args.small + 1, args.large, origin)}
        small = time_reads(readers(hv), args.rounds)
        made["large"] = grow(url, hv, 1, args.large - args.small, origin)
        large = time_reads(readers(hv), args.rounds)
        hv.store.close()
    rounds = [
        {name: {"small_s": small[name][i], "large_s": large[name][i], "ratio": large[name][i] / small[name][i]}
         for name in READS}
        for i in range(args.rounds)
    ]  # fmt: skip
    for i, got in enumerate(rounds, 1):
        print(f"round {i}: " + ", ".join(f"{n} {r['small_s'] * 1000:.0f} -> {r['large_s'] * 1000:.0f} ms "
                                         f"({r['ratio']:.2f}x)" for n, r in got.items()))  # fmt: skip
    medians = {
        name: {
            "small_ms": statistics.median(small[name]) * 1000,
            "large_ms": statistics.median(large[name]) * 1000,
            "median_ratio": statistics.median(r[name]["ratio"] for r in rounds),
        }
        for name in READS
    }
    for name, m in medians.items():
        print(f"{name}: {m['small_ms']:.0f} ms at {args.small:,} runs, {m['large_ms']:.0f} ms at {args.large:,} "
              f"runs: median ratio {m['median_ratio']:.2f}x")  # fmt: skip
    result = {
        "scenario": "history_reads",
        "runs": {"small": args.small, "large": args.large},
        "generate_seconds": made,
        "rounds": rounds,
        "medians": medians,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
