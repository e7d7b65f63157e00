"""The schedule file's ``alerts:`` key, in a task or a group: which targets an entry's incidents go to."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from harvester import Collector
from harvester.registry import Registry
from harvester.schedule.loader import parse_schedule_text


class Stars(Collector):
    name = "stars"

    class Params(BaseModel):
        repo: str = "a/b"


@pytest.fixture
def registry() -> Registry:
    made = Registry()
    made.add(Stars)
    return made


def alerts_of(text: str, registry: Registry) -> list[tuple[str, ...] | None]:
    return [entry.alerts for entry in parse_schedule_text(text, registry).entries]


def test_a_task_names_its_targets_else_its_group_does_else_none(registry):
    text = """
    groups:
      github:
        alerts: ops
        tasks:
          - {collector: stars, schedule: hourly, params: {repo: a/one}}
          - {collector: stars, schedule: hourly, params: {repo: a/two}, alerts: [mail, ops, mail]}
          - {collector: stars, schedule: hourly, params: {repo: a/three}, alerts: []}
          - {collector: stars, schedule: hourly, params: {repo: a/four}, alerts: none}
      other:
        tasks:
          - {collector: stars, schedule: daily}
    """
    assert alerts_of(text, registry) == [("ops",), ("mail", "ops"), (), (), None]


@pytest.mark.parametrize(
    ("value", "line", "message"),
    [
        ("{a: 1}", 5, "bad `alerts` {'a': 1}: expected a target name or a list of them"),
        ("[ops, 3]", 5, "bad `alerts` ['ops', 3]"),
        ("['']", 5, "bad `alerts` ['']"),
    ],
)
def test_a_bad_alerts_value_names_its_line(registry, value, line, message):
    text = f"""groups:
  g:
    tasks:
      - collector: stars
        alerts: {value}
        schedule: hourly
"""
    loaded = parse_schedule_text(text, registry)
    assert loaded.entries == ()
    (problem,) = loaded.problems
    assert problem.line == line
    assert problem.message.startswith(message)
