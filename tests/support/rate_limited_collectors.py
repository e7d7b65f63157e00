"""Collectors that share one rate limit, for the workers of the rate limit acceptance test."""

from __future__ import annotations

import time

from pydantic import BaseModel

from harvester import Collector


class Paced(Collector):
    """Makes ``calls`` calls, each after a token of the shared limit, appending each call's time to ``log``."""

    name = "paced"
    rate_limits = {"acceptance": "10/s"}
    retries = 0

    class Params(BaseModel):
        calls: int = 5
        log: str
        run: int = 0  # tells runs apart (the same params would skip as an overlap)

    def collect(self) -> int:
        for _ in range(self.params.calls):
            self.limit("acceptance")
            with open(self.params.log, "a") as out:  # one short append per line: lines never interleave
                out.write(f"{time.time():.6f}\n")
        return self.params.calls


class Starved(Collector):
    """Takes the one token of a daily limit, then waits (a day) for the next."""

    name = "starved"
    rate_limits = {"starved": "1/d"}
    retries = 0

    def collect(self) -> None:
        self.limit("starved")
        self.limit("starved")
