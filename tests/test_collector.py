"""Unit tests of the Collector contract, run in-process with the in-memory LocalContext (no harvester runner)."""

from __future__ import annotations

import errno
import hashlib
import json
import logging
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import BaseModel, SecretBytes, SecretStr

from harvester import Collector, ConfigError
from harvester.collector import LocalContext, NoParams
from harvester.errors import ParamsError

# -- collectors used by the tests -----------------------------------------------------------------


class Recording(Collector):
    """Records every hook call; ``fail`` = {phase: exception} makes that phase raise."""

    name = "recording"

    def __init__(self, fail: dict[str, BaseException] | None = None, handler_raises: bool = False) -> None:
        super().__init__()
        self.fail = fail or {}
        self.handler_raises = handler_raises
        self.calls: list[str] = []
        self.handled: list[BaseException] = []

    def _step(self, phase: str) -> None:
        self.calls.append(phase)
        if phase in self.fail:
            raise self.fail[phase]

    def validate_config(self) -> None:
        self._step("validate")

    def collect(self) -> Any:
        self._step("collect")
        return {"rows": 3}

    def after_run(self) -> None:
        self._step("after_run")

    def handle_error(self, exc: BaseException) -> None:
        self.calls.append("handle_error")
        self.handled.append(exc)
        if self.handler_raises:
            raise RuntimeError("handler is broken too")


class Stars(Collector):
    name = "stars"

    class Params(BaseModel):
        repo: str
        limit: int = 10
        tags: list[str] = []
        token: SecretStr | None = None
        password: SecretStr = SecretStr("default-pw")
        blob: SecretBytes | None = None
        since: datetime | None = None

    def collect(self) -> Any:
        return self.params.repo


class Plain(Collector):
    name = "plain"

    def collect(self) -> Any:
        return "ok"


def _bound(collector: Collector, **context_kwargs: Any) -> tuple[Collector, LocalContext]:
    context = LocalContext(**context_kwargs)
    collector.bind(context)
    return collector, context


# -- run(): phases, result, failures --------------------------------------------------------------


def test_phases_run_in_order_and_result_is_returned() -> None:
    collector = Recording()
    _, context = _bound(collector)
    assert collector.run() == {"rows": 3}
    assert collector.calls == ["validate", "collect", "after_run"]
    assert context.phases == ["validate", "collect", "after_run"]
    assert collector.phase == "after_run"


def test_run_works_without_an_explicit_context() -> None:
    collector = Recording()
    assert collector.run() == {"rows": 3}
    assert collector.run_id is None


def test_hooks_default_to_no_ops() -> None:
    class Minimal(Collector):
        name = "minimal"

        def collect(self) -> Any:
            return 42

    assert Minimal().run() == 42


def test_collect_is_required() -> None:
    class Lazy(Collector):
        name = "lazy"

    with pytest.raises(NotImplementedError, match=r"Lazy\.collect"):
        Lazy().run()


def test_config_error_in_validate_is_reraised_without_handle_error() -> None:
    error = ConfigError("repo must look like owner/name")
    collector = Recording(fail={"validate": error})
    _, context = _bound(collector)
    with pytest.raises(ConfigError) as excinfo:
        collector.run()
    assert excinfo.value is error
    assert collector.calls == ["validate"]  # no collect, no after_run, no handle_error
    assert collector.handled == []
    assert collector.phase == "validate"
    assert context.phases == ["validate"]


def test_config_error_in_collect_is_not_passed_to_handle_error() -> None:
    error = ConfigError("token expired for good")
    collector = Recording(fail={"collect": error})
    with pytest.raises(ConfigError) as excinfo:
        collector.run()
    assert excinfo.value is error
    assert collector.handled == []
    assert collector.phase == "collect"


@pytest.mark.parametrize(
    ("phase", "error"),
    [
        ("validate", ValueError("not a config error")),
        ("collect", ConnectionRefusedError(errno.ECONNREFUSED, "refused")),
        ("collect", RuntimeError("boom")),
        ("after_run", KeyError("index")),
    ],
)
def test_other_failures_call_handle_error_once_and_are_reraised(phase: str, error: Exception) -> None:
    collector = Recording(fail={phase: error})
    _, context = _bound(collector)
    with pytest.raises(type(error)) as excinfo:
        collector.run()
    assert excinfo.value is error
    assert collector.handled == [error]
    assert collector.calls.count("handle_error") == 1
    assert collector.calls[-2:] == [phase, "handle_error"]  # nothing ran after the failing phase
    assert collector.phase == phase
    assert context.phases[-1] == phase


def test_handle_error_sees_the_failing_phase() -> None:
    seen: list[str | None] = []

    class Spy(Recording):
        def handle_error(self, exc: BaseException) -> None:
            seen.append(self.phase)

    with pytest.raises(RuntimeError):
        Spy(fail={"after_run": RuntimeError("sync failed")}).run()
    assert seen == ["after_run"]


