"""docs/history.md shows the run state machine as harvester.history.states defines it."""

from __future__ import annotations

import re
from pathlib import Path

from harvester.history.states import STATUSES, TRANSITIONS

HISTORY = Path(__file__).resolve().parents[2] / "docs" / "history.md"


def test_every_transition_is_in_the_table_and_the_diagram():
    text = HISTORY.read_text()
    rows = {
        m.group(1): (set(re.findall(r"`(\w+)`", m.group(2))), m.group(3))
        for m in re.finditer(r"^\| `(\w+)` \| ([^|]+) \| `(\w+)` \|", text, re.MULTILINE)
    }
    for t in TRANSITIONS:
        assert t.name in rows, f"transition {t.name} is not in docs/history.md"
        sources, target = rows[t.name]
        assert sources == {s.value for s in t.sources}, t.name
        assert target == t.target.value, t.name
        for source in t.sources:
            arrow = re.search(rf"^\s+{source.value} --> {t.target.value}: (.+)$", text, re.MULTILINE)
            assert arrow, f"no arrow {source.value} --> {t.target.value}"
            assert t.name in arrow.group(1), f"{source.value} --> {t.target.value}: {t.name}"
    assert set(rows) == {t.name for t in TRANSITIONS}  # and nothing the code does not have
    for status in STATUSES:
        assert f"`{status}`" in text
