"""Unit tests of harvester.errors: classify_failure, retry_after, http_status, is_retryable, FailureCategory."""

from __future__ import annotations

import errno
import http.client
import json
import socket
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import psycopg
import pytest
import requests
import sqlalchemy.exc
import urllib3.exceptions
from billiard.exceptions import TimeLimitExceeded
from celery.exceptions import SoftTimeLimitExceeded
from pydantic import BaseModel, ValidationError

from harvester.errors import (
    RETRYABLE,
    ConfigError,
    FailureCategory,
    HarvesterError,
    ParamsError,
    RegistryError,
    TransientError,
    classify_failure,
    http_status,
    is_retryable,
    retry_after,
)

C = FailureCategory
URL = "https://api.example.test/v1/items"


# -- builders of real library exceptions ----------------------------------------------------------


def _httpx_status(code: int, headers: dict[str, str] | None = None) -> httpx.HTTPStatusError:
    request = httpx.Request("GET", URL)
    response = httpx.Response(code, request=request, headers=headers)
    with pytest.raises(httpx.HTTPStatusError) as excinfo:
        response.raise_for_status()  # the real code path, not a hand-made instance
    return excinfo.value


def _requests_response(code: int, headers: dict[str, str] | None = None) -> requests.Response:
    response = requests.Response()
    response.status_code = code
    response.url = URL
    response.headers.update(headers or {})
    return response


def _requests_status(code: int, headers: dict[str, str] | None = None) -> requests.HTTPError:
    return requests.HTTPError(f"{code} error", response=_requests_response(code, headers))


def _pydantic_error() -> ValidationError:
    class Model(BaseModel):
        count: int

    with pytest.raises(ValidationError) as excinfo:
        Model.model_validate({"count": "many"})
    return excinfo.value


def _oserror_with_errno(code: int) -> OSError:
    """A plain OSError carrying ``errno`` (``OSError(code, msg)`` would build a subclass for some codes)."""
    exc = OSError("socket failure")
    exc.errno = code
    return exc


def _req() -> httpx.Request:
    return httpx.Request("GET", URL)


