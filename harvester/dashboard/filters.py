"""How the dashboard writes times, durations and JSON (Jinja filters; ``now`` is passed in)."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

_UNITS = (("d", 86400), ("h", 3600), ("m", 60))


def span(seconds: float) -> str:
    """A coarse length of time for ages: ``45s``, ``12m``, ``3h``, ``2d``."""
    seconds = abs(seconds)
    for unit, size in _UNITS:
        if seconds >= size:
            return f"{seconds // size:.0f}{unit}"
    return f"{seconds:.0f}s"


def ago(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "never"
    seconds = (now - moment).total_seconds()
    if seconds < 5:
        return "just now"
    return f"{span(seconds)} ago"


def until(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "-"
    seconds = (moment - now).total_seconds()
    return "now" if seconds < 1 else f"in {span(seconds)}"


def duration(seconds: float | None) -> str:
    """A run's duration, precise when short: ``0.42 s``, ``12.3 s``, ``4m 05s``, ``1h 02m``."""
    if seconds is None:
        return "-"
    if seconds < 10:
        return f"{seconds:.2f} s"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    return f"{minutes // 60}h {minutes % 60:02d}m"


def timestamp(moment: datetime | None) -> str:
    return "-" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S %Z")


def iso(moment: datetime) -> str:
    """The instant for ``<time datetime>`` and the script: UTC, milliseconds, ``Z``."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def utc(moment: datetime | None) -> str:
    """The UTC text of a ``<time>`` the script localizes (its fallback and hover title)."""
    return "-" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def in_zone(moment: datetime | None, zone: str | None) -> str:
    """A schedule time in the schedule's zone, named: ``2026-11-29 03:00 Europe/Berlin``."""
    if moment is None:
        return "-"
    name = zone or "UTC"
    return f"{moment.astimezone(ZoneInfo(name)).strftime('%Y-%m-%d %H:%M')} {name}"


def percent(rate: float | None) -> str:
    """Rounded down, so 99.6% never reads as a perfect 100%."""
    return "-" if rate is None else f"{math.floor(rate * 100)}%"


def pretty(value: Any, sort_keys: bool = True) -> str:
    """JSON as the run stored it, indented (non-JSON values such as dates as text); a record's
    payload keeps the order its collector gave its fields (``sort_keys=False``)."""
    return json.dumps(value, indent=2, ensure_ascii=False, default=str, sort_keys=sort_keys)


def preview(value: Any, width: int = 100) -> str:
    """JSON on one line in its own order, cut at ``width`` characters: the summary of a long payload."""
    text = json.dumps(value, ensure_ascii=False, default=str, separators=(", ", ": "))
    return text if len(text) <= width else text[: width - 1] + "…"


def mebibytes(size: float | None) -> str:
    """Bytes -> ``189.3 MiB`` (``-`` when unknown)."""
    return "-" if size is None else f"{size / 2**20:.1f} MiB"


def cpu(seconds: float | None) -> str:
    """CPU seconds -> ``1.08 s`` (``-`` when unknown): two decimals, whatever the size."""
    return "-" if seconds is None else f"{seconds:.2f} s"


FILTERS = {
    "ago": ago,
    "mebibytes": mebibytes,
    "cpu": cpu,
    "until": until,
    "duration": duration,
    "timestamp": timestamp,
    "iso": iso,
    "utc": utc,
    "in_zone": in_zone,
    "percent": percent,
    "pretty": pretty,
    "preview": preview,
}
