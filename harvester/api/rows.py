"""History rows -> the API's JSON shapes (``run_id`` rather than the column ``id``, progress nested)."""

from __future__ import annotations

from typing import Any


def run_out(row: dict[str, Any]) -> dict[str, Any]:
    """A ``runs`` row as the fields of :class:`harvester.api.models.Run`."""
    return {
        "run_id": row["id"],
        "task_id": row["task_id"],
        "collector": row["collector"],
        "params": row["params"],
        "status": row["status"],
        "attempt": row["attempt"],
        "trigger": row["trigger"],
        "queued_at": row["queued_at"],
        "started_at": row["started_at"],
        "finished_at": row["finished_at"],
        "duration": row["duration"],
        "records": row["records"],
        "result": row["result"],
        "error_category": row["error_category"],
        "error_phase": row["error_phase"],
        "error_message": row["error_message"],
        "error_traceback": row["error_traceback"],
        "parent_run_id": row["parent_run_id"],
        "batch_id": row.get("batch_id"),
        "worker": row["worker"],
        "waiting_for": row.get("waiting_for"),
        "progress": {"done": row["progress_done"], "total": row["progress_total"]},
        "expires_at": row.get("expires_at"),
        "cpu_seconds": row.get("cpu_seconds"),
        "peak_memory": row.get("peak_memory"),
    }