def test_original_exception_is_reraised_when_handle_error_raises(caplog: pytest.LogCaptureFixture) -> None:
    error = RuntimeError("original")
    collector = Recording(fail={"collect": error}, handler_raises=True)
    with caplog.at_level(logging.ERROR, logger="harvester"), pytest.raises(RuntimeError) as excinfo:
        collector.run()
    assert excinfo.value is error
    assert str(excinfo.value) == "original"
    assert collector.handled == [error]
    assert any("handle_error" in r.getMessage() and r.exc_info for r in caplog.records)


def test_default_handle_error_logs_one_line_with_phase_and_category(caplog: pytest.LogCaptureFixture) -> None:
    class Failing(Collector):
        name = "failing"

        def collect(self) -> Any:
            raise ConnectionRefusedError(errno.ECONNREFUSED, "refused")

    with caplog.at_level(logging.DEBUG, logger="harvester"), pytest.raises(ConnectionRefusedError):
        Failing().run()
    records = [r for r in caplog.records if r.name == "harvester.collector.failing"]
    assert len(records) == 1
    assert records[0].levelno == logging.DEBUG  # the runner logs the outcome: WARNING or ERROR once
    message = records[0].getMessage()
    assert "failing" in message
    assert "collect" in message
    assert "network" in message
    assert records[0].collector == "failing"  # type: ignore[attr-defined]


def test_default_handle_error_log_record_carries_phase_and_category(caplog: pytest.LogCaptureFixture) -> None:
    class Failing(Collector):
        name = "failing"

        def collect(self) -> Any:
            raise TimeoutError("slow")

    with caplog.at_level(logging.DEBUG, logger="harvester"), pytest.raises(TimeoutError):
        Failing().run()
    record = next(r for r in caplog.records if r.name == "harvester.collector.failing")
    assert getattr(record, "phase", None) == "collect"
    assert getattr(record, "category", None) == "timeout"


def test_config_error_is_not_logged_by_handle_error(caplog: pytest.LogCaptureFixture) -> None:
    class BadConfig(Collector):
        name = "bad_config"

        def validate_config(self) -> None:
            raise ConfigError("nope")

    with caplog.at_level(logging.DEBUG, logger="harvester"), pytest.raises(ConfigError):
        BadConfig().run()
    assert [r for r in caplog.records if r.name == "harvester.collector.bad_config"] == []


# -- params ---------------------------------------------------------------------------------------


def test_keyword_arguments_are_validated_into_params() -> None:
    collector = Stars(repo="octo/cat", limit="5", token="t0k3n")
    assert isinstance(collector.params, Stars.Params)
    assert collector.params.repo == "octo/cat"
    assert collector.params.limit == 5  # coerced by pydantic
    assert isinstance(collector.params.token, SecretStr)
    assert collector.params.token.get_secret_value() == "t0k3n"
    assert collector.run() == "octo/cat"


def test_bad_params_raise_params_error_naming_the_field() -> None:
    with pytest.raises(ParamsError) as excinfo:
        Stars(repo="octo/cat", limit="lots")
    message = str(excinfo.value)
    assert "limit" in message
    assert "stars" in message  # the collector's name
    assert "repo" not in message.replace("octo/cat", "")  # only the bad field is named
    assert isinstance(excinfo.value, ConfigError)


def test_missing_required_param_is_named() -> None:
    with pytest.raises(ParamsError, match="repo"):
        Stars()


def test_every_bad_field_is_named() -> None:
    with pytest.raises(ParamsError) as excinfo:
        Stars(limit="x", tags="not-a-list")
    message = str(excinfo.value)
    for field in ("repo", "limit", "tags"):
        assert field in message


def test_nested_field_location_is_dotted() -> None:
    with pytest.raises(ParamsError, match=r"tags\.1"):
        Stars(repo="a/b", tags=["ok", 5])


def test_collector_without_params_takes_none() -> None:
    collector = Plain()
    assert isinstance(collector.params, NoParams)
    assert collector.wire_params() == {}
    assert collector.redacted_params() == {}
    assert collector.secret_fields() == []
    assert collector.run() == "ok"


def test_collector_without_params_rejects_unknown_ones() -> None:
    with pytest.raises(ParamsError, match="surprise"):
        Plain(surprise=1)


def test_secret_fields() -> None:
    assert Stars.secret_fields() == ["token", "password", "blob"]
    assert Plain.secret_fields() == []


