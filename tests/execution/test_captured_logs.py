"""Run logs: what an attempt logs is kept in history, per attempt, bounded, secrets masked."""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime

from harvester import Harvester, Settings
from harvester.execution.log_capture import MAX_LINE, LogCapture, captured
from harvester.history.run_logs import LogLine


class Sink:
    def __init__(self, fail: bool = False) -> None:
        self.batches: list[list[LogLine]] = []
        self.fail = fail

    def __call__(self, lines) -> None:
        if self.fail:
            raise OSError("database gone")
        self.batches.append(list(lines))

    @property
    def messages(self) -> list[str]:
        return [line.message for batch in self.batches for line in batch]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def record(
    name: str = "harvester.collector.x", msg: str = "hello", level: int = logging.INFO, **kw
) -> logging.LogRecord:
    made = logging.LogRecord(name, level, __file__, 1, msg, (), kw.pop("exc_info", None))
    for key, value in kw.items():
        setattr(made, key, value)
    return made


def test_lines_are_batched_by_time_and_flushed_at_the_end():
    sink, clock = Sink(), Clock()
    capture = LogCapture(sink, limit=100, secrets=list, flush_every=1.0, clock=clock)
    capture.emit(record(msg="one"))
    capture.emit(record(msg="two"))
    assert sink.batches == []  # within a second: kept, not written
    clock.now = 1.5
    capture.emit(record(msg="three"))
    assert [[line.message for line in b] for b in sink.batches] == [["one", "two", "three"]]
    capture.emit(record(msg="four"))
    capture.finish()
    assert sink.messages == ["one", "two", "three", "four"]


def test_nothing_logged_means_nothing_written():
    sink = Sink()
    capture = LogCapture(sink, limit=100, secrets=list)
    capture.finish()
    assert sink.batches == []


def test_only_the_runs_thread_and_not_harvesters_machinery():
    sink = Sink()
    capture = LogCapture(sink, limit=100, secrets=list)
    capture.emit(record(name="harvester.execution.runner"))
    capture.emit(record(name="celery.worker"))
    capture.emit(record(name="somelib", thread=threading.get_ident() + 1))
    capture.emit(record(name="somelib", msg="library line"))
    capture.emit(record(name="harvester.collector.mine", msg="own line"))
    capture.finish()
    assert sink.messages == ["library line", "own line"]


def test_the_limit_keeps_the_first_lines_and_says_how_many_more_there_were():
    sink = Sink()
    capture = LogCapture(sink, limit=3, secrets=list)
    for n in range(10):
        capture.emit(record(msg=f"line {n}"))
    capture.finish()
    assert sink.messages[:3] == ["line 0", "line 1", "line 2"]
    assert sink.messages[3] == "[log truncated: 7 more lines not kept (limit 3 per attempt)]"


def test_a_long_line_is_cut_and_secrets_are_masked_with_the_exception():
    sink = Sink()
    capture = LogCapture(sink, limit=10, secrets=lambda: ["sk-live-1234"])
    capture.emit(record(msg="x" * (MAX_LINE + 50)))
    try:
        raise ValueError("key sk-live-1234 refused")
    except ValueError:
        import sys

        capture.emit(record(msg="failed with sk-live-1234", exc_info=sys.exc_info()))
    capture.finish()
    long, failed = sink.messages
    assert long.endswith(" [50 characters cut]")
    assert len(long) == MAX_LINE + len(" [50 characters cut]")
    assert "sk-live-1234" not in failed
    assert "failed with **********" in failed
    assert "ValueError: key ********** refused" in failed


def test_a_sink_that_fails_never_fails_the_run():
    sink = Sink(fail=True)
    capture = LogCapture(sink, limit=10, secrets=list)
    capture.emit(record())
    capture.finish()  # raises nothing


def test_captured_installs_and_removes_its_handler_and_zero_disables_it():
    root = logging.getLogger()
    before = list(root.handlers)
    sink = Sink()
    with captured(sink, limit=5, secrets=list) as capture:
        assert capture in root.handlers
        logging.getLogger("somelib").warning("inside")
    assert root.handlers == before
    assert sink.messages == ["inside"]
    with captured(sink, limit=0, secrets=list) as capture:
        assert capture is None


