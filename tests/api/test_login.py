"""The dashboard's login form and logout: the session cookie's flags, a wrong token, the form's
own CSRF token, and no redirect off the site."""

from __future__ import annotations

import re

import pytest
from api_support import Client, InlineWorkers, build, login

from harvester.api import create_app
from harvester.api.security import SESSION_COOKIE, local_path

TOKEN = "open-sesame"


@pytest.fixture
def guarded(tmp_path, monkeypatch):
    hv = build(tmp_path, api_token=TOKEN, api_session_hours=2)
    monkeypatch.setitem(hv.__dict__, "dispatcher", InlineWorkers(hv))
    client = Client(create_app(hv))
    yield client
    client.close()
    hv.close()


def form_token(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found is not None, page
    return found[1]


def post_login(client: Client, token: str, next_path: str = "/") -> object:
    csrf = form_token(client.get("/login").text)
    return client.post("/login", data={"token": token, "csrf_token": csrf, "next": next_path})


def test_the_login_page_asks_for_the_token(guarded):
    page = guarded.get("/login?next=/runs")
    assert page.status_code == 200
    assert 'type="password"' in page.text
    assert 'name="next" value="/runs"' in page.text
    assert "harvester_login=" in page.headers["set-cookie"]
    assert "httponly" in page.headers["set-cookie"].lower()
    assert "Log out" not in page.text


def test_the_right_token_sets_a_strict_http_only_session_cookie(guarded):
    answer = post_login(guarded, TOKEN, "/runs?status=failed")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/runs?status=failed"
    cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith(f"{SESSION_COOKIE}="))
    flags = {part.strip().split("=")[0].lower(): part.strip() for part in cookie.split(";")[1:]}
    assert "httponly" in flags
    assert flags["samesite"].lower() == "samesite=strict"
    assert flags["path"] == "Path=/"
    assert flags["max-age"] == "Max-Age=7200"  # HARVESTER_API_SESSION_HOURS=2
    assert "secure" not in flags  # plain http: a Secure cookie would never come back
    assert TOKEN not in cookie


def test_over_https_the_cookie_is_secure(tmp_path):
    hv = build(tmp_path, api_token=TOKEN)
    client = Client(create_app(hv))
    client.http.base_url = "https://localhost"
    try:
        answer = post_login(client, TOKEN)
        cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith(f"{SESSION_COOKIE}="))
        assert "secure" in cookie.lower()
    finally:
        client.close()
        hv.close()


def test_a_wrong_token_shows_the_form_again_without_echoing_it(guarded):
    typed = "not-the-token-3f9a"
    answer = post_login(guarded, typed)
    assert answer.status_code == 401
    assert "Wrong token." in answer.text
    assert typed not in answer.text
    assert 'type="password"' in answer.text
    assert SESSION_COOKIE not in answer.headers.get("set-cookie", "")


@pytest.mark.parametrize("field", [None, "", "forged"])
def test_a_login_post_without_the_forms_csrf_token_is_refused(guarded, field):
    guarded.get("/login")  # the nonce cookie, but not the field
    data = {"token": TOKEN, **({"csrf_token": field} if field is not None else {})}
    answer = guarded.post("/login", data=data)
    assert answer.status_code == 403
    assert SESSION_COOKIE not in answer.headers.get("set-cookie", "")


def test_a_login_post_from_another_site_has_no_nonce_cookie_and_is_refused(guarded):
    csrf = form_token(guarded.get("/login").text)
    guarded.http.cookies.clear()  # SameSite=Strict: a cross-site form post carries no cookie
    assert guarded.post("/login", data={"token": TOKEN, "csrf_token": csrf}).status_code == 403


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/x",
        "https://evil.example/",
        "/\\evil.example",
        "javascript:alert(1)",
        "evil.example",
        "/\r\nSet-Cookie: x=1",
        "/\tx",
        " /runs",
    ],
)
def test_next_never_leads_off_the_site(guarded, target):
    answer = post_login(guarded, TOKEN, target)
    assert (answer.status_code, answer.headers["location"]) == (303, "/")


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("/runs", "/runs"),
        ("/runs?status=failed&collector=x", "/runs?status=failed&collector=x"),
        ("/%0d%0aSet-Cookie:x", "/%0d%0aSet-Cookie:x"),  # encoded: only ever a path on this site
        ("//x", "/"),
        ("", "/"),
    ],
)
def test_local_path(given, kept):
    assert local_path(given) == kept


def test_logged_in_the_login_page_sends_you_on(guarded):
    session = login(guarded, TOKEN)
    answer = guarded.get("/login?next=/runs", headers={"Cookie": f"{SESSION_COOKIE}={session}"})
    assert (answer.status_code, answer.headers["location"]) == (303, "/runs")


def test_logout_needs_the_pages_csrf_token_and_clears_the_cookie(guarded):
    session = login(guarded, TOKEN)
    cookie = {"Cookie": f"{SESSION_COOKIE}={session}"}
    page = guarded.get("/", headers=cookie).text
    refused = guarded.post("/logout", data={"csrf_token": "forged"}, headers=cookie)
    assert refused.status_code == 403
    assert SESSION_COOKIE not in refused.headers.get("set-cookie", "")
    answer = guarded.post("/logout", data={"csrf_token": form_token(page)}, headers=cookie)
    assert (answer.status_code, answer.headers["location"]) == (303, "/login")
    cleared = answer.headers["set-cookie"]
    assert cleared.startswith(f'{SESSION_COOKIE}=""') or cleared.startswith(f"{SESSION_COOKIE}=;")
    assert "max-age=0" in cleared.lower()


def test_logout_without_a_session_just_goes_to_the_login(guarded):
    assert guarded.post("/logout").headers["location"] == "/login"


def test_a_new_token_logs_everyone_out(tmp_path):
    first = build(tmp_path / "a", api_token=TOKEN)
    second = build(tmp_path / "b", api_token="rotated-token")
    old, new = Client(create_app(first)), Client(create_app(second))
    try:
        session = login(old, TOKEN)
        cookie = {"Cookie": f"{SESSION_COOKIE}={session}"}
        assert old.get("/api/v1/runs", headers=cookie).status_code == 200
        assert new.get("/api/v1/runs", headers=cookie).status_code == 401
    finally:
        old.close()
        new.close()
        first.close()
        second.close()
