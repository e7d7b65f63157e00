"""AccessControl: the one gate every HTTP request passes, in front of all routes.

In this order, a request is:

- refused (421) when its ``Host`` is not served: without a token only loopback names and
  HARVESTER_API_ALLOWED_HOSTS (a web page on another name cannot reach a loopback API through DNS
  rebinding); with a token any name while that setting is empty;
- let through when no token is set, or its path is public (HARVESTER_API_PUBLIC_PATHS, plus the
  login page and the static files it needs);
- let through with ``Authorization: Bearer <token>`` (no CSRF token: no browser sends it by itself);
- let through with a valid session cookie, if a state-changing method also carries the session's
  ``X-CSRF-Token`` (else 403);
- else answered 401 (API routes) or sent to the login page (303, dashboard pages).

Every response gets the security headers: no sniffing, no framing, no referrer to other sites, and
a content security policy (a looser one for /docs and /redoc, which load Swagger UI and ReDoc from
a CDN and start them with inline script).
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import quote

from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from harvester.api.security import SESSION_COOKIE, Credentials, host_name, is_loopback, under
from harvester.dashboard.routes import CSRF_SCOPE_KEY

LOGIN_PATH = "/login"
LOGOUT_PATH = "/logout"
#: Reachable without a login when a token is set: the login form, and the CSS and script it uses.
ALWAYS_PUBLIC = (LOGIN_PATH, LOGOUT_PATH, "/static")
#: Paths for programs (401 JSON when unauthenticated); any other GET is a page (303 to the login).
API_PATHS = ("/api", "/openapi.json", "/docs", "/redoc", "/health", "/metrics")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

CSP = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "font-src 'self' https://fonts.gstatic.com; img-src 'self' data: https://fastapi.tiangolo.com "
    "https://cdn.redoc.ly; worker-src 'self' blob:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
DOCS_PATHS = ("/docs", "/redoc")
CSRF_REFUSED = (
    "missing or wrong X-CSRF-Token: a state-changing request made with the session cookie needs the "
    'token its dashboard page carries (<meta name="csrf-token">); programs use Authorization: Bearer'
)
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


class AccessControl:
    """Options: ``credentials`` (None: no token set); ``public_paths`` (open even with a token,
    each with everything under it); ``allowed_hosts`` (Host names served besides loopback ones)."""

    def __init__(
        self,
        app: ASGIApp,
        credentials: Credentials | None,
        public_paths: Sequence[str] = ("/health", "/metrics"),
        allowed_hosts: Sequence[str] = (),
    ) -> None:
        self.app = app
        self.credentials = credentials
        self.public_paths = (*public_paths, *ALWAYS_PUBLIC)
        self.allowed_hosts = frozenset(host.lower() for host in allowed_hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = _path(scope)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in {**HEADERS, "Content-Security-Policy": _csp(path)}.items():
                    headers.setdefault(name, value)
            await send(message)

        refusal = self._refusal(scope, path)
        await (refusal or self.app)(scope, receive, send_with_headers)

    def _refusal(self, scope: Scope, path: str) -> Response | None:
        """The answer that stops the request here, or None to let it through."""
        request = HTTPConnection(scope)
        host = request.headers.get("host", "")
        if not self._host_served(host_name(host)):
            return self._misdirected(host)
        if self.credentials is None or under(path, self.public_paths):
            return None
        authorization = request.headers.get("authorization")
        if authorization is not None:
            return None if self.credentials.bearer_ok(authorization) else self._unauthorized(scope, path)
        session = request.cookies.get(SESSION_COOKIE, "")
        if not self.credentials.session_ok(session):
            return self._unauthorized(scope, path)
        scope[CSRF_SCOPE_KEY] = self.credentials.csrf(session)  # for the page's <meta name="csrf-token">
        given = request.headers.get("x-csrf-token", "")
        if scope["method"] in SAFE_METHODS or self.credentials.csrf_ok(session, given):
            return None
        return JSONResponse({"detail": CSRF_REFUSED}, 403)

    def _host_served(self, name: str) -> bool:
        if name in self.allowed_hosts or "*" in self.allowed_hosts or is_loopback(name):
            return True
        return self.credentials is not None and not self.allowed_hosts

    def _misdirected(self, host: str) -> Response:
        shown = repr(host[:100]) if host else "(none)"
        if self.credentials is None:
            detail = (
                f"Host {shown} is neither a loopback name nor in HARVESTER_API_ALLOWED_HOSTS, the only ones "
                "served without HARVESTER_API_TOKEN: add the name to HARVESTER_API_ALLOWED_HOSTS or set a token"
            )
        else:
            detail = f"Host {shown} is not in HARVESTER_API_ALLOWED_HOSTS: add the name there"
        return JSONResponse({"detail": detail}, 421)

    def _unauthorized(self, scope: Scope, path: str) -> Response:
        if scope["method"] in ("GET", "HEAD") and not under(path, API_PATHS):
            query = scope.get("query_string", b"").decode("latin-1")
            here = path + (f"?{query}" if query else "")  # the login adds root_path back
            login = f"{scope.get('root_path', '')}{LOGIN_PATH}?next={quote(here, safe='')}"
            return RedirectResponse(login, 303, headers={"Cache-Control": "no-store"})
        return JSONResponse(
            {"detail": "authentication required: Authorization: Bearer <HARVESTER_API_TOKEN>, or log in at /login"},
            401,
            headers={"WWW-Authenticate": "Bearer"},
        )


def _path(scope: Scope) -> str:
    """The path below the app's mount point (``root_path``), which routes and settings name."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return (path[len(root) :] or "/") if root and path.startswith(root) else path


def _csp(path: str) -> str:
    return DOCS_CSP if under(path, DOCS_PATHS) else CSP
