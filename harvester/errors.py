"""The error tree and failure classification.

::

    HarvesterError                 anything harvester raises on purpose
     +-- ConfigError               user/configuration error: never retried, exit code 2
     +-- TransientError            "try me again later" (optional ``retry_after`` seconds)
     +-- RegistryError             collector discovery failed (import error, duplicate name)
     +-- ParamsError (ConfigError) params failed validation; names the field
     +-- CollectorExit             a collector called sys.exit(n): failed, not retried, exit code n

Every other exception raised by a collector is mapped by :func:`classify_failure`
to a :class:`FailureCategory`. The categories in :data:`RETRYABLE` (``network``,
``rate_limit``, ``timeout``, ``database``) are retried with exponential backoff;
the rest fail the run at once. One ``timeout`` is not retried by default: a run
stopped by its own time limit (:func:`is_own_time_limit`), which would most
likely be stopped again; a collector opts in with ``retry_time_limit = True``.
"""

from __future__ import annotations

import errno
import math
import re
import socket
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Any


class HarvesterError(Exception):
    """Base class of the errors harvester raises on purpose."""


class ConfigError(HarvesterError):
    """A user or configuration error: never retried, not passed to ``handle_error``."""


class ParamsError(ConfigError):
    """Collector params failed validation; the message names each bad field."""


class RunFailed(HarvesterError):
    """A run failed for good. Raised by its Celery task so Flower shows the failure; an expected
    exception there (logged without a traceback: harvester has recorded and logged the failure)."""


class RegistryError(HarvesterError):
    """Collector discovery failed: an import error or a duplicate name."""