CASES: list[tuple[str, Callable[[], BaseException], FailureCategory]] = [
    # harvester's own errors
    ("ConfigError", lambda: ConfigError("repo must look like owner/name"), C.CONFIG),
    ("ParamsError", lambda: ParamsError("limit: bad"), C.CONFIG),
    ("TransientError", lambda: TransientError("try later"), C.NETWORK),
    ("TransientError(retry_after)", lambda: TransientError("try later", retry_after=5), C.NETWORK),
    # validation
    ("ValueError", lambda: ValueError("bad value"), C.VALIDATION),
    ("pydantic ValidationError", _pydantic_error, C.VALIDATION),
    ("json.JSONDecodeError", lambda: json.JSONDecodeError("Expecting value", "x", 0), C.VALIDATION),
    # OS errors
    ("PermissionError", lambda: PermissionError("denied"), C.PERMISSION),
    ("OSError(EACCES)", lambda: OSError(errno.EACCES, "denied"), C.PERMISSION),
    ("TimeoutError", lambda: TimeoutError("slow"), C.TIMEOUT),
    ("socket.timeout", lambda: socket.timeout("timed out"), C.TIMEOUT),  # noqa: UP041 - the alias on purpose
    ("ConnectionRefusedError", lambda: ConnectionRefusedError(errno.ECONNREFUSED, "refused"), C.NETWORK),
    ("ConnectionResetError", lambda: ConnectionResetError(errno.ECONNRESET, "reset"), C.NETWORK),
    ("BrokenPipeError", lambda: BrokenPipeError(errno.EPIPE, "pipe"), C.NETWORK),
    ("socket.gaierror", lambda: socket.gaierror(socket.EAI_NONAME, "Name or service not known"), C.NETWORK),
    ("OSError(ECONNREFUSED)", lambda: OSError(errno.ECONNREFUSED, "refused"), C.NETWORK),
    ("OSError(EHOSTUNREACH)", lambda: OSError(errno.EHOSTUNREACH, "no route to host"), C.NETWORK),
    ("OSError(ENETUNREACH)", lambda: OSError(errno.ENETUNREACH, "network unreachable"), C.NETWORK),
    ("plain OSError errno=ECONNREFUSED", lambda: _oserror_with_errno(errno.ECONNREFUSED), C.NETWORK),
    ("OSError(ETIMEDOUT)", lambda: OSError(errno.ETIMEDOUT, "timed out"), C.TIMEOUT),
    ("plain OSError errno=ETIMEDOUT", lambda: _oserror_with_errno(errno.ETIMEDOUT), C.TIMEOUT),
    ("OSError(ENOENT)", lambda: OSError(errno.ENOENT, "no such file"), C.UNKNOWN),
    ("OSError() without errno", lambda: OSError("something"), C.UNKNOWN),
    # unknown
    ("RuntimeError", lambda: RuntimeError("boom"), C.UNKNOWN),
    ("KeyError", lambda: KeyError("missing"), C.UNKNOWN),
    # httpx
    ("httpx.ConnectError", lambda: httpx.ConnectError("refused", request=_req()), C.NETWORK),
    ("httpx.RemoteProtocolError", lambda: httpx.RemoteProtocolError("closed", request=_req()), C.NETWORK),
    ("httpx.ReadTimeout", lambda: httpx.ReadTimeout("read timed out", request=_req()), C.TIMEOUT),
    ("httpx.ConnectTimeout", lambda: httpx.ConnectTimeout("connect timed out", request=_req()), C.TIMEOUT),
    ("httpx.PoolTimeout", lambda: httpx.PoolTimeout("pool", request=_req()), C.TIMEOUT),
    ("httpx.InvalidURL", lambda: httpx.InvalidURL("bad url"), C.CONFIG),
    ("httpx.UnsupportedProtocol", lambda: httpx.UnsupportedProtocol("ftp://", request=_req()), C.CONFIG),
    ("httpx 401", lambda: _httpx_status(401), C.AUTH),
    ("httpx 403", lambda: _httpx_status(403), C.AUTH),
    ("httpx 404", lambda: _httpx_status(404), C.VALIDATION),
    ("httpx 408", lambda: _httpx_status(408), C.TIMEOUT),
    ("httpx 429", lambda: _httpx_status(429), C.RATE_LIMIT),
    ("httpx 500", lambda: _httpx_status(500), C.NETWORK),
    ("httpx 502", lambda: _httpx_status(502), C.NETWORK),
    ("httpx 503", lambda: _httpx_status(503), C.NETWORK),
    # requests
    ("requests.ConnectionError", lambda: requests.ConnectionError("refused"), C.NETWORK),
    ("requests.SSLError", lambda: requests.exceptions.SSLError("handshake"), C.NETWORK),
    ("requests.Timeout", lambda: requests.Timeout("slow"), C.TIMEOUT),
    ("requests.ReadTimeout", lambda: requests.ReadTimeout("slow"), C.TIMEOUT),
    # ConnectTimeout is both a ConnectionError and a Timeout: its own name decides.
    ("requests.ConnectTimeout", lambda: requests.ConnectTimeout("slow"), C.TIMEOUT),
    ("requests.MissingSchema", lambda: requests.exceptions.MissingSchema("no scheme"), C.CONFIG),
    ("requests.HTTPError 401", lambda: _requests_status(401), C.AUTH),
    ("requests.HTTPError 403", lambda: _requests_status(403), C.AUTH),
    ("requests.HTTPError 429", lambda: _requests_status(429), C.RATE_LIMIT),
    ("requests.HTTPError 500", lambda: _requests_status(500), C.NETWORK),
    ("requests.HTTPError without response", lambda: requests.HTTPError("?"), C.NETWORK),
    (
        "requests.ConnectionError wrapping urllib3 MaxRetryError",
        lambda: requests.ConnectionError(
            urllib3.exceptions.MaxRetryError(None, URL, reason=urllib3.exceptions.NewConnectionError(None, "refused"))
        ),
        C.NETWORK,
    ),
    # urllib3 (NewConnectionError subclasses ConnectTimeoutError in urllib3 2.x, yet it is a refused connection)
    ("urllib3 NewConnectionError", lambda: urllib3.exceptions.NewConnectionError(None, "refused"), C.NETWORK),
    ("urllib3 ConnectTimeoutError", lambda: urllib3.exceptions.ConnectTimeoutError(None, "slow"), C.TIMEOUT),
    (
        "urllib3 MaxRetryError",
        lambda: urllib3.exceptions.MaxRetryError(None, URL, reason=urllib3.exceptions.ProtocolError("reset")),
        C.NETWORK,
    ),
    ("urllib3 ReadTimeoutError", lambda: urllib3.exceptions.ReadTimeoutError(None, URL, "read timed out"), C.TIMEOUT),
    ("urllib3 ProtocolError", lambda: urllib3.exceptions.ProtocolError("Connection aborted."), C.NETWORK),
    ("urllib3 LocationParseError", lambda: urllib3.exceptions.LocationParseError("::nope"), C.CONFIG),
    # databases
    (
        "sqlalchemy OperationalError",
        lambda: sqlalchemy.exc.OperationalError("SELECT 1", {}, Exception("server closed the connection")),
        C.DATABASE,
    ),
    (
        "sqlalchemy InterfaceError",
        lambda: sqlalchemy.exc.InterfaceError("SELECT 1", {}, Exception("connection already closed")),
        C.DATABASE,
    ),
    ("sqlalchemy pool TimeoutError", lambda: sqlalchemy.exc.TimeoutError("QueuePool limit reached"), C.DATABASE),
    (
        "sqlalchemy IntegrityError (not retryable)",
        lambda: sqlalchemy.exc.IntegrityError("INSERT", {}, Exception("duplicate key")),
        C.UNKNOWN,
    ),
    ("psycopg OperationalError", lambda: psycopg.OperationalError("connection refused"), C.DATABASE),
    ("sqlite3 OperationalError", lambda: sqlite3.OperationalError("database is locked"), C.DATABASE),
    ("sqlite3 IntegrityError", lambda: sqlite3.IntegrityError("UNIQUE constraint failed"), C.UNKNOWN),
    # Celery / billiard time limits
    ("celery SoftTimeLimitExceeded", lambda: SoftTimeLimitExceeded(), C.TIMEOUT),
    ("billiard TimeLimitExceeded", lambda: TimeLimitExceeded(30), C.TIMEOUT),
    # the body broke off, an HTTP error without a response
    (
        "requests ChunkedEncodingError",
        lambda: requests.exceptions.ChunkedEncodingError("Connection broken: IncompleteRead(10 bytes read)"),
        C.NETWORK,
    ),
    (
        "requests HTTPError with a 404",
        lambda: requests.HTTPError("404", response=_requests_response(404)),
        C.VALIDATION,
    ),
    ("urllib3 HTTPError", lambda: urllib3.exceptions.HTTPError("broken"), C.NETWORK),
    ("urllib3 LocationValueError", lambda: urllib3.exceptions.LocationValueError("no host"), C.CONFIG),
    ("http.client IncompleteRead", lambda: http.client.IncompleteRead(b"partial", 100), C.NETWORK),
    # Windows socket errors, wherever the code is
    *[
        (f"winerror {code}", lambda code=code: _winerror(code), C.NETWORK)
        for code in (10048, 10049, 10050, 10051, 10052, 10053, 10054, 10057, 10058, 10061, 10064, 10065, 11001)
    ],
    ("winerror 10060 (WSAETIMEDOUT)", lambda: _winerror(10060), C.TIMEOUT),
    ("WSAECONNREFUSED as the errno", lambda: OSError(10061, "No connection could be made"), C.NETWORK),
    ("WSAECONNRESET as the errno", lambda: OSError(10054, "An existing connection was forcibly closed"), C.NETWORK),
    (
        "WSAECONNRESET in a message",
        lambda: RuntimeError("send failed: [WinError 10054] An existing connection was forcibly closed"),
        C.NETWORK,
    ),
    ("WSAECONNREFUSED in an OSError's message", lambda: OSError("[Errno 10061] refused"), C.NETWORK),
    ("an unrelated OSError errno", lambda: OSError(10999, "unknown winsock code"), C.UNKNOWN),
    ("an unrelated number in a message", lambda: RuntimeError("[WinError 2] file not found"), C.UNKNOWN),
    ("a winsock number that is no error code", lambda: KeyError(10054), C.UNKNOWN),
]


