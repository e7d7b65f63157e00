"""The bearer token of mutating routes, and which addresses may serve the API without one."""

from __future__ import annotations

import ipaddress
import secrets
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import HTTPException, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr

bearer = HTTPBearer(auto_error=False, description="HARVESTER_API_TOKEN, when it is set.")


def token_guard(token: SecretStr | None) -> Callable[..., Awaitable[None]]:
    """A dependency that lets a request through only with ``Authorization: Bearer <token>``, compared
    in constant time so response timing reveals nothing of it. Without a token it requires nothing,
    and the OpenAPI schema then declares no security either."""
    if token is None:

        async def open_route() -> None:
            return None

        return open_route
    expected = token.get_secret_value().encode()

    async def require_token(credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)]) -> None:
        given = credentials.credentials.encode() if credentials is not None else b""
        if not secrets.compare_digest(given, expected):
            raise HTTPException(
                401,
                "missing or wrong bearer token (Authorization: Bearer <HARVESTER_API_TOKEN>)",
                {"WWW-Authenticate": "Bearer"},
            )

    return require_token


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach: 127.0.0.0/8, ::1, ``localhost``."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve to anything