def test_redacted_params_mask_secrets() -> None:
    collector = Stars(repo="a/b", token="t0k3n", password="pw", blob=b"bytes-secret")
    redacted = collector.redacted_params()
    assert redacted["repo"] == "a/b"
    assert redacted["limit"] == 10
    assert redacted["token"] == "**********"
    assert redacted["password"] == "**********"
    assert redacted["blob"] == "**********"
    dumped = json.dumps(redacted)
    for secret in ("t0k3n", '"pw"', "bytes-secret", "default-pw"):
        assert secret not in dumped


def test_redacted_params_keep_an_unset_optional_secret_as_none() -> None:
    redacted = Stars(repo="a/b").redacted_params()
    assert redacted["token"] is None
    assert redacted["blob"] is None
    assert redacted["password"] == "**********"  # a default secret is still masked


def test_wire_params_reveal_secrets_and_round_trip() -> None:
    since = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
    collector = Stars(repo="a/b", tags=["x"], token="t0k3n", password="pw", blob=b"raw", since=since)
    wire = collector.wire_params()
    assert wire["token"] == "t0k3n"
    assert wire["password"] == "pw"
    assert wire["blob"] == "raw"
    assert wire["tags"] == ["x"]
    assert isinstance(wire["since"], str)
    json.dumps(wire)  # what a task message carries must be JSON
    again = Stars(**json.loads(json.dumps(wire)))
    assert again.wire_params() == wire
    assert again.params.since == since


def test_params_key_is_stable_golden_value() -> None:
    """The key names locks and state rows in the database: it must not change between releases."""
    key = Stars(repo="a/b", limit=5).params_key()
    expected_payload = {"limit": 5, "repo": "a/b", "since": None, "tags": []}
    expected = hashlib.sha256(json.dumps(expected_payload, sort_keys=True, separators=(",", ":")).encode())
    assert key == expected.hexdigest()[:32]
    assert len(key) == 32
    assert int(key, 16) >= 0


def test_params_key_ignores_keyword_order_and_secret_values() -> None:
    base = Stars(repo="a/b", limit=5, tags=["x", "y"]).params_key()
    assert Stars(tags=["x", "y"], limit=5, repo="a/b").params_key() == base
    assert Stars(repo="a/b", limit=5, tags=["x", "y"], token="one").params_key() == base
    assert Stars(repo="a/b", limit=5, tags=["x", "y"], token="two", password="p", blob=b"b").params_key() == base


def test_params_key_counts_defaults_and_values() -> None:
    assert Stars(repo="a/b").params_key() == Stars(repo="a/b", limit=10).params_key()
    assert Stars(repo="a/b").params_key() != Stars(repo="a/b", limit=11).params_key()
    assert Stars(repo="a/b").params_key() != Stars(repo="a/c").params_key()
    assert Stars(repo="a/b", tags=["x", "y"]).params_key() != Stars(repo="a/b", tags=["y", "x"]).params_key()
    assert Plain().params_key() == Plain().params_key()


# -- emit, state, progress, run_id ----------------------------------------------------------------


def test_emit_upserts_into_the_context_by_key() -> None:
    collector, context = _bound(Plain())
    assert collector.emit([{"id": 1, "v": "a"}, {"id": 2, "v": "b"}]) == 2
    assert collector.emit(iter([{"id": 1, "v": "A"}])) == 1  # any iterable
    assert context.records == {"1": {"id": 1, "v": "A"}, "2": {"id": 2, "v": "b"}}


def test_emit_with_custom_key_and_json_conversion() -> None:
    collector, context = _bound(Plain())
    when = datetime(2024, 1, 2, tzinfo=UTC)
    collector.emit([{"sku": "X-1", "seen": when}], key="sku")
    assert context.records["X-1"]["seen"] == "2024-01-02T00:00:00Z"


@pytest.mark.parametrize(
    "records",
    [
        [{"id": 1}, {"name": "no id"}],
        [{"id": 1}, {"id": None}],
        [{"name": "first has none"}, {"id": 2}],
    ],
)
def test_emit_of_records_missing_the_key_raises_and_emits_nothing(records: list[dict[str, Any]]) -> None:
    collector, context = _bound(Plain())
    with pytest.raises(ValueError, match="'id'"):
        collector.emit(records)
    assert context.records == {}


def test_emit_error_names_record_index_and_custom_key() -> None:
    collector, _ = _bound(Plain())
    with pytest.raises(ValueError, match=r"#1 .*'sku'"):
        collector.emit([{"sku": "a"}, {"id": 1}], key="sku")


def test_state_goes_to_the_context() -> None:
    class Cursor(Collector):
        name = "cursor"

        def collect(self) -> Any:
            previous = self.state.get("cursor", 0)
            self.state["cursor"] = previous + 10
            return previous

    store: dict[str, Any] = {"cursor": 5}
    collector, context = _bound(Cursor(), state=store)
    assert collector.run() == 5
    assert store == {"cursor": 15}
    assert collector.state is context.state


