"""Who may talk to the API: the token, the dashboard sessions derived from it, and Host names.

A session is ``<expiry>.<nonce>.<mac>``, signed by HMAC-SHA256 with a key derived from the token:
nothing is kept server-side, every API process with the same token accepts it, and a new token
logs everyone out. Its CSRF token is another HMAC, of the whole session value, so a page can carry
it while the cookie itself stays HttpOnly. The login form's CSRF token is an HMAC of a random nonce
kept in a short-lived SameSite=Strict cookie (a cross-site form has neither).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import secrets
import time
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

from pydantic import SecretStr

SESSION_COOKIE = "harvester_session"
LOGIN_COOKIE = "harvester_login"


class Credentials:
    """Checks the token and makes and checks sessions and CSRF tokens.

    Options: ``token`` (HARVESTER_API_TOKEN); ``session_seconds`` (how long a login lasts);
    ``clock`` (seconds since the epoch, ``time.time`` by default; tests pass their own).
    """

    def __init__(self, token: SecretStr, session_seconds: float, clock: Callable[[], float] = time.time) -> None:
        self._token = token.get_secret_value().encode()
        self._key = hmac.new(self._token, b"harvester dashboard sessions v1", hashlib.sha256).digest()
        self.session_seconds = session_seconds
        self.clock = clock

    def token_ok(self, given: str) -> bool:
        """Compared in constant time, so response timing reveals nothing of the token."""
        return secrets.compare_digest(given.encode(), self._token)

    def bearer_ok(self, authorization: str) -> bool:
        scheme, _, given = authorization.partition(" ")
        return scheme.lower() == "bearer" and bool(given.strip()) and self.token_ok(given.strip())

    def new_session(self) -> str:
        body = f"{int(self.clock() + self.session_seconds)}.{secrets.token_urlsafe(16)}"
        return f"{body}.{self._mac('session', body)}"

    def session_ok(self, value: str) -> bool:
        """A session this token signed whose expiry has not passed."""
        body, _, mac = value.rpartition(".")
        expiry = body.partition(".")[0]
        if not (body and expiry.isdigit() and secrets.compare_digest(mac, self._mac("session", body))):
            return False
        return int(expiry) > self.clock()

    def csrf(self, session: str) -> str:
        return self._mac("csrf", session)

    def csrf_ok(self, session: str, given: str) -> bool:
        return bool(given) and secrets.compare_digest(given, self.csrf(session))

    def login_csrf(self, nonce: str) -> str:
        return self._mac("login", nonce)

    def login_csrf_ok(self, nonce: str, given: str) -> bool:
        return bool(nonce and given) and secrets.compare_digest(given, self.login_csrf(nonce))

    def _mac(self, purpose: str, value: str) -> str:
        digest = hmac.new(self._key, f"{purpose}:{value}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach: 127.0.0.0/8, ::1, ``localhost``."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve to anything


def host_name(header: str) -> str:
    """The name in a ``Host`` header, lower case, without its port or IPv6 brackets."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else header
    return header.rpartition(":")[0] if header.count(":") == 1 else header


def under(path: str, prefixes: Iterable[str]) -> bool:
    """True when ``path`` is one of ``prefixes`` or below one (``/health`` covers ``/health/x``)."""
    return any(p == "/" or path == p or path.startswith(p + "/") for p in prefixes)


def local_path(value: str, default: str = "/") -> str:
    """``value`` if it is a path on this site, else ``default``: a login never redirects elsewhere."""
    parts = urlsplit(value)
    if (
        not value.startswith("/")
        or value.startswith("//")
        or "\\" in value
        or not value.isprintable()
        or " " in value
        or parts.scheme
        or parts.netloc
    ):
        return default
    return value