def _winerror(code: int) -> OSError:
    """An OSError as Windows raises it: ``winerror`` set, ``errno`` the nearest POSIX code (or none)."""
    exc = OSError(None, "winsock error")
    exc.winerror = code  # type: ignore[attr-defined]
    return exc


@pytest.mark.parametrize(("make", "expected"), [(m, e) for _, m, e in CASES], ids=[c[0] for c in CASES])
def test_classify_failure(make: Callable[[], BaseException], expected: FailureCategory) -> None:
    exc = make()
    category = classify_failure(exc)
    assert category is expected, f"{type(exc).__module__}.{type(exc).__qualname__}: {category!r}"


def test_classify_failure_of_raised_and_caught_exception() -> None:
    """Classification works on what an ``except`` clause sees (traceback attached)."""

    def connect() -> None:
        raise ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused")

    with pytest.raises(OSError) as excinfo:
        connect()
    assert excinfo.value.__traceback__ is not None
    assert classify_failure(excinfo.value) is C.NETWORK


def test_status_below_400_does_not_decide() -> None:
    class Odd(RuntimeError):
        status_code = 200

    assert classify_failure(Odd("fine?")) is C.UNKNOWN


def test_transient_error_beats_http_status() -> None:
    class Throttled(TransientError):
        pass

    exc = Throttled("slow down", retry_after=1)
    exc.response = _requests_response(401)  # type: ignore[attr-defined]
    assert classify_failure(exc) is C.NETWORK


