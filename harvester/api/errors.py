"""How harvester's errors become HTTP answers: one body shape, field names, never input values."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from harvester.errors import ParamsError
from harvester.execution.dispatcher import DispatchError

log = logging.getLogger(__name__)


def validation_problems(exc: ValidationError) -> list[dict[str, Any]]:
    """One problem per bad params field, named in ``loc`` and in the message."""
    return [
        {
            "loc": ["body", "params", *err["loc"]],
            "msg": f"{'.'.join(map(str, err['loc']))}: {err['msg']}",
            "type": "params",
        }
        for err in exc.errors(include_input=False, include_url=False)
    ]


def params_problems(exc: ParamsError) -> list[dict[str, Any]]:
    """The pydantic error behind a ParamsError gives the fields; an unknown field has none behind it,
    and its message names the field itself."""
    cause = exc.__context__
    if isinstance(cause, ValidationError):
        return validation_problems(cause)
    return [{"loc": ["body", "params"], "msg": str(exc), "type": "params"}]


def _validation_problems(exc: RequestValidationError) -> list[dict[str, Any]]:
    return [
        {"loc": list(err.get("loc", ())), "msg": str(err.get("msg", "")), "type": str(err.get("type", ""))}
        for err in exc.errors()
    ]


async def _bad_request(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse({"detail": _validation_problems(exc)}, status_code=422)


#: What FastAPI answers (400) when a body's JSON cannot even be parsed, e.g. nested too deeply.
_UNPARSABLE = "There was an error parsing the body"


async def _http_error(request: Request, exc: Exception) -> Response:
    """A body FastAPI cannot parse is malformed JSON like any other: 422, as the API documents."""
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400 and exc.detail == _UNPARSABLE:
        problem = {"loc": ["body"], "msg": "the body is not JSON harvester can read (malformed or nested too deeply)"}
        return JSONResponse({"detail": [{**problem, "type": "json_invalid"}]}, status_code=422)
    return await http_exception_handler(request, exc)


def _unavailable(what: str) -> Callable[[Request, Exception], Awaitable[Response]]:
    async def answer(request: Request, exc: Exception) -> Response:
        """A dependency that does not answer is the server's trouble, not the client's: 503, named."""
        log.warning("%s %s: %s unavailable (%s)", request.method, request.url.path, what, type(exc).__name__)
        body = {"detail": f"{what} is unavailable ({type(exc).__name__}); try again later"}
        return JSONResponse(body, status_code=503, headers={"Retry-After": "5"})

    return answer


def install(app: FastAPI, database: str = "the history database", broker: str = "the broker") -> None:
    """``database``/``broker``: how a 503 names them (never with a password)."""
    app.add_exception_handler(RequestValidationError, _bad_request)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(OperationalError, _unavailable(database))
    app.add_exception_handler(InterfaceError, _unavailable(database))
    app.add_exception_handler(DispatchError, _unavailable(broker))
