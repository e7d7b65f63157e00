"""python_packages: the installed Python distributions, collected incrementally.

``state`` remembers each package's version, so a run reports (and emits) only what is new or
changed since the last successful run, the pattern of a cursor-based API collector.
"""

from __future__ import annotations

from importlib.metadata import distributions
from typing import Any

from harvester.collector import Collector


class PythonPackages(Collector):
    name = "python_packages"
    description = "Installed Python packages; emits only new or upgraded ones since the last run."

    def collect(self) -> dict[str, Any]:
        installed = {}
        for dist in distributions():
            name = dist.metadata["Name"]
            if name:
                installed[name.lower()] = dist.version
        seen: dict[str, str] = dict(self.state.get("versions", {}))
        changed = sorted(name for name, version in installed.items() if seen.get(name) != version)
        for done, name in enumerate(changed, start=1):
            self.emit([{"name": name, "version": installed[name]}], key="name")
            self.progress(done, len(changed))
        removed = sorted(set(seen) - set(installed))
        self.state["versions"] = installed
        return {"total": len(installed), "new_or_changed": len(changed), "removed": removed}