# -- http_status ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda: _httpx_status(503), 503),
        (lambda: _httpx_status(404), 404),
        (lambda: _requests_status(429), 429),
        (lambda: requests.HTTPError("no response"), None),
        (lambda: requests.ConnectionError("refused"), None),
        (lambda: httpx.ConnectError("refused", request=_req()), None),
        (lambda: RuntimeError("plain"), None),
    ],
    ids=["httpx-503", "httpx-404", "requests-429", "requests-no-response", "requests-conn", "httpx-conn", "plain"],
)
def test_http_status(make: Callable[[], BaseException], expected: int | None) -> None:
    assert http_status(make()) == expected


def test_http_status_reads_status_attribute_of_exception_itself() -> None:
    class ResponseLike(Exception):
        def __init__(self, status: object) -> None:
            super().__init__("http")
            self.status = status

    assert http_status(ResponseLike(502)) == 502
    assert classify_failure(ResponseLike(502)) is C.NETWORK
    assert http_status(ResponseLike("502")) is None  # not an int: ignored


# -- retry_after ----------------------------------------------------------------------------------


def test_retry_after_from_transient_error() -> None:
    value = retry_after(TransientError("later", retry_after=5))
    assert value == 5.0
    assert isinstance(value, float)


def test_retry_after_zero_is_kept() -> None:
    assert retry_after(TransientError("now", retry_after=0)) == 0.0


def test_retry_after_absent() -> None:
    assert retry_after(TransientError("later")) is None
    assert retry_after(RuntimeError("x")) is None
    assert retry_after(_httpx_status(429)) is None


@pytest.mark.parametrize("header", ["Retry-After", "retry-after", "RETRY-AFTER"])
def test_retry_after_from_httpx_429_header(header: str) -> None:
    exc = _httpx_status(429, {header: "7"})
    assert classify_failure(exc) is C.RATE_LIMIT
    assert retry_after(exc) == 7.0


def test_retry_after_from_requests_header() -> None:
    assert retry_after(_requests_status(429, {"Retry-After": "3"})) == 3.0
    assert retry_after(_requests_status(503, {"retry-after": "12"})) == 12.0


@pytest.mark.parametrize("garbage", ["soon", "", "7 seconds", "-5", "nan", "inf", "Not, a date at all"])
def test_retry_after_garbage_header(garbage: str) -> None:
    assert retry_after(_httpx_status(429, {"Retry-After": garbage})) is None


def test_retry_after_http_date_in_the_future() -> None:
    when = datetime.now(UTC) + timedelta(seconds=120)
    value = retry_after(_httpx_status(503, {"Retry-After": format_datetime(when, usegmt=True)}))
    assert value is not None
    assert 100 < value <= 121  # whole seconds in the header; generous lower bound, no clock mocking


def test_retry_after_http_date_in_the_past_is_zero() -> None:
    assert retry_after(_httpx_status(503, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})) == 0.0


# -- is_retryable and FailureCategory -------------------------------------------------------------


@pytest.mark.parametrize(
    ("category", "retryable"),
    [
        (C.CONFIG, False),
        (C.VALIDATION, False),
        (C.AUTH, False),
        (C.PERMISSION, False),
        (C.RATE_LIMIT, True),
        (C.NETWORK, True),
        (C.TIMEOUT, True),
        (C.DATABASE, True),
        (C.UNKNOWN, False),
    ],
)
def test_is_retryable(category: FailureCategory, retryable: bool) -> None:
    assert is_retryable(category) is retryable


def test_retryable_set_is_exactly_the_spec() -> None:
    assert {c.value for c in RETRYABLE} == {"network", "rate_limit", "timeout", "database"}


def test_failure_category_is_a_str_enum_with_exact_values() -> None:
    assert [c.value for c in FailureCategory] == [
        "config",
        "validation",
        "auth",
        "permission",
        "rate_limit",
        "network",
        "timeout",
        "database",
        "unknown",
    ]
    for category in FailureCategory:
        assert isinstance(category, str)
        assert category == category.value
        assert str(category) == category.value
        assert f"{category}" == category.value
        assert FailureCategory(category.value) is category
    assert json.dumps({"category": FailureCategory.RATE_LIMIT}) == '{"category": "rate_limit"}'


def test_error_tree() -> None:
    assert issubclass(ParamsError, ConfigError)
    for cls in (ConfigError, ParamsError, RegistryError, TransientError):
        assert issubclass(cls, HarvesterError)
    assert not issubclass(TransientError, ConfigError)
    assert TransientError("x").retry_after is None
    assert str(TransientError("rate limited", retry_after=2)) == "rate limited"