def test_progress_goes_to_the_context() -> None:
    class Counting(Collector):
        name = "counting"

        def collect(self) -> Any:
            for done in range(1, 4):
                self.progress(done, 3)
            self.progress(7)
            return None

    collector, context = _bound(Counting())
    collector.run()
    assert context.progress_seen == [(1, 3), (2, 3), (3, 3), (7, None)]


def test_bind_exposes_run_id_and_rebinds_the_logger() -> None:
    collector = Plain()
    context = LocalContext()
    context.run_id = "run-123"
    collector.bind(context)
    assert collector.run_id == "run-123"
    assert collector.logger.extra == {"collector": "plain", "run_id": "run-123"}


def test_class_attributes_defaults() -> None:
    attrs: dict[str, Any] = {
        "retries": None,
        "retry_backoff": None,
        "time_limit": None,
        "overlap": "skip",
        "queue": None,
        "state_key": None,
    }
    for attr, value in attrs.items():
        assert getattr(Collector, attr) == value


def test_unknown_params_are_refused_naming_them() -> None:
    from harvester.errors import ParamsError

    class Typed(Collector):
        name = "typed"

        class Params(BaseModel):
            repo: str

    with pytest.raises(ParamsError, match=r"unknown params for collector 'typed': repoo \(known: repo\)"):
        Typed(repoo="x")


# -- state_key: which params identify the state -----------------------------------------------------


def _folder_reader(state_key: tuple[str, ...] | None, *, with_depth: bool) -> type[Collector]:
    """Version 1 of a collector (params: folder) or version 2 (an unrelated ``depth`` added).

    Each run adds the files it has not seen to its state and returns how many it saw before.
    """
    fields: dict[str, Any] = {"__annotations__": {"folder": str}}
    if with_depth:
        fields["__annotations__"]["depth"] = int
        fields["depth"] = 1

    class Reader(Collector):
        name = "reader"
        Params = type("Params", (BaseModel,), fields)

        def collect(self) -> int:
            seen = list(self.state.get("seen", []))
            self.state["seen"] = sorted({*seen, f"{self.params.folder}/a.txt"})
            return len(seen)

    Reader.state_key = state_key
    return Reader


def test_state_key_keeps_the_state_when_an_unrelated_param_is_added(tmp_path: Any) -> None:
    from harvester.testing import run_collector

    first = run_collector(_folder_reader(None, with_depth=False), {"folder": "in"}, data_dir=tmp_path)
    assert first.ok
    assert first.result == 0
    # version 2 adds `depth` and says only `folder` identifies the state: the state is read again
    second = run_collector(_folder_reader(("folder",), with_depth=True), {"folder": "in"}, data_dir=tmp_path)
    assert second.result == 1
    assert second.state == {"seen": ["in/a.txt"]}
    third = run_collector(_folder_reader(("folder",), with_depth=True), {"folder": "in", "depth": 5}, data_dir=tmp_path)
    assert third.result == 1  # another depth, the same state


def test_without_state_key_every_non_secret_param_identifies_the_state(tmp_path: Any) -> None:
    from harvester.testing import run_collector

    run_collector(_folder_reader(None, with_depth=False), {"folder": "in"}, data_dir=tmp_path)
    added = run_collector(_folder_reader(None, with_depth=True), {"folder": "in"}, data_dir=tmp_path)
    assert added.result == 0  # the default: a new param is a new identity, and the state starts empty


def test_changing_a_state_key_param_changes_the_state(tmp_path: Any) -> None:
    from harvester.testing import run_collector

    reader = _folder_reader(("folder",), with_depth=True)
    run_collector(reader, {"folder": "in"}, data_dir=tmp_path)
    other = run_collector(reader, {"folder": "elsewhere"}, data_dir=tmp_path)
    assert other.result == 0
    assert other.state == {"seen": ["elsewhere/a.txt"]}
    again = run_collector(reader, {"folder": "in"}, data_dir=tmp_path)
    assert again.result == 1  # the first folder's state is still there


def test_state_params_key_is_params_key_by_default_and_the_named_params_otherwise() -> None:
    plain = _folder_reader(None, with_depth=True)
    keyed = _folder_reader(("folder",), with_depth=True)
    assert plain(folder="x").state_params_key() == plain(folder="x").params_key()
    assert plain(folder="x", depth=2).state_params_key() != plain(folder="x").state_params_key()
    assert keyed(folder="x", depth=2).state_params_key() == keyed(folder="x").state_params_key()
    assert keyed(folder="y").state_params_key() != keyed(folder="x").state_params_key()
    # keyed by the same hash as the params alone: a collector that had only `folder` keeps its state
    assert keyed(folder="x").state_params_key() == _folder_reader(None, with_depth=False)(folder="x").params_key()