class CollectorExit(HarvesterError):
    """A collector raised ``SystemExit`` (``sys.exit(n)``, as a management command does): the run fails
    (category ``unknown``, not retried) and ``harvester run`` / ``run-scheduled`` exit with ``code``:
    ``n``, or 1 for a message (``sys.exit("why")``, as Python does) and for ``sys.exit(0)``, which
    does not end a run well (a run succeeds by returning from ``collect()``)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code

    @classmethod
    def of(cls, exc: SystemExit) -> CollectorExit:
        code = exc.code
        if isinstance(code, int) and not isinstance(code, bool) and code != 0:
            return cls(code, f"the collector called sys.exit({code})")
        if code is None or code == 0 or isinstance(code, bool):
            return cls(1, f"the collector called sys.exit({code!r}); a run succeeds by returning from collect()")
        return cls(1, f"the collector exited: {code}")


class TransientError(HarvesterError):
    """A failure worth retrying; ``retry_after`` (seconds) overrides the backoff."""

    def __init__(self, message: str = "", *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class FailureCategory(StrEnum):
    """Why a run failed. A ``str`` enum so it stores and serialises as its value."""

    CONFIG = "config"
    VALIDATION = "validation"
    AUTH = "auth"
    PERMISSION = "permission"
    RATE_LIMIT = "rate_limit"
    NETWORK = "network"
    TIMEOUT = "timeout"
    DATABASE = "database"
    UNKNOWN = "unknown"

    def __str__(self) -> str:
        return self.value


class MemberFailed(HarvesterError):
    """A fan-out parent with ``require_all = True`` had a member that did not succeed.

    Carries that member's category, so the parent's failure is classified like its cause.
    """

    def __init__(self, message: str, category: FailureCategory) -> None:
        super().__init__(message)
        self.category = category


RETRYABLE = frozenset(
    {FailureCategory.NETWORK, FailureCategory.RATE_LIMIT, FailureCategory.TIMEOUT, FailureCategory.DATABASE}
)

_NETWORK_ERRNOS = frozenset(
    {
        errno.ECONNREFUSED,
        errno.ECONNRESET,
        errno.ECONNABORTED,
        errno.EHOSTUNREACH,
        errno.ENETUNREACH,
        errno.ENETDOWN,
        errno.EHOSTDOWN,
        errno.EPIPE,
        errno.ENOTCONN,
        errno.EADDRNOTAVAIL,
    }
)
# Windows socket errors (winsock), as ``OSError.winerror``, as the errno of an error raised elsewhere,
# or quoted in a message (``[WinError 10061]``): Python's errno names them only on Windows.
_WINSOCK = {
    10048: FailureCategory.NETWORK,  # WSAEADDRINUSE
    10049: FailureCategory.NETWORK,  # WSAEADDRNOTAVAIL
    10050: FailureCategory.NETWORK,  # WSAENETDOWN
    10051: FailureCategory.NETWORK,  # WSAENETUNREACH
    10052: FailureCategory.NETWORK,  # WSAENETRESET
    10053: FailureCategory.NETWORK,  # WSAECONNABORTED
    10054: FailureCategory.NETWORK,  # WSAECONNRESET
    10057: FailureCategory.NETWORK,  # WSAENOTCONN
    10058: FailureCategory.NETWORK,  # WSAESHUTDOWN
    10060: FailureCategory.TIMEOUT,  # WSAETIMEDOUT
    10061: FailureCategory.NETWORK,  # WSAECONNREFUSED
    10064: FailureCategory.NETWORK,  # WSAEHOSTDOWN
    10065: FailureCategory.NETWORK,  # WSAEHOSTUNREACH
    11001: FailureCategory.NETWORK,  # WSAHOST_NOT_FOUND
    11002: FailureCategory.NETWORK,  # WSATRY_AGAIN
}
_WINSOCK_TEXT = re.compile(r"\[(?:WinError|Errno) (1\d{4})\]")
_OWN_TIME_LIMIT_NAMES = ("SoftTimeLimitExceeded", "TimeLimitExceeded")
_TIMEOUT_NAMES = ("Timeout", "TimeoutError", "ReadTimeout", "ConnectTimeout", "PoolTimeout", "WriteTimeout")
_CONFIG_NAMES = (
    "InvalidURL",
    "LocationParseError",
    "LocationValueError",
    "UnsupportedProtocol",
    "MissingSchema",
    "InvalidSchema",
)
_NETWORK_NAMES = (
    "ConnectError",
    "ConnectionError",
    "NetworkError",
    "ProtocolError",
    "RemoteProtocolError",
    "ProxyError",
    "SSLError",
    "NewConnectionError",
    "MaxRetryError",
    "TransportError",
    "ChunkedEncodingError",  # the body broke off mid-stream
    "IncompleteRead",
    "HTTPError",  # a library's HTTP error without a status (one with a status is classified by it)
)


def _qualnames(exc: BaseException) -> list[str]:
    """``module.Class`` of the exception's type and its bases, nearest first."""
    return [f"{cls.__module__}.{cls.__qualname__}" for cls in type(exc).__mro__]


def _from_library(exc: BaseException, *prefixes: str) -> bool:
    return any(name.startswith(prefixes) for name in _qualnames(exc))


def http_status(exc: BaseException) -> int | None:
    """The HTTP status carried by an httpx/requests/urllib3-style error, if any."""
    response = getattr(exc, "response", None)
    for holder in (response, exc):
        code = getattr(holder, "status_code", None) or getattr(holder, "status", None)
        if isinstance(code, int):
            return code
    return None


def retry_after(exc: BaseException) -> float | None:
    """Seconds to wait from ``TransientError.retry_after`` or an HTTP ``Retry-After`` header."""
    explicit = getattr(exc, "retry_after", None)
    if isinstance(explicit, int | float):
        return float(explicit)
    headers: Any = getattr(getattr(exc, "response", None), "headers", None)
    value = headers.get("Retry-After") if headers is not None else None
    return _parse_retry_after(value) if value is not None else None


