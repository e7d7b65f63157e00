"""Unit tests of harvester.registry: add / get / add_module / discover, with throwaway modules on sys.path."""

from __future__ import annotations

import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

import harvester.registry as registry_module
from harvester import Collector
from harvester.errors import RegistryError
from harvester.examples import FlakySource, PythonPackages, SystemMetrics
from harvester.registry import ENTRY_POINT_GROUP, Registry

MakeModule = Callable[[str, str], str]


@pytest.fixture
def make_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MakeModule]:
    """Write ``source`` as a uniquely named module on sys.path; return its import name. Unloaded afterwards."""
    folder = tmp_path / "modules"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    created: list[str] = []

    def make(stem: str, source: str) -> str:
        name = f"{stem}_{uuid.uuid4().hex[:8]}"
        (folder / f"{name}.py").write_text(textwrap.dedent(source))
        created.append(name)
        return name

    yield make
    for name in created:
        sys.modules.pop(name, None)


def _collector(name: str, cls_name: str = "Dynamic") -> type[Collector]:
    return type(cls_name, (Collector,), {"name": name, "__module__": __name__})


@pytest.fixture
def no_entry_points(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry_module, "entry_points", lambda group: [])


# -- add / get ------------------------------------------------------------------------------------


def test_add_and_get() -> None:
    alpha, beta = _collector("alpha"), _collector("beta")
    registry = Registry([beta, alpha])
    assert registry.get("alpha") is alpha
    assert registry.get("beta") is beta
    assert "alpha" in registry
    assert "gamma" not in registry
    assert len(registry) == 2
    assert registry.names() == ["alpha", "beta"]
    assert list(registry) == [alpha, beta]  # sorted by name


def test_adding_the_same_class_twice_is_harmless() -> None:
    alpha = _collector("alpha")
    registry = Registry([alpha])
    registry.add(alpha)
    assert len(registry) == 1


def test_duplicate_names_raise_naming_both_classes(make_module: MakeModule) -> None:
    first = make_module(
        "first",
        """
        from harvester import Collector

        class GithubStars(Collector):
            name = "stars"
        """,
    )
    second = make_module(
        "second",
        """
        from harvester import Collector

        class GitlabStars(Collector):
            name = "stars"
        """,
    )
    with pytest.raises(RegistryError) as excinfo:
        Registry.discover([first, second], use_entry_points=False)
    message = str(excinfo.value)
    assert "'stars'" in message
    assert f"{first}.GithubStars" in message
    assert f"{second}.GitlabStars" in message


def test_duplicate_names_via_add_name_qualified_classes() -> None:
    class Outer:
        class Inner(Collector):
            name = "dup"

    other = _collector("dup", "Other")
    registry = Registry([Outer.Inner])
    with pytest.raises(RegistryError) as excinfo:
        registry.add(other)
    message = str(excinfo.value)
    assert f"{__name__}.test_duplicate_names_via_add_name_qualified_classes.<locals>.Outer.Inner" in message
    assert f"{__name__}.Other" in message
    assert registry.get("dup") is Outer.Inner  # the first one stays


def test_add_rejects_non_collectors_and_nameless_collectors() -> None:
    registry = Registry()
    with pytest.raises(RegistryError, match="not a Collector subclass"):
        registry.add(dict)  # type: ignore[arg-type]
    with pytest.raises(RegistryError, match="not a Collector subclass"):
        registry.add(_collector("x")())  # type: ignore[arg-type]  # an instance, not a class
    with pytest.raises(RegistryError, match=r"has no `name`"):
        registry.add(_collector("", "Nameless"))
    assert len(registry) == 0


def test_unknown_name_suggests_the_close_match() -> None:
    registry = Registry([_collector("flaky_source"), _collector("python_packages")])
    with pytest.raises(RegistryError) as excinfo:
        registry.get("flaky_sorce")
    message = str(excinfo.value)
    assert "unknown collector 'flaky_sorce'" in message
    assert "did you mean 'flaky_source'" in message
    assert "known: flaky_source, python_packages" in message


def test_unknown_name_without_close_match_has_no_hint() -> None:
    registry = Registry([_collector("flaky_source")])
    with pytest.raises(RegistryError) as excinfo:
        registry.get("zzz")
    assert "did you mean" not in str(excinfo.value)
    assert "known: flaky_source" in str(excinfo.value)


def test_unknown_name_in_an_empty_registry() -> None:
    with pytest.raises(RegistryError, match="none registered"):
        Registry().get("anything")


# -- add_module -----------------------------------------------------------------------------------


