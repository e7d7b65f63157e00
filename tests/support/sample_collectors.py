"""Collectors the integration tests run on real workers (registered with HARVESTER_COLLECTORS)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr

from harvester import Collector, ConfigError


class Tokened(BaseModel):
    token: str = ""  # makes params (and so overlap locks and state) unique per test


class Ok(Collector):
    name = "ok"
    description = "Succeeds and returns its value."

    class Params(Tokened):
        value: int = 1

    def collect(self) -> dict[str, Any]:
        self.progress(1, 1)
        return {"value": self.params.value}


class ConfigFail(Collector):
    name = "config_fail"

    class Params(Tokened):
        pass

    def validate_config(self) -> None:
        raise ConfigError("source_key must not be empty")

    def collect(self) -> None:
        raise AssertionError("collect must not run after a config error")


class RetryFail(Collector):
    name = "retry_fail"
    retries = 2
    retry_backoff = 0.4

    class Params(Tokened):
        pass

    def collect(self) -> None:
        raise ConnectionRefusedError(111, "Connection refused")


class FatalFail(Collector):
    name = "fatal_fail"

    class Params(Tokened):
        pass

    def collect(self) -> None:
        raise RuntimeError("the parser met something it has never seen")


class Stateful(Collector):
    name = "stateful"

    class Params(Tokened):
        fail: bool = False

    def collect(self) -> int:
        count = int(self.state.get("count", 0)) + 1
        self.state["count"] = count
        if self.params.fail:
            raise RuntimeError("failed after touching state")
        return count


class Emitter(Collector):
    name = "emitter"

    class Params(Tokened):
        n: int = 3
        version: int = 1

    def collect(self) -> int:
        rows = [{"id": f"{self.params.token}-{i}", "version": self.params.version} for i in range(self.params.n)]
        return self.emit(rows, key="id")


class Slow(Collector):
    """Writes ``started-<pid>`` into ``marker_dir`` and waits for a ``release`` file (or ``seconds``)."""

    name = "slow"
    retries = 0

    class Params(Tokened):
        marker_dir: str
        seconds: float = 60.0

    def collect(self) -> dict[str, int]:
        folder = Path(self.params.marker_dir)
        (folder / f"started-{os.getpid()}").write_text(str(self.run_id))
        deadline = time.monotonic() + self.params.seconds
        while time.monotonic() < deadline and not (folder / "release").exists():
            time.sleep(0.05)
        (folder / f"ended-{self.run_id}").touch()
        return {"pid": os.getpid()}


class Secretive(Collector):
    name = "secretive"

    class Params(Tokened):
        api_key: SecretStr

    def collect(self) -> dict[str, int]:
        self.logger.info("collecting with params %s", self.redacted_params())
        return {"key_length": len(self.params.api_key.get_secret_value())}


class WrongHeader(Collector):
    """Fails with its secret in the exception message, deep in a helper (a traceback worth reading)."""

    name = "wrong_header"
    retries = 0

    class Params(Tokened):
        api_key: SecretStr

    def collect(self) -> None:
        parse_header(f"Authorization: {self.params.api_key.get_secret_value()}")


def parse_header(line: str) -> None:
    raise KeyError(f"currency (header line was {line!r})")


class TooSlow(Collector):
    name = "too_slow"
    time_limit = 1
    retries = 0

    class Params(Tokened):
        pass

    def collect(self) -> None:
        time.sleep(10)


class PerCustomer(Collector):
    """One run per customer at each occurrence (the seed-003 flow)."""

    name = "per_customer"

    class Params(Tokened):
        customer: str = ""

    @classmethod
    def targets(cls) -> list[BaseModel]:
        return [cls.Params(customer=name) for name in ("acme", "globex")]

    def collect(self) -> str:
        return self.params.customer


class SecretProbe(Collector):
    """Gets two secrets by reference; writes what it got to ``out`` (the test's side channel) and
    fails its first attempt with both values in the error (retried: ``network``)."""

    name = "secret_probe"

    class Params(Tokened):
        api_key: SecretStr
        signing_key: SecretStr
        out: str

    def collect(self) -> dict[str, int]:
        values = [self.params.api_key.get_secret_value(), self.params.signing_key.get_secret_value()]
        seen = Path(self.params.out)
        first = not seen.exists()
        seen.write_text("\n".join(values))
        self.logger.info("collecting with params %s", self.redacted_params())
        self.logger.info("signing with %s", values[1])  # careless: harvester masks it everywhere
        if first:
            raise ConnectionError(f"refused: key {values[0]} signed {values[1]}")
        return {"lengths": len(values[0]) + len(values[1])}


class Chatty(Collector):
    """Logs through its own logger, a library's and another thread's; ``lines`` more for the limit."""

    name = "chatty"

    class Params(Tokened):
        api_key: SecretStr = SecretStr("")
        lines: int = 0
        fail: bool = False
        hold: str = ""  # a folder: wait there for a `release` file after the first lines (a live run)

    def collect(self) -> dict[str, int]:
        import logging
        import threading

        self.logger.info("starting with key %s", self.params.api_key.get_secret_value())
        logging.getLogger("somelib.http").info("GET https://example.invalid/items -> 200")
        logging.getLogger("harvester.execution.heartbeat").info("machinery, not the run's")
        worker = threading.Thread(target=lambda: logging.getLogger("somelib.pool").warning("from another thread"))
        worker.start()
        worker.join()
        if self.params.hold:
            folder = Path(self.params.hold)
            (folder / "started").touch()
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not (folder / "release").exists():
                time.sleep(0.05)
        for n in range(self.params.lines):
            self.logger.info("line %d", n)
        if self.params.fail:
            try:
                {}["currency"]
            except KeyError:
                self.logger.exception("bad header")
                raise
        self.logger.warning("done")
        return {"lines": self.params.lines}


class Tuned(Collector):
    """The dashboard's params form: a required int with bounds, a choice and a required secret."""

    name = "tuned"
    description = "Fetches some pages in a mode with a key (the params form's browser test)."

    class Params(Tokened):
        pages: int = Field(ge=1, le=50, description="How many pages to fetch.")
        mode: Literal["fast", "thorough"] = Field("fast", description="How hard to look.")
        api_key: SecretStr = Field(description="Key of the source API.")

    def collect(self) -> dict[str, Any]:
        key = self.params.api_key.get_secret_value()
        return {"pages": self.params.pages, "mode": self.params.mode, "key_length": len(key)}
