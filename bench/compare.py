"""Old commit vs. this checkout, in alternating rounds: is the per-run path slower than before?

    python bench/compare.py REV [--rounds 3] [--backend redis|embedded] [--fanout N] [THROUGHPUT_ARGS]

REV's tree is checked out into a temporary git worktree; each round runs ``bench/throughput.py
--repeat 1`` of the old tree and of this one, one right after the other (the order flips every
round, so the machine's drift falls on both). Each run measures its own bare Celery anchor as well.
Prints every round: runs/s (or fan-out seconds) of old and new, new/old, and each one's ratio to
its anchor; then the medians. Both trees run with this checkout's .venv.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def run_bench(tree: Path, args: argparse.Namespace, out: Path) -> dict[str, Any]:
    argv = [sys.executable, str(tree / "bench" / "throughput.py"), "--repeat", "1", "--backend", args.backend]
    argv += ["--output", str(out), "--flush", *(["--fanout", str(args.fanout)] if args.fanout else []), *args.rest]
    done = subprocess.run(argv, cwd=tree, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"bench of {tree} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    (row,) = json.loads(out.read_text())["scenarios"]
    return row


def measure(row: dict[str, Any], fanout: bool) -> tuple[float, float]:
    """(harvester's number, its ratio to the anchor); runs/s, or fan-out seconds."""
    if fanout:
        return row["harvester"]["seconds"], row["ratio"]
    return row["harvester"]["tasks_per_s"], row["ratio"]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("rev", help="the old commit (anything `git worktree add` takes)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--backend", choices=["redis", "embedded"], default="redis")
    p.add_argument("--fanout", type=int, default=0, metavar="N", help="compare a fan-out of N members instead")
    args, rest = p.parse_known_args()  # the rest goes to bench/throughput.py
    args.rest = [a for a in rest if a != "--"]
    fanout = bool(args.fanout)
    unit = "s" if fanout else "runs/s"
    with tempfile.TemporaryDirectory(prefix="harvester-compare-") as tmp:
        old_tree = Path(tmp) / "old"
        subprocess.run(["git", "worktree", "add", "--detach", str(old_tree), args.rev], cwd=ROOT, check=True)
        try:
            rows = []
            for round_no in range(1, args.rounds + 1):
                order = [("old", old_tree), ("new", ROOT)]
                if round_no % 2 == 0:
                    order.reverse()
                got = {name: measure(run_bench(tree, args, Path(tmp) / f"{name}.json"), fanout) for name, tree in order}
                (old, old_anchor), (new, new_anchor) = got["old"], got["new"]
                change = old / new if fanout else new / old  # > 1: the new one is faster
                rows.append((old, new, change, old_anchor, new_anchor))
                print(
                    f"round {round_no} ({' then '.join(n for n, _ in order)}): old {old:.2f} {unit}, new {new:.2f} "
                    f"{unit}: new/old speed {change:.3f}x; vs. anchor: old {old_anchor:.3f}x, new {new_anchor:.3f}x",
                    flush=True,
                )
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(old_tree)], cwd=ROOT, check=False)
    medians = [statistics.median(column) for column in zip(*rows, strict=True)]
    print(
        f"median: old {medians[0]:.2f} {unit}, new {medians[1]:.2f} {unit}, new/old speed {medians[2]:.3f}x; "
        f"vs. anchor old {medians[3]:.3f}x, new {medians[4]:.3f}x"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
