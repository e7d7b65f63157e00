"""Server drivers are extras (``pip install 'harvester[redis]'``): the embedded default needs none.

A URL naming a server whose driver is missing fails at start with the command that installs it,
instead of an ImportError from deep inside Celery or SQLAlchemy at the first connection.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

from harvester.errors import ConfigError


@dataclass(frozen=True)
class Extra:
    name: str  # the extra: pip install 'harvester[name]'
    module: str  # what it installs, checked with find_spec
    schemes: tuple[str, ...]  # URL schemes that need it (prefixes)
    server: str


EXTRAS = (
    Extra("redis", "redis", ("redis://", "rediss://", "redis+socket://", "sentinel://"), "Redis"),
    Extra("postgres", "psycopg", ("postgresql", "postgres://", "db+postgresql"), "PostgreSQL"),
    Extra("rabbitmq", "amqp", ("amqp://", "amqps://", "pyamqp://"), "RabbitMQ"),
)


def missing_extra(url: str) -> Extra | None:
    """The extra ``url`` needs when its driver is not importable; None when nothing is missing."""
    for extra in EXTRAS:
        if url.startswith(extra.schemes) and importlib.util.find_spec(extra.module) is None:
            return extra
    return None


def check_drivers(urls: dict[str, str]) -> None:
    """Raise ConfigError for the first setting (name -> URL) whose driver is not installed.

    The message names the setting and the server, never the URL (it may hold a password)."""
    for setting, url in urls.items():
        extra = missing_extra(url)
        if extra is not None:
            raise ConfigError(
                f"{setting} names a {extra.server} server, but its driver ({extra.module}) is not installed: "
                f"pip install 'harvester[{extra.name}]'"
            )
