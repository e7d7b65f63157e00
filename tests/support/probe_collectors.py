"""Collectors whose ``check()`` passes, fails, hangs or needs params (the probe tests, also on workers)."""

from __future__ import annotations

import threading
from pathlib import Path

from pydantic import BaseModel, SecretStr

from harvester import Collector, ConfigError

#: Released by a test that is done with a hanging probe (its thread is abandoned, not stopped).
RELEASE = threading.Event()


class ProbeOk(Collector):
    name = "probe_ok"

    def check(self) -> str:
        return "reachable"

    def collect(self) -> dict[str, bool]:
        return {"collected": True}


class ProbeDenied(Collector):
    """Refuses its token and quotes it in the error, as a careless HTTP client would."""

    name = "probe_denied"

    class Params(BaseModel):
        token: SecretStr | None = None

    def check(self) -> None:
        token = self.params.token.get_secret_value() if self.params.token else "none"
        raise PermissionError(f"403 Forbidden: token {token} was refused")

    def collect(self) -> None:
        raise AssertionError("a probe never collects")


class ProbeHangs(Collector):
    name = "probe_hangs"

    def check(self) -> None:
        RELEASE.wait(60)

    def collect(self) -> None:
        pass


class ProbeNeedsUrl(Collector):
    """Needs a param; the default check() is validate_config()."""

    name = "probe_needs_url"

    class Params(BaseModel):
        url: str

    def validate_config(self) -> None:
        if not self.params.url.startswith("https://"):
            raise ConfigError(f"url must start with https://, got {self.params.url}")

    def collect(self) -> None:
        pass


class ProbeFlag(Collector):
    """Unreachable until the file ``flag`` exists (a test brings the source back)."""

    name = "probe_flag"

    class Params(BaseModel):
        flag: str

    def check(self) -> str:
        if not Path(self.params.flag).exists():
            raise ConnectionError("api.example.org unreachable")
        return "back"

    def collect(self) -> None:
        pass