def test_a_run_keeps_its_own_and_its_libraries_lines_in_order_with_secrets_masked(hv, caplog):
    with caplog.at_level(logging.INFO):
        result = hv.run_inline(hv.request("chatty", {"api_key": "${CHATTY_KEY}", "lines": 2}))
    assert result.status == "failed"  # the reference is not set: nothing ran, nothing logged
    assert hv.store.run_logs(result.run_id) == []

    with caplog.at_level(logging.INFO):
        result = hv.run_inline(hv.request("chatty", {"api_key": "sk-live-98765", "lines": 2}))
    assert result.status == "succeeded"
    lines = hv.store.run_logs(result.run_id)
    assert [(line["attempt"], line["level"], line["logger"], line["message"]) for line in lines] == [
        (1, "INFO", "harvester.collector.chatty", "starting with key **********"),
        (1, "INFO", "somelib.http", "GET https://example.invalid/items -> 200"),
        (1, "INFO", "harvester.collector.chatty", "line 0"),
        (1, "INFO", "harvester.collector.chatty", "line 1"),
        (1, "WARNING", "harvester.collector.chatty", "done"),
    ]
    assert all(isinstance(line["logged_at"], datetime) for line in lines)
    assert hv.store.run_logs(result.run_id, after=lines[2]["id"])[0]["message"] == "line 1"


def test_a_failed_run_keeps_the_lines_before_its_failure_with_the_logged_traceback(hv, caplog):
    with caplog.at_level(logging.INFO):
        result = hv.run_inline(hv.request("chatty", {"fail": True}))
    assert result.status == "failed"
    messages = [line["message"] for line in hv.store.run_logs(result.run_id)]
    assert messages[-1].startswith("bad header\nTraceback")
    assert "KeyError: 'currency'" in messages[-1]


def test_the_limit_is_per_attempt(tmp_path, caplog):
    hv = Harvester(Settings(data_dir=tmp_path / "data", collectors=["sample_collectors"]))
    hv.__dict__["runner_config"] = hv.runner_config.__class__(**{**vars(hv.runner_config), "log_lines": 4})
    hv.store.upgrade()
    try:
        with caplog.at_level(logging.INFO):
            result = hv.run_inline(hv.request("chatty", {"lines": 50}))
        messages = [line["message"] for line in hv.store.run_logs(result.run_id)]
        assert len(messages) == 5
        assert messages[-1] == "[log truncated: 49 more lines not kept (limit 4 per attempt)]"
    finally:
        hv.close()


def test_the_process_log_shows_no_secret_a_collector_logged(hv, capsys):
    import sys

    handler = logging.StreamHandler(sys.stderr)  # what logs.configure() installs in a worker
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.INFO)
    try:
        result = hv.run_inline(hv.request("chatty", {"api_key": "sk-live-13579", "fail": True}))
        err = capsys.readouterr().err
        logging.getLogger("after.the.run").warning("sk-live-13579 outside a run is not masked")
        after = capsys.readouterr().err
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    assert "starting with key **********" in err
    assert "KeyError: 'currency'" in err  # the logged traceback is there, masked where it quotes the key
    assert "sk-live-13579" not in err
    stored = [line["message"] for line in hv.store.run_logs(result.run_id)]
    assert stored[0] == "starting with key **********"
    assert "sk-live-13579 outside" in after  # the filters went with the run


def test_lines_of_a_run_that_goes_quiet_are_flushed_by_a_timer():
    """A live run's page and --follow see what it logged before a long wait, during the wait."""
    batches: list[list[str]] = []
    flushed = threading.Event()

    def sink(lines):  # type: ignore[no-untyped-def]
        batches.append([line.message for line in lines])
        flushed.set()

    capture = LogCapture(sink, limit=100, secrets=lambda: (), flush_every=0.2)
    logger = logging.getLogger("somelib.quiet")
    logger.addHandler(capture)
    logger.setLevel(logging.INFO)
    try:
        logger.info("before the wait")
        assert batches == []  # within flush_every of the start: pending
        assert flushed.wait(5)  # the run is quiet: the timer sends it
        assert batches == [["before the wait"]]
        logger.info("after the wait")
        time.sleep(0.05)
        capture.finish()
        assert batches == [["before the wait"], ["after the wait"]]
    finally:
        logger.removeHandler(capture)
        capture.close()


def test_a_run_whose_log_lines_the_database_refuses_still_ends(hv, caplog, monkeypatch):
    from sqlalchemy.exc import OperationalError

    def refuse(*args, **kwargs):
        raise OperationalError("INSERT INTO run_logs", {}, Exception("database is locked"))

    monkeypatch.setattr(hv.store, "append_logs", refuse)
    with caplog.at_level(logging.INFO):
        result = hv.run_inline(hv.request("chatty", {"lines": 3}))
    assert result.status == "succeeded"
    assert hv.store.get_run(result.run_id)["status"] == "succeeded"
