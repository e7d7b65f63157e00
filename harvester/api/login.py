"""The dashboard's login form and logout: ``GET``/``POST /login``, ``POST /logout``.

The token typed into the form becomes a signed session cookie (HttpOnly: page scripts never see
it; SameSite=Strict: no other site's page sends it; Secure over https). The login form is
protected against cross-site posts by its own CSRF token, an HMAC of a nonce in a short-lived
SameSite=Strict cookie; the logout form by the session's CSRF token. Form bodies are parsed with
the standard library (the form is two fields; no multipart parser needed).
"""

from __future__ import annotations

import secrets
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from harvester.api.access import LOGIN_PATH, LOGOUT_PATH
from harvester.api.security import LOGIN_COOKIE, SESSION_COOKIE, Credentials, local_path
from harvester.dashboard.routes import render

#: Seconds the login form stays valid (its nonce cookie's lifetime).
LOGIN_FORM_SECONDS = 3600


def router(credentials: Credentials | None) -> APIRouter:
    routes = APIRouter(include_in_schema=False)

    @routes.get(LOGIN_PATH, name="login")
    def login_form(request: Request, target: Annotated[str, Query(alias="next")] = "/") -> Response:
        if credentials is None or credentials.session_ok(request.cookies.get(SESSION_COOKIE, "")):
            return _redirect(request, local_path(target))  # nothing to log in to, or already in
        return _form(request, credentials, local_path(target))

    @routes.post(LOGIN_PATH)
    async def login(request: Request) -> Response:
        form = await _fields(request)
        target = local_path(form.get("next", "/"))
        if credentials is None:
            return _redirect(request, target)
        if not credentials.login_csrf_ok(request.cookies.get(LOGIN_COOKIE, ""), form.get("csrf_token", "")):
            return _form(request, credentials, target, "This form has expired. Enter the token again.", 403)
        if not credentials.token_ok(form.get("token", "")):
            return _form(request, credentials, target, "Wrong token.", 401)
        response = _redirect(request, target)
        response.set_cookie(
            SESSION_COOKIE,
            credentials.new_session(),
            max_age=int(credentials.session_seconds),
            path="/",
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="strict",
        )
        response.delete_cookie(LOGIN_COOKIE, path=request.scope.get("root_path", "") + LOGIN_PATH)
        return response

    @routes.post(LOGOUT_PATH)
    async def logout(request: Request) -> Response:
        session = request.cookies.get(SESSION_COOKIE, "")
        if credentials is not None and credentials.session_ok(session):
            given = (await _fields(request)).get("csrf_token", "")
            if not credentials.csrf_ok(session, given):  # a cross-site form must not log anyone out
                context = {"nav": "", "title": "Not logged out", "message": "This page is out of date: reload it."}
                return render(request, "message.html", context, 403)
        response = _redirect(request, LOGIN_PATH)
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
        return response

    return routes


def _form(request: Request, credentials: Credentials, target: str, error: str = "", status: int = 200) -> Response:
    """The login page with a fresh form nonce; the typed token is never put back into it."""
    nonce = secrets.token_urlsafe(16)
    context = {"nav": "", "next": target, "error": error, "login_csrf": credentials.login_csrf(nonce)}
    response = render(request, "login.html", context, status)
    response.set_cookie(
        LOGIN_COOKIE,
        nonce,
        max_age=LOGIN_FORM_SECONDS,
        path=request.scope.get("root_path", "") + LOGIN_PATH,
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )
    return response


def _redirect(request: Request, path: str) -> RedirectResponse:
    return RedirectResponse(request.scope.get("root_path", "") + path, 303, headers={"Cache-Control": "no-store"})


async def _fields(request: Request) -> dict[str, str]:
    """The first value of each field of a urlencoded form body (anything else: no fields)."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
        return {}
    body = (await request.body()).decode("utf-8", "replace")
    try:
        fields = parse_qs(body, max_num_fields=20)
    except ValueError:  # more fields than any form of ours has
        return {}
    return {name: values[0] for name, values in fields.items()}
