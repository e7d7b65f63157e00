"""Partitioned collectors for the backfill tests (a day, a month, a number, a letter)."""

from __future__ import annotations

import string
import time
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from harvester import Collector
from harvester.backfill import Month


class Daily(Collector):
    """One day of data; sleeps ``delay`` seconds, fails while a file ``fail-DAY`` is in its folder."""

    name = "daily"
    partition = "day"
    retries = 0

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        day: date
        region: str = "eu"
        delay: float = 0.0

    def collect(self) -> dict[str, Any]:
        time.sleep(self.params.delay)
        if Path(f"fail-{self.params.day}").exists():
            raise ValueError(f"no data for {self.params.day}")
        return {"day": self.params.day.isoformat(), "region": self.params.region}


class Monthly(Collector):
    name = "monthly"
    partition = "month"

    class Params(BaseModel):
        month: Month

    def collect(self) -> str:
        return str(self.params.month)


class Numbered(Collector):
    name = "numbered"
    partition = "page"

    class Params(BaseModel):
        page: int

    def collect(self) -> int:
        return int(self.params.page)


class Lettered(Collector):
    """Partitions a collector enumerates itself: letters, step a number of letters."""

    name = "lettered"
    partition = "letter"

    class Params(BaseModel):
        letter: str

    @classmethod
    def partitions(cls, start: Any, end: Any, step: str | None) -> list[Any]:
        letters = string.ascii_lowercase
        return list(letters[letters.index(start) : letters.index(end) + 1 : int(step or 1)])

    def collect(self) -> str:
        return str(self.params.letter)
