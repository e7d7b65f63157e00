"""Collectors of the alert tests on real workers (HARVESTER_COLLECTORS=alert_collectors)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from harvester import Collector


class UntilFile(Collector):
    """Fails until its ``flag`` file exists: a collector that breaks, then recovers."""

    name = "until_file"
    retries = 0

    class Params(BaseModel):
        flag: str

    def collect(self) -> str:
        if not Path(self.params.flag).exists():
            raise RuntimeError("the upstream answers 503")
        return "ok"


class Quick(Collector):
    """Succeeds at once: its runs show whether anything slows the workers."""

    name = "quick"

    class Params(BaseModel):
        token: str = ""

    def collect(self) -> str:
        return "ok"


class WhileFile(Collector):
    """Succeeds while its ``flag`` file exists: a collector that works, breaks, and works again."""

    name = "while_file"
    retries = 0

    class Params(BaseModel):
        flag: str

    def collect(self) -> str:
        if not Path(self.params.flag).exists():
            raise RuntimeError("the upstream went away")
        return "ok"
