"""Server drivers are extras: a URL whose driver is missing fails at start with the install command."""

from __future__ import annotations

import importlib.util

import pytest

from harvester.app import Harvester
from harvester.errors import ConfigError
from harvester.extras import missing_extra
from harvester.settings import Settings


@pytest.fixture
def nothing_installed(monkeypatch):
    real = importlib.util.find_spec
    drivers = {"redis", "psycopg", "amqp"}
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name in drivers else real(name, *a))


@pytest.mark.parametrize(
    ("url", "extra"),
    [
        ("redis://h:6379/0", "redis"),
        ("rediss://h:6379/0", "redis"),
        ("postgresql://u:p@h/db", "postgres"),
        ("postgresql+psycopg://h/db", "postgres"),
        ("amqp://guest:guest@h//", "rabbitmq"),
        ("sqlite:///x.db", None),
        ("filesystem://localhost//", None),
    ],
)
def test_which_extra_a_url_needs(nothing_installed, url, extra):
    found = missing_extra(url)
    assert (found.name if found else None) == extra


def test_installed_drivers_need_nothing():
    assert missing_extra("redis://h:6379/0") is None  # the dev environment has every extra


def test_the_app_refuses_a_server_without_its_driver_and_hides_the_url(nothing_installed):
    settings = Settings(broker_url="redis://:pw-secret@h:6379/0", collectors=[])
    with pytest.raises(ConfigError) as caught:
        Harvester(settings)
    message = str(caught.value)
    assert "HARVESTER_BROKER_URL names a Redis server" in message
    assert "pip install 'harvester[redis]'" in message
    assert "pw-secret" not in message


def test_the_embedded_default_needs_no_extra(nothing_installed):
    Harvester(Settings(collectors=[]))