def test_add_module_registers_collectors_but_not_abstract_bases(make_module: MakeModule) -> None:
    name = make_module(
        "mixed",
        """
        from harvester import Collector

        class Base(Collector):          # shared settings, marked as such
            abstract = True
            retries = 5

        class Real(Base):
            name = "real"

        class NotACollector:            # has a name but is no Collector
            name = "impostor"

        def helper():
            return Real
        """,
    )
    registry = Registry.discover([name], use_entry_points=False)
    assert registry.names() == ["real"]
    assert registry.get("real").__module__ == name
    assert registry.get("real").retries == 5


def test_a_collector_without_name_is_an_error_naming_class_and_module(make_module: MakeModule) -> None:
    name = make_module(
        "nameless",
        """
        from harvester import Collector

        class Forgotten(Collector):     # meant as a collector, its name forgotten
            def collect(self):
                return 1
        """,
    )
    with pytest.raises(RegistryError) as excinfo:
        Registry.discover([name], use_entry_points=False)
    message = str(excinfo.value)
    assert f"collector class Forgotten in module {name} has no `name`" in message
    assert "abstract = True" in message  # the fix for a base meant for sharing


def test_abstract_is_not_inherited() -> None:
    base = type("Base", (Collector,), {"abstract": True, "__module__": __name__})
    child = type("Child", (base,), {"name": "child", "__module__": __name__})
    still_abstract = type("Middle", (base,), {"abstract": True, "__module__": __name__})
    assert base.abstract
    assert still_abstract.abstract
    assert not child.abstract
    assert Registry([child]).names() == ["child"]
    with pytest.raises(RegistryError, match=r"Base is marked `abstract = True`"):
        Registry([base])


def test_a_subclass_of_an_abstract_base_without_name_is_an_error(make_module: MakeModule) -> None:
    name = make_module(
        "abstract_child",
        """
        from harvester import Collector

        class Base(Collector):
            abstract = True

        class Child(Base):
            pass
        """,
    )
    with pytest.raises(RegistryError, match=f"collector class Child in module {name} has no `name`"):
        Registry.discover([name], use_entry_points=False)


# -- state_key ------------------------------------------------------------------------------------


def _keyed(state_key: object, **fields: object) -> type[Collector]:
    from pydantic import BaseModel, SecretStr

    params = type("Params", (BaseModel,), {"__annotations__": {"folder": str, "depth": int, "token": SecretStr}})
    attrs = {"name": "keyed", "Params": params, "state_key": state_key, "__module__": __name__, **fields}
    return type("Keyed", (Collector,), attrs)


def test_state_key_naming_params_registers() -> None:
    assert Registry([_keyed(("folder",))]).names() == ["keyed"]
    assert Registry([_keyed(None)]).names() == ["keyed"]


@pytest.mark.parametrize(
    ("state_key", "fragment"),
    [
        (("folder", "dept"), "state_key names 'dept', which is not one of its params (depth, folder, token)"),
        (("token",), "state_key names 'token', a secret param"),
        ("folder", "state_key must be a tuple of param names"),
    ],
)
def test_a_bad_state_key_is_an_error_naming_class_and_param(state_key: object, fragment: str) -> None:
    with pytest.raises(RegistryError) as excinfo:
        Registry([_keyed(state_key)])
    assert f"collector class Keyed in module {__name__}: {fragment}" in str(excinfo.value)


def test_imported_collectors_are_not_registered_twice_or_by_accident(make_module: MakeModule) -> None:
    source = make_module(
        "source",
        """
        from harvester import Collector

        class Origin(Collector):
            name = "origin"
        """,
    )
    importer = make_module(
        "importer",
        f"""
        from harvester import Collector
        from {source} import Origin   # imported, not defined here, not in __all__

        class Local(Collector):
            name = "local"
        """,
    )
    registry = Registry.discover([importer], use_entry_points=False)
    assert registry.names() == ["local"]
    # both modules listed: Origin is registered once, from where it is defined
    both = Registry.discover([source, importer], use_entry_points=False)
    assert both.names() == ["local", "origin"]


def test_add_module_registers_all_reexports(make_module: MakeModule) -> None:
    impl = make_module(
        "impl",
        """
        from harvester import Collector

        class Exported(Collector):
            name = "exported"

        class Hidden(Collector):
            name = "hidden"
        """,
    )
    package = make_module(
        "facade",
        f"""
        from {impl} import Exported, Hidden

        __all__ = ["Exported"]
        """,
    )
    registry = Registry.discover([package], use_entry_points=False)
    assert registry.names() == ["exported"]
    assert registry.get("exported").__module__ == impl


def test_collector_base_class_itself_is_ignored(make_module: MakeModule) -> None:
    name = make_module(
        "reexports_base",
        """
        from harvester import Collector

        __all__ = ["Collector"]
        """,
    )
    assert len(Registry.discover([name], use_entry_points=False)) == 0


