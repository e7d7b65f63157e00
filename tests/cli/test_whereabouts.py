"""What a process says it uses: the data folder, or the servers with their passwords masked."""

from __future__ import annotations

from pathlib import Path

import pytest

from harvester import Settings
from harvester.cli.output import startup_line
from harvester.whereabouts import mask_url, no_consumer, uses


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:s3cret@redis.internal:6379/0", "redis://:**********@redis.internal:6379/0"),
        ("amqp://guest:guest@127.0.0.1:5672//", "amqp://guest:**********@127.0.0.1:5672//"),
        ("postgresql+psycopg://hv:p%40ss@db/hv", "postgresql+psycopg://hv:**********@db/hv"),
        ("postgresql://db/hv?user=hv&password=s3cret", "postgresql://db/hv?user=hv&password=**********"),
        ("redis://redis.internal:6379/0", "redis://redis.internal:6379/0"),
        ("redis://user@redis.internal/0", "redis://user@redis.internal/0"),
        ("sqlite:////srv/hv/harvester.db", "sqlite:////srv/hv/harvester.db"),
    ],
)
def test_mask_url_hides_passwords_only(url: str, shown: str) -> None:
    assert mask_url(url) == shown


def test_the_embedded_default_names_the_absolute_data_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings(data_dir=Path(".harvester"))  # relative, as by default
    assert uses(settings) == f"data folder {tmp_path.resolve() / '.harvester'} (history and broker)"
    assert startup_line("beat", settings) == f"harvester beat uses {uses(settings)}"


def test_servers_are_named_with_passwords_masked(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        broker_url="redis://:s3cret@redis.internal:6379/0",
        database_url="postgresql://hv:s3cret@db.internal/hv",
    )
    said = uses(settings)
    assert said == "broker redis://:**********@redis.internal:6379/0; history postgresql://hv:**********@db.internal/hv"
    assert "s3cret" not in no_consumer("harvester", settings)
    assert "HARVESTER_BROKER_URL" in no_consumer("harvester", settings)


def test_a_server_database_with_the_embedded_broker_names_both(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url="postgresql://hv:s3cret@db/hv")
    assert uses(settings) == f"data folder {tmp_path.resolve()} (broker); history postgresql://hv:**********@db/hv"
    assert "the same HARVESTER_DATA_DIR" in no_consumer("slow", settings)
    assert "`harvester worker --queues slow`" in no_consumer("slow", settings)
