"""Collectors that end with sys.exit, as the seed's management commands do."""

from __future__ import annotations

import sys

from pydantic import BaseModel

from harvester import Collector


class Exits(Collector):
    name = "exits"

    class Params(BaseModel):
        code: str = "3"  # a number exits with it, anything else is a message

    def collect(self):
        code = self.params.code
        sys.exit(int(code) if code.isdigit() else code)


class Fine(Collector):
    name = "fine"

    def collect(self):
        return "ok"