# -- discover -------------------------------------------------------------------------------------


def test_discover_examples() -> None:
    registry = Registry.discover(["harvester.examples"], use_entry_points=False)
    assert {"flaky_source", "python_packages", "system_metrics"} <= set(registry.names())
    assert registry.get("flaky_source") is FlakySource
    assert registry.get("python_packages") is PythonPackages
    assert registry.get("system_metrics") is SystemMetrics


def test_discover_examples_finds_exactly_the_shipped_ones(no_entry_points: None) -> None:
    registry = Registry.discover(["harvester.examples"])
    assert registry.names() == ["flaky_source", "python_packages", "system_metrics", "topic", "topic_source"]


def test_discover_nothing() -> None:
    assert len(Registry.discover([], use_entry_points=False)) == 0


def test_import_error_names_the_module(make_module: MakeModule) -> None:
    broken = make_module(
        "broken",
        """
        import a_dependency_that_is_not_installed_xyz
        """,
    )
    with pytest.raises(RegistryError) as excinfo:
        Registry.discover([broken], use_entry_points=False)
    message = str(excinfo.value)
    assert f"'{broken}'" in message
    assert "ModuleNotFoundError" in message
    assert "a_dependency_that_is_not_installed_xyz" in message
    assert isinstance(excinfo.value.__cause__, ModuleNotFoundError)


def test_missing_module_is_named() -> None:
    with pytest.raises(RegistryError, match="cannot import collector module 'no_such_collectors_module_xyz'"):
        Registry.discover(["no_such_collectors_module_xyz"], use_entry_points=False)


@pytest.mark.parametrize(
    ("source", "error"),
    [("def broken(:\n", "SyntaxError"), ("raise RuntimeError('bad import-time code')\n", "RuntimeError")],
)
def test_any_exception_at_import_names_the_module(make_module: MakeModule, source: str, error: str) -> None:
    name = make_module("crashing", source)
    with pytest.raises(RegistryError) as excinfo:
        Registry.discover([name], use_entry_points=False)
    assert f"'{name}'" in str(excinfo.value)
    assert error in str(excinfo.value)


def _fake_entry_points(monkeypatch: pytest.MonkeyPatch, points: list[EntryPoint]) -> list[str]:
    asked: list[str] = []

    def entry_points(*, group: str) -> list[EntryPoint]:
        asked.append(group)
        return points

    monkeypatch.setattr(registry_module, "entry_points", entry_points)
    return asked


def test_entry_points_may_name_a_module_or_a_class(make_module: MakeModule, monkeypatch: pytest.MonkeyPatch) -> None:
    module = make_module(
        "plugin",
        """
        from harvester import Collector

        class FromModule(Collector):
            name = "from_module"
        """,
    )
    single = make_module(
        "plugin_class",
        """
        from harvester import Collector

        class Picked(Collector):
            name = "picked"

        class NotPicked(Collector):
            name = "not_picked"
        """,
    )
    asked = _fake_entry_points(
        monkeypatch,
        [
            EntryPoint(name="mod", value=module, group=ENTRY_POINT_GROUP),
            EntryPoint(name="cls", value=f"{single}:Picked", group=ENTRY_POINT_GROUP),
        ],
    )
    registry = Registry.discover([])
    assert asked == [ENTRY_POINT_GROUP]
    assert registry.names() == ["from_module", "picked"]
    assert Registry.discover([], use_entry_points=False).names() == []


def test_broken_entry_point_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_entry_points(
        monkeypatch, [EntryPoint(name="broken", value="no_such_plugin_xyz:Thing", group=ENTRY_POINT_GROUP)]
    )
    with pytest.raises(RegistryError) as excinfo:
        Registry.discover([])
    message = str(excinfo.value)
    assert "broken = no_such_plugin_xyz:Thing" in message
    assert ENTRY_POINT_GROUP in message


def test_entry_point_duplicating_a_module_collector_names_both(
    make_module: MakeModule, monkeypatch: pytest.MonkeyPatch
) -> None:
    plugin = make_module(
        "dup_plugin",
        """
        from harvester import Collector

        class Flaky(Collector):
            name = "flaky_source"
        """,
    )
    _fake_entry_points(monkeypatch, [EntryPoint(name="dup", value=f"{plugin}:Flaky", group=ENTRY_POINT_GROUP)])
    with pytest.raises(RegistryError) as excinfo:
        Registry.discover(["harvester.examples"])
    message = str(excinfo.value)
    assert "harvester.examples.flaky.FlakySource" in message
    assert f"{plugin}.Flaky" in message
