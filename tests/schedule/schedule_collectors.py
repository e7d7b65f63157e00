"""Collectors the schedule tests refer to (registered with HARVESTER_COLLECTORS=schedule_collectors)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, SecretStr

from harvester import Collector


class HeartbeatDemo(Collector):
    """The seed-001 example collector."""

    name = "heartbeat_demo"

    class Params(BaseModel):
        source_key: str


class GithubStars(Collector):
    name = "github_stars"

    class Params(BaseModel):
        repo: str
        token: SecretStr | None = None


class Pinger(Collector):
    name = "pinger"

    class Params(BaseModel):
        count: int = 1
        verbose: bool = False
        tags: list[str] = Field(default_factory=list)
        level: Literal[1, 2] = 1
