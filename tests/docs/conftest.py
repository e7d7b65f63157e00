"""Helpers of the docs tests: does a documented harvester command line parse against the real CLI?"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import click
import pytest

from harvester.cli import cli


def parse_cli(args: Sequence[str]) -> click.Command:
    """Resolve ``harvester ARGS`` through the click command tree without running anything.

    Raises ``click.UsageError`` for an unknown command or option; returns the command found.
    """
    command: click.Command = cli
    parent: click.Context | None = None
    name = "harvester"
    remaining = list(args)
    while isinstance(command, click.Group) and remaining and not remaining[0].startswith("-"):
        ctx = click.Context(command, info_name=name, parent=parent)
        found_name, found, remaining = command.resolve_command(ctx, remaining)
        assert found is not None
        assert found_name is not None
        parent, name, command = ctx, found_name, found
    command.make_context(name, remaining, parent=parent)
    return command


@pytest.fixture
def harvester_parses() -> Callable[[Sequence[str]], click.Command]:
    return parse_cli
