"""Secret references: a secret param given as where to find it, resolved by the worker just before a run.

A whole value of the form ``${NAME}`` names a variable of the worker's environment, and
``${file:/run/secrets/key}`` a file (Docker and Kubernetes secrets; one trailing newline is dropped).
The reference is what history stores, lists show and task messages carry; only the process that
runs the collector ever holds the value. ``$${...}`` stands for the literal text ``${...}``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from harvester.errors import ConfigError

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_FILE = re.compile(r"\$\{file:([^{}\x00]+)\}")
#: A file bigger than this is not a secret but a mistake (a path to the wrong file).
MAX_FILE_BYTES = 64 * 1024
SYNTAX = "${ENV_NAME} or ${file:/path/to/secret}"


class SecretReferenceError(ConfigError):
    """A reference that cannot be resolved; the message names the reference, never a value."""


def is_reference(value: object) -> bool:
    """True when ``value`` (text or bytes) is a whole ``${NAME}`` or ``${file:PATH}`` reference."""
    text = value.decode(errors="replace") if isinstance(value, bytes) else value
    return isinstance(text, str) and bool(_ENV.fullmatch(text) or _FILE.fullmatch(text))


def unescape(value: str) -> str:
    """``$${...}`` -> the literal ``${...}``; any other value unchanged."""
    return value[1:] if value.startswith("$${") else value


def resolve(reference: str, environ: Mapping[str, str] | None = None) -> str:
    """The value ``reference`` points at, from ``environ`` (default: this process's) or a file."""
    env = _ENV.fullmatch(reference)
    if env:
        value = (os.environ if environ is None else environ).get(env.group(1))
        if not value:
            state = "is not set" if value is None else "is empty"
            raise SecretReferenceError(f"secret reference {reference}: environment variable {env.group(1)} {state}")
        return value
    found = _FILE.fullmatch(reference)
    if not found:
        raise SecretReferenceError(f"not a secret reference: write {SYNTAX}")
    path = found.group(1)
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise SecretReferenceError(f"secret reference {reference}: {exc.strerror or type(exc).__name__}") from None
    if len(data) > MAX_FILE_BYTES:
        raise SecretReferenceError(f"secret reference {reference}: file larger than {MAX_FILE_BYTES} bytes")
    text = data.decode(errors="replace")
    text = text[:-2] if text.endswith("\r\n") else text[:-1] if text.endswith("\n") else text
    if not text:
        raise SecretReferenceError(f"secret reference {reference}: the file is empty")
    return text
