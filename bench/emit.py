"""``emit()`` of many keyed records into PostgreSQL vs. a hand-written COPY + upsert.

    python bench/emit.py [--rows 200000] [--rounds 5] [--postgres-url postgresql://postgres@127.0.0.1:5432]

harvester's side is a collector's ``self.emit(records)`` in a run (``StoreContext``, the history
store of a scratch database ``harvester_bench_<random>``). The anchor is what one would write by
hand for the same job: each record JSON-encoded once and hashed, COPY into a temporary table, then
one ``INSERT ... SELECT ... ON CONFLICT (collector, key) DO UPDATE ... WHERE the hash differs``,
in one transaction, on psycopg directly. Two cases: ``new`` (the records table emptied before each
side) and ``unchanged`` (every record already stored as it is). The sides alternate, and which goes
first alternates too; every round's ratio (rows/s of harvester / anchor) is printed with the
median. Results: ``bench/results/emit.json`` (numbers from a loaded machine are provisional).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import secrets
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from harvester.collector import Collector  # noqa: E402
from harvester.execution.context import StoreContext  # noqa: E402
from harvester.history.store import Store  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "emit.json"
ANCHOR_UPSERT = """
INSERT INTO records (collector, key, payload, content_hash, first_seen, last_seen, run_id)
SELECT 'anchor', key, payload::json, hash, now(), now(), NULL FROM incoming
ON CONFLICT (collector, key) DO UPDATE SET payload = excluded.payload, content_hash = excluded.content_hash,
    last_seen = excluded.last_seen, run_id = excluded.run_id
WHERE records.content_hash IS DISTINCT FROM excluded.content_hash
"""


class BenchEmit(Collector):
    name = "bench_emit"

    def collect(self) -> None:
        """Not run: the benchmark calls ``emit()`` itself."""


def make_records(n: int) -> list[dict[str, Any]]:
    return [
        {"id": i, "name": f"item-{i}", "stars": i % 997, "updated": "2026-12-01T00:00:00Z", "tags": ["a", "b"]}
        for i in range(n)
    ]


@contextlib.contextmanager
def scratch_database(admin_url: str) -> Iterator[str]:
    """A PostgreSQL database of its own, migrated, dropped afterwards; yields its URL."""
    import psycopg

    admin = admin_url.rstrip("/")
    name = f"harvester_bench_{secrets.token_hex(4)}"
    with psycopg.connect(f"{admin}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        store = Store(f"{admin}/{name}")
        store.upgrade()
        store.close()
        yield f"{admin}/{name}"
    finally:
        with psycopg.connect(f"{admin}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def harvester_emit(store: Store) -> Callable[[list[dict[str, Any]]], None]:
    collector = BenchEmit()
    collector.bind(StoreContext(store, collector.name, "", str(uuid.uuid4())))

    def emit(rows: list[dict[str, Any]]) -> None:
        collector.emit(rows)

    return emit


def anchor_emit(url: str) -> Callable[[list[dict[str, Any]]], None]:
    import psycopg

    def emit(rows: list[dict[str, Any]]) -> None:
        with psycopg.connect(url) as conn, conn.cursor() as cur:
            cur.execute("CREATE TEMP TABLE incoming (key text, payload text, hash text) ON COMMIT DROP")
            with cur.copy("COPY incoming (key, payload, hash) FROM STDIN") as copy:
                for row in rows:
                    text = json.dumps(row, separators=(",", ":"))
                    copy.write_row((str(row["id"]), text, hashlib.sha256(text.encode()).hexdigest()))
            cur.execute(ANCHOR_UPSERT)

    return emit


def timed(emit: Callable[[list[dict[str, Any]]], None], rows: list[dict[str, Any]]) -> float:
    started = time.perf_counter()
    emit(rows)
    return time.perf_counter() - started


def truncate(url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("TRUNCATE records")
        conn.execute("VACUUM ANALYZE records")


def measure(url: str, rows: list[dict[str, Any]], rounds: int) -> dict[str, Any]:
    store = Store(url)
    sides = {"harvester": harvester_emit(store), "anchor": anchor_emit(url)}
    found: dict[str, Any] = {}
    try:
        for case in ("new", "unchanged"):
            found[case] = []
            for n in range(1, rounds + 1):
                order = ["anchor", "harvester"] if n % 2 else ["harvester", "anchor"]
                got: dict[str, Any] = {}
                if case == "unchanged":
                    truncate(url)
                    for side in order:
                        sides[side](rows)  # stored as they are; the timed emit changes nothing
                for side in order:
                    if case == "new":
                        truncate(url)
                    got[side] = len(rows) / timed(sides[side], rows)
                got["ratio"] = got["harvester"] / got["anchor"]
                found[case].append(got)
                print(
                    f"{case} round {n}: anchor {got['anchor']:,.0f} rows/s, harvester {got['harvester']:,.0f} rows/s, "
                    f"ratio {got['ratio']:.2f}x",
                    flush=True,
                )
    finally:
        store.close()
    return found


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=200_000)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432")
    p.add_argument("--output", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    rows = make_records(args.rows)
    with scratch_database(args.postgres_url) as url:
        found = measure(url, rows, args.rounds)
    result = {
        "scenario": "emit",
        "rows": args.rows,
        "rounds": found,
        "median_ratio": {case: statistics.median(r["ratio"] for r in got) for case, got in found.items()},
        "median_rows_per_s": {
            case: {side: statistics.median(r[side] for r in got) for side in ("harvester", "anchor")}
            for case, got in found.items()
        },
    }
    for case, ratio in result["median_ratio"].items():
        print(f"{case}: median ratio {ratio:.2f}x (harvester / COPY-upsert anchor)")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
