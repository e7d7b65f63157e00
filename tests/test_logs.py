"""Log lines: JSON or text, carrying the collector and run id."""

from __future__ import annotations

import json
import logging

from harvester.logs import JsonFormatter, TextFormatter


def record(**extra: object) -> logging.LogRecord:
    rec = logging.LogRecord("harvester.collector.x", logging.ERROR, __file__, 1, "failed: %s", ("boom",), None)
    for key, value in extra.items():
        setattr(rec, key, value)
    return rec


def test_json_lines_carry_context_fields():
    line = json.loads(JsonFormatter().format(record(collector="x", run_id="r1", phase="collect", category="network")))
    assert line["message"] == "failed: boom"
    assert line["level"] == "error"
    assert (line["collector"], line["run_id"], line["phase"], line["category"]) == ("x", "r1", "collect", "network")


def test_text_lines_append_context():
    text = TextFormatter().format(record(collector="x", run_id="r1"))
    assert text.endswith("failed: boom [collector=x run_id=r1]")
    assert "[" not in TextFormatter().format(record())
