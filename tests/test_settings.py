"""Settings: the environment contract, and .env.example kept in step with it."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

import harvester
from harvester.settings import Settings

ENV_EXAMPLE = Path(__file__).resolve().parents[1] / ".env.example"


def test_env_example_documents_every_setting_with_its_default():
    text = ENV_EXAMPLE.read_text()
    for name, field in Settings.model_fields.items():
        default = field.get_default(call_default_factory=True)
        default = ",".join(default) if isinstance(default, list) else ("" if default is None else default)
        assert f"# {field.description}\n# HARVESTER_{name.upper()}={default}\n" in text, name


def test_nothing_set_means_the_embedded_default(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = Settings()
    assert settings.embedded
    assert settings.effective_database_url == f"sqlite:///{tmp_path / '.harvester' / 'harvester.db'}"
    assert settings.effective_result_backend == f"file://{tmp_path / '.harvester' / 'results'}"
    assert settings.collectors == ["harvester.examples"]


def test_urls_from_the_environment(monkeypatch):
    monkeypatch.setenv("HARVESTER_BROKER_URL", "redis://cache:6379/1")
    monkeypatch.setenv("HARVESTER_DATABASE_URL", "postgresql://db/harvester")
    monkeypatch.setenv("HARVESTER_COLLECTORS", " team.collectors , other.mod ,")
    settings = Settings()
    assert not settings.embedded
    assert settings.effective_result_backend == "redis://cache:6379/1"
    assert settings.collectors == ["team.collectors", "other.mod"]
    monkeypatch.setenv("HARVESTER_BROKER_URL", "amqp://guest:guest@rabbit//")
    assert Settings().effective_result_backend == "db+postgresql+psycopg://db/harvester"


def test_dotenv_file_is_read(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("HARVESTER_RETRIES=7\nHARVESTER_LOG_FORMAT=json\n")
    settings = Settings()
    assert (settings.retries, settings.log_format) == (7, "json")


def test_bad_value_names_the_variable(monkeypatch):
    monkeypatch.setenv("HARVESTER_CONCURRENCY", "zero")
    with pytest.raises(ValidationError, match="concurrency"):
        Settings()


def test_public_api_is_the_spec_list():
    assert sorted(harvester.__all__) == sorted(
        [
            "Collector",
            "ConfigError",
            "FailureCategory",
            "Harvester",
            "HarvesterError",
            "RunRequest",
            "Settings",
            "TransientError",
            "__version__",
            "classify_failure",
        ]
    )
    for name in harvester.__all__:
        assert getattr(harvester, name) is not None


def test_import_opens_no_connection_and_reads_no_environment():
    import subprocess
    import sys

    code = (
        "import socket, pydantic_settings\n"
        "def refuse(*a, **k): raise SystemExit('touched at import')\n"
        "socket.socket.connect = refuse\n"
        "pydantic_settings.BaseSettings.__init__ = refuse\n"
        "import harvester, harvester.cli, harvester.app, harvester.dispatch.celery_app\n"
        "print('clean')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={"HARVESTER_X": "1"})
    assert done.stdout.strip() == "clean", done.stderr
