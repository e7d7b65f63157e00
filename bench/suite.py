"""Every benchmark scenario in one run, and docs/benchmarks.md made from the results (``./dev bench``).

    python bench/suite.py [--rounds 5] [--only NAME ...] [--report-only]

Each scenario is one of the scripts beside this one, run as a subprocess with its results written
to ``bench/results/<name>.json``; ``--report-only`` skips running and rebuilds the page from the
results already there. The page has one row per scenario (anchor, harvester, every round's
ratio, the median, the issue's target) and, with matplotlib installed (the dev extra), a plot of
the median ratios at ``docs/img/benchmarks.png``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PAGE = ROOT / "docs" / "benchmarks.md"
PLOT = ROOT / "docs" / "img" / "benchmarks.png"


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    argv: Callable[[int], list[str]]  # rounds -> arguments of the script
    target: str
    summary: Callable[[dict[str, Any]], dict[str, Any] | list[dict[str, Any]]]


def _throughput(data: dict[str, Any]) -> dict[str, Any]:
    row = data["scenarios"][0]
    if "error" in row:
        return {"error": row["error"]}
    ratios = row["ratio_each_round"]
    if "fanout" in row:
        anchor, ours = f"{row['bare']['seconds']:.1f} s", f"{row['harvester']['seconds']:.1f} s"
    else:
        anchor, ours = f"{row['bare']['tasks_per_s']:.0f} tasks/s", f"{row['harvester']['tasks_per_s']:.0f} runs/s"
    return {"anchor": anchor, "harvester": ours, "ratios": ratios}


def _rounds(data: dict[str, Any]) -> dict[str, Any]:
    """Scripts that write ``rounds`` (each with ``ratio``) and their own anchor/harvester words."""
    ratios = [r["ratio"] for r in data["rounds"]]
    return {"anchor": data.get("anchor_text", ""), "harvester": data.get("harvester_text", ""), "ratios": ratios}


def _api(data: dict[str, Any]) -> dict[str, Any]:
    rounds = data["rounds"]
    return {
        "anchor": f"{statistics.median(r['anchor']['rps'] for r in rounds):.0f} req/s, "
        f"p99 {data['anchor_p99_ms_median']:.0f} ms",
        "harvester": f"{statistics.median(r['harvester']['rps'] for r in rounds):.0f} req/s, "
        f"p99 {data['harvester_p99_ms_median']:.0f} ms",
        "ratios": [r["ratio"] for r in rounds],
    }


def _scheduler(data: dict[str, Any]) -> dict[str, Any]:
    a = data["at_once"]
    words = f"{a['entries']} due at once: late p50 {a['lateness_p50_s']:.2f} s, p99 {a['lateness_p99_s']:.2f} s"
    if "staggered" in data:
        s = data["staggered"]
        words += f"; {s['entries']} staggered: {100 * s['share_of_a_core']:.1f}% of a core"
    return {"anchor": "-", "harvester": words, "ratios": []}


def _memory(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "anchor": f"{data['bare_at_rest']['total_mb']:.0f} MB at rest",
        "harvester": f"{data['harvester_at_rest']['total_mb']:.0f} MB at rest; main process "
        f"{data['main_growth_mb']:+.1f} MB over {data['runs']} runs",
        "ratios": [data["rest_ratio"]],
    }


def _emit(data: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for case, rounds in data["rounds"].items():
        speeds = data["median_rows_per_s"][case]
        out.append(
            {
                "title": f"emit() of {data['rows']:,} keyed rows, {case}, vs COPY + upsert",
                "label": f"emit {case}",
                "anchor": f"{speeds['anchor']:,.0f} rows/s",
                "harvester": f"{speeds['harvester']:,.0f} rows/s",
                "ratios": [r["ratio"] for r in rounds],
            }
        )
    return out


def _reads(data: dict[str, Any]) -> list[dict[str, Any]]:
    small, large = data["runs"]["small"], data["runs"]["large"]
    return [
        {
            "title": f"{name} at {large:,} runs vs at {small:,} runs (time ratio, lower is better)",
            "anchor": f"{m['small_ms']:.0f} ms at {small:,}",
            "harvester": f"{m['large_ms']:.0f} ms at {large:,}",
            "ratios": [r[name]["ratio"] for r in data["rounds"]],
            "sizes": (small, large, m["small_ms"], m["large_ms"]),
        }
        for name, m in data["medians"].items()
    ]


def _script(name: str, *args: str) -> list[str]:
    return [sys.executable, str(ROOT / "bench" / name), *args]


def _out(name: str) -> str:
    return f"--output={RESULTS / (name + '.json')}"


SCENARIOS = [
    Scenario(
        "defaults",
        "no-op runs, each side at its defaults (Redis, PostgreSQL)",
        lambda r: _script("throughput.py", "--backend=redis", "--defaults", f"--repeat={r}", _out("defaults")),
        ">= 0.7x",
        _throughput,
    ),
    Scenario(
        "same_config",
        "no-op runs, same configuration (max_tasks_per_child=100, prefetch 1, late ack)",
        lambda r: _script("throughput.py", "--backend=redis", f"--repeat={r}", _out("same_config")),
        ">= 0.9x",
        _throughput,
    ),
    Scenario(
        "fanout_1000",
        "fan-out of 1,000 no-op members vs a bare chord (defaults)",
        lambda r: _script(
            "throughput.py", "--backend=redis", "--defaults", "--fanout=1000", f"--repeat={r}", _out("fanout_1000")
        ),
        ">= 0.6x",
        _throughput,
    ),
    Scenario(
        "fanout_10000",
        "fan-out of 10,000 no-op members vs a bare chord (defaults)",
        lambda r: _script(
            "throughput.py",
            "--backend=redis",
            "--defaults",
            "--fanout=10000",
            f"--repeat={max(2, r // 2)}",
            _out("fanout_10000"),
        ),
        ">= 0.6x",
        _throughput,
    ),
    Scenario(
        "scheduler",
        "10,000 schedule entries due at once; 1,000 staggered",
        lambda r: _script("scheduler.py", _out("scheduler")),
        "p99 <= 1 s; < 5% of a core",
        _scheduler,
    ),
    Scenario(
        "emit",
        "emit()",
        lambda r: _script("emit.py", f"--rounds={r}", _out("emit")),
        ">= 0.75x",
        _emit,
    ),
    Scenario(
        "history_reads",
        "history reads",
        lambda r: _script("history_reads.py", f"--rounds={r}", _out("history_reads")),
        "<= 1.5x",
        _reads,
    ),
    Scenario(
        "api_trigger",
        "API trigger, 32 connections, vs a hand-written FastAPI + send_task endpoint",
        lambda r: _script("api_trigger.py", f"--rounds={r}", _out("api_trigger")),
        ">= 1.0x, p99 <= 100 ms",
        _api,
    ),
    Scenario(
        "worker_memory",
        "worker memory at defaults vs a bare Celery worker; growth over 20,000 runs",
        lambda r: _script("worker_memory.py", _out("worker_memory")),
        "<= 1.5x at rest; <= 5 MB growth",
        _memory,
    ),
]


def run(scenario: Scenario, rounds: int) -> bool:
    print(f"== {scenario.name}: {scenario.title}", flush=True)
    done = subprocess.run(scenario.argv(rounds), cwd=ROOT, check=False)
    if done.returncode != 0:
        print(f"== {scenario.name} FAILED (exit {done.returncode})", flush=True)
    return done.returncode == 0


def rows() -> list[dict[str, Any]]:
    out = []
    for scenario in SCENARIOS:
        path = RESULTS / f"{scenario.name}.json"
        row: dict[str, Any] = {"name": scenario.name, "title": scenario.title, "target": scenario.target}
        if not path.exists():
            out.append({**row, "error": "not run"})
            continue
        row["measured"] = datetime.fromtimestamp(path.stat().st_mtime, UTC).strftime("%Y-%m-%d %H:%M")
        try:
            summary = scenario.summary(json.loads(path.read_text()))
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            out.append({**row, "error": f"unreadable result ({type(exc).__name__}: {exc})"})
            continue
        for part in summary if isinstance(summary, list) else [summary]:
            out.append({**row, **part})
    return out


def page(table: list[dict[str, Any]], plotted: bool) -> str:
    lines = [
        "# Benchmarks",
        "",
        "Made by `./dev bench` (bench/suite.py) on the machine it ran on; each ratio is harvester against",
        "the anchor measured in the same run, in alternating rounds (for times: anchor / harvester, so",
        "above 1 is faster). Every round's ratio is shown, then the median. What each script measures:",
        "`bench/README.md`. The machine has two cores; a row measured while other work ran on it",
        "swings more from round to round (its anchor moves as much): read each row's rounds, and",
        "compare ratios within a row, not speeds across rows.",
        "",
        "| scenario | anchor | harvester | every round | median | target | measured (UTC) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in table:
        if "error" in r:
            lines.append(f"| {r['title']} | | {r['error']} | | | {r['target']} | {r.get('measured', '')} |")
            continue
        ratios = r["ratios"]
        each = ", ".join(f"{x:.2f}x" for x in ratios)
        median = f"**{statistics.median(ratios):.2f}x**" if ratios else ""
        lines.append(
            f"| {r['title']} | {r['anchor']} | {r['harvester']} | {each} | {median} | {r['target']} | {r['measured']} |"
        )
    if plotted:
        lines += ["", "![median speed ratio per scenario; history read time against history size](img/benchmarks.png)"]
    return "\n".join(lines) + "\n"


#: Scenarios whose ratio is a speed (above 1: faster than the anchor): the left panel.
SPEEDS = ("defaults", "same_config", "fanout_1000", "fanout_10000", "emit", "api_trigger")


def plot(table: list[dict[str, Any]]) -> bool:
    """Left: median speed ratio per scenario; right: history read time against history size."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed (pip install -e '.[dev]'): no plot", file=sys.stderr)
        return False
    speeds = [
        (r.get("label", r["name"]), statistics.median(r["ratios"]))
        for r in table
        if r["name"] in SPEEDS and "error" not in r and r["ratios"]
    ]
    reads = [r for r in table if "sizes" in r]
    if not speeds and not reads:
        return False
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    left.barh([n for n, _ in speeds], [v for _, v in speeds], color="#4c78a8")
    left.axvline(1.0, color="black", linewidth=0.8)
    left.set_xlabel("harvester / anchor, median of rounds (1 = as fast)")
    for r in reads:
        small, large, small_ms, large_ms = r["sizes"]
        right.plot([small, large], [small_ms, large_ms], marker="o", label=r["title"].split(" at ")[0])
    right.set_xscale("log")
    right.set_xlabel("runs in history")
    right.set_ylabel("read time, ms (median)")
    if reads:
        right.legend(fontsize="small")
    fig.tight_layout()
    PLOT.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(PLOT, dpi=100)
    plt.close(fig)
    return True


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=5, help="alternating rounds per scenario [default: 5]")
    p.add_argument("--only", nargs="*", choices=[s.name for s in SCENARIOS], help="run only these scenarios")
    p.add_argument("--report-only", action="store_true", help="rebuild docs/benchmarks.md from bench/results")
    args = p.parse_args(argv)
    failed = False
    if not args.report_only:
        for scenario in SCENARIOS:
            if args.only and scenario.name not in args.only:
                continue
            failed |= not run(scenario, args.rounds)
    table = rows()
    PAGE.write_text(page(table, plot(table)))
    print(f"written {PAGE.relative_to(ROOT)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