def _parse_retry_after(value: Any) -> float | None:
    """``Retry-After`` is delay-seconds or an HTTP-date (RFC 9110 10.2.3); anything else (or < 0, NaN) is None."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        try:
            when = parsedate_to_datetime(str(value))
        except (TypeError, ValueError, IndexError):
            return None
        when = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
        return max(0.0, (when - datetime.now(UTC)).total_seconds())
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _by_status(code: int) -> FailureCategory:
    if code in (401, 403):
        return FailureCategory.AUTH
    if code == 429:
        return FailureCategory.RATE_LIMIT
    if code == 408:
        return FailureCategory.TIMEOUT
    if code >= 500:
        return FailureCategory.NETWORK
    return FailureCategory.VALIDATION


def _winsock(exc: BaseException) -> FailureCategory | None:
    """The category of a Windows socket error code in ``winerror``, ``errno`` or the message."""
    codes = [getattr(exc, "winerror", None), getattr(exc, "errno", None)]
    for text in (arg for arg in exc.args if isinstance(arg, str)):
        codes += [int(code) for code in _WINSOCK_TEXT.findall(text)]
    for code in codes:
        if isinstance(code, int) and code in _WINSOCK:
            return _WINSOCK[code]
    return None


def _by_os_error(exc: OSError) -> FailureCategory:
    if isinstance(exc, PermissionError):
        return FailureCategory.PERMISSION
    if isinstance(exc, TimeoutError | socket.timeout):
        return FailureCategory.TIMEOUT
    if isinstance(exc, ConnectionError | socket.gaierror) or exc.errno in _NETWORK_ERRNOS:
        return FailureCategory.NETWORK
    if exc.errno == errno.ETIMEDOUT:
        return FailureCategory.TIMEOUT
    return _winsock(exc) or FailureCategory.UNKNOWN


def _by_library(exc: BaseException) -> FailureCategory | None:
    """httpx, requests, urllib3 and SQLAlchemy, recognised by type name (no import needed)."""
    names = _qualnames(exc)
    if _from_library(exc, "sqlalchemy.exc.", "psycopg", "sqlite3.", "pymysql."):
        operational = any(n.endswith(("OperationalError", "InterfaceError", "DisconnectionError")) for n in names)
        timeout = any(n.endswith("TimeoutError") for n in names)
        return FailureCategory.DATABASE if operational or timeout else None
    if not _from_library(exc, "httpx.", "httpcore.", "requests.", "urllib3.", "http.client."):
        return None
    # Nearest class first: urllib3's NewConnectionError subclasses ConnectTimeoutError but is a network
    # error, while requests' ConnectTimeout subclasses ConnectionError but is a timeout.
    for short in (n.rsplit(".", 1)[-1] for n in names):
        if short in _TIMEOUT_NAMES:
            return FailureCategory.TIMEOUT
        if short in _CONFIG_NAMES:
            return FailureCategory.CONFIG
        if short in _NETWORK_NAMES:
            return FailureCategory.NETWORK
    return None


def classify_failure(exc: BaseException) -> FailureCategory:
    """Map any exception to a :class:`FailureCategory` (see the module docstring)."""
    if isinstance(exc, ConfigError):
        return FailureCategory.CONFIG
    if isinstance(exc, TransientError):
        return FailureCategory.NETWORK
    if isinstance(exc, MemberFailed):
        return exc.category
    status = http_status(exc)
    if status is not None and status >= 400:
        return _by_status(status)
    library = _by_library(exc)
    if library is not None:
        return library
    if isinstance(exc, OSError):
        return _by_os_error(exc)
    if _from_library(exc, "pydantic_core.", "pydantic."):
        return FailureCategory.VALIDATION
    if isinstance(exc, ValueError):
        return FailureCategory.VALIDATION
    if type(exc).__name__.endswith("TimeLimitExceeded"):
        return FailureCategory.TIMEOUT
    return _winsock(exc) or FailureCategory.UNKNOWN


def is_own_time_limit(exc: BaseException) -> bool:
    """The run was stopped by its own time limit (Celery's soft or hard limit), not by a timeout of a
    call it made."""
    return _from_library(exc, "billiard.", "celery.") and type(exc).__name__ in _OWN_TIME_LIMIT_NAMES


def is_retryable(category: FailureCategory) -> bool:
    return category in RETRYABLE
