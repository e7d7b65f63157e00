"""Access control: with a token every route but the public ones needs it (bearer or a session),
CSRF on cookie-authenticated changes, the Host check, and the security headers on every answer."""

from __future__ import annotations

import re
import time

import pytest
from api_support import Client, InlineWorkers, build, login
from fastapi.routing import iter_route_contexts
from pydantic import SecretStr

from harvester.api import create_app
from harvester.api.access import CSP, DOCS_CSP
from harvester.api.security import SESSION_COOKIE, Credentials

TOKEN = "open-sesame"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
TRIGGER = "/api/v1/collect/trigger"


@pytest.fixture
def make(tmp_path, monkeypatch):
    """``make(**settings)``: a client of a fresh app; every run it triggers is held (no broker)."""
    made = []

    def factory(**overrides):
        hv = build(tmp_path / f"app{len(made)}", health_timeout=0.2, **overrides)
        monkeypatch.setitem(hv.__dict__, "dispatcher", InlineWorkers(hv))
        client = Client(create_app(hv))
        made.append((client, hv))
        return client

    yield factory
    for client, hv in made:
        client.close()
        hv.close()


@pytest.fixture
def guarded(make):
    return make(api_token=TOKEN)


def with_session(session: str, **headers: str) -> dict[str, str]:
    return {"Cookie": f"{SESSION_COOKIE}={session}", **headers}


# -- the token ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic b3Blbi1zZXNhbWU="}, {"Authorization": "Bearer "}],
)
@pytest.mark.parametrize("path", ["/api/v1/runs", "/api/v1/collectors", "/openapi.json", "/docs", "/redoc"])
def test_with_a_token_reading_routes_need_it_too(guarded, headers, path):
    answer = guarded.get(path, headers=headers)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer"
    assert "Authorization: Bearer" in answer.json()["detail"]
    assert TOKEN not in answer.text


def test_with_the_bearer_token_every_api_route_answers(guarded):
    for path in ("/api/v1/runs", "/api/v1/collectors", "/openapi.json", "/docs", "/redoc"):
        assert guarded.get(path, headers=BEARER).status_code == 200, path
    assert guarded.post(TRIGGER, json={"collector": "ok"}, headers=BEARER).status_code == 202


def test_every_route_needs_the_token_but_the_public_ones(guarded):
    """Walks the app's own route table, so a route added later is covered without naming it."""
    public = {"/health", "/metrics", "/login", "/logout", "/static"}
    app = guarded.http._transport.app
    seen = set()
    for route in iter_route_contexts(app.routes):  # the routes of included routers too
        seen.add(route.path)
        if route.path in public:
            continue
        assert route.methods, route.path  # a mount (static files) would be public or refused whole
        path = re.sub(r"\{[^}]+\}", "x", route.path)
        for method in sorted(route.methods - {"HEAD"}):
            answer = guarded.request(method, path)
            if answer.status_code == 303:
                assert method == "GET", path
                assert answer.headers["location"].startswith("/login?next=%2F"), path
            else:
                assert answer.status_code == 401, (method, path, answer.status_code)
                assert answer.headers["www-authenticate"] == "Bearer"
    assert public <= seen
    assert guarded.get("/metrics").status_code == 200
    assert guarded.get("/health").status_code in (200, 503)  # answered: no worker here
    assert guarded.get("/static/dashboard.css").status_code == 200


def test_dashboard_pages_send_to_the_login_with_the_way_back(guarded):
    answer = guarded.get("/runs?status=failed")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=%2Fruns%3Fstatus%3Dfailed"
    assert guarded.get("/fragments/overview").status_code == 303  # the page script reloads on it


def test_public_paths_are_a_setting(make):
    client = make(api_token=TOKEN, api_public_paths="/health,/api/v1/collectors")
    assert client.get("/api/v1/collectors").status_code == 200
    assert client.get("/metrics").status_code == 401  # no longer public
    assert client.get("/api/v1/runs").status_code == 401
    document = client.get("/openapi.json", headers=BEARER).json()
    assert "security" not in document["paths"]["/api/v1/collectors"]["get"]
    assert document["paths"]["/metrics"]["get"]["security"] == [{"HTTPBearer": []}]


def test_a_public_path_covers_what_is_below_it_and_nothing_beside_it(make):
    client = make(api_token=TOKEN, api_public_paths="/api/v1/runs")
    assert client.get("/api/v1/runs").status_code == 200
    assert client.get("/api/v1/runs/nope").status_code == 404  # below it: public, then not found
    assert client.get("/api/v1/runsx").status_code == 401


def test_without_a_token_nothing_is_asked(make):
    client = make()
    assert client.post(TRIGGER, json={"collector": "ok"}).status_code == 202
    assert client.get("/").status_code == 200
    assert client.get("/login").headers["location"] == "/"  # nothing to log in to


# -- the session cookie ---------------------------------------------------------------------------


def test_the_session_cookie_opens_api_routes_and_pages(guarded):
    session = login(guarded, TOKEN)
    assert guarded.get("/api/v1/runs", headers=with_session(session)).status_code == 200
    assert guarded.get("/openapi.json", headers=with_session(session)).status_code == 200
    page = guarded.get("/", headers=with_session(session))
    assert page.status_code == 200
    assert 'name="csrf-token"' in page.text
    assert "Log out" in page.text


def credentials(token: str = TOKEN, hours: float = 12, shift: float = 0) -> Credentials:
    return Credentials(SecretStr(token), hours * 3600, clock=lambda: time.time() + shift)


@pytest.mark.parametrize(
    "session",
    [
        pytest.param(credentials(shift=-13 * 3600).new_session(), id="expired"),
        pytest.param(credentials(token="another-token").new_session(), id="signed-by-another-token"),
        pytest.param(credentials().new_session()[:-2] + "xx", id="forged-mac"),
        pytest.param("9999999999.nonce.mac", id="made-up"),
        pytest.param("", id="empty"),
        pytest.param("...", id="dots"),
    ],
)
def test_an_expired_or_forged_session_is_refused(guarded, session):
    assert guarded.get("/api/v1/runs", headers=with_session(session)).status_code == 401
    assert guarded.get("/", headers=with_session(session)).status_code == 303


def test_a_session_made_with_a_later_expiry_is_refused(guarded):
    genuine = credentials().new_session()
    expiry, nonce, mac = genuine.split(".")
    stretched = f"{int(expiry) + 86400}.{nonce}.{mac}"  # the expiry is inside the signed value
    assert guarded.get("/api/v1/runs", headers=with_session(stretched)).status_code == 401
    assert guarded.get("/api/v1/runs", headers=with_session(genuine)).status_code == 200


def test_a_wrong_bearer_is_not_rescued_by_a_good_cookie(guarded):
    session = login(guarded, TOKEN)
    headers = with_session(session, Authorization="Bearer wrong")
    assert guarded.get("/api/v1/runs", headers=headers).status_code == 401


# -- CSRF -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("given", [None, "", "wrong", credentials().csrf("another-session")])
def test_a_cookie_post_without_the_right_csrf_token_is_refused(guarded, given):
    session = login(guarded, TOKEN)
    headers = with_session(session, **({"X-CSRF-Token": given} if given is not None else {}))
    answer = guarded.post(TRIGGER, json={"collector": "ok"}, headers=headers)
    assert answer.status_code == 403
    assert "X-CSRF-Token" in answer.json()["detail"]


def test_a_cookie_post_with_the_pages_csrf_token_is_accepted(guarded):
    session = login(guarded, TOKEN)
    page = guarded.get("/", headers=with_session(session)).text
    token = re.search(r'<meta name="csrf-token" content="([^"]+)">', page)
    assert token is not None
    answer = guarded.post(
        TRIGGER, json={"collector": "ok"}, headers=with_session(session, **{"X-CSRF-Token": token[1]})
    )
    assert answer.status_code == 202


def test_a_bearer_post_needs_no_csrf_token(guarded):
    assert guarded.post(TRIGGER, json={"collector": "ok"}, headers=BEARER).status_code == 202


# -- Host -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST:8000", "127.0.0.1:8000", "127.0.0.2", "[::1]", "[::1]:8000"])
def test_without_a_token_loopback_hosts_are_answered(make, host):
    assert make().get("/api/v1/runs", headers={"Host": host}).status_code == 200


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:8000", "localhost.evil.example", "10.0.0.1", "[::]", "localhost.", ""]
)
def test_without_a_token_other_hosts_are_refused(make, host):
    answer = make().get("/api/v1/runs", headers={"Host": host})
    assert answer.status_code == 421
    assert "HARVESTER_API_ALLOWED_HOSTS" in answer.json()["detail"]
    assert "HARVESTER_API_TOKEN" in answer.json()["detail"]
    assert answer.headers["x-content-type-options"] == "nosniff"


def test_allowed_hosts_are_answered_in_both_modes(make):
    open_api = make(api_allowed_hosts="harvester.internal, Other.Example")
    for host in ("harvester.internal", "harvester.internal:8000", "other.example", "localhost"):
        assert open_api.get("/api/v1/runs", headers={"Host": host}).status_code == 200, host
    assert open_api.get("/api/v1/runs", headers={"Host": "evil.example"}).status_code == 421
    assert make(api_allowed_hosts="*").get("/api/v1/runs", headers={"Host": "any.example"}).status_code == 200
    guarded = make(api_token=TOKEN, api_allowed_hosts="harvester.internal")
    assert guarded.get("/api/v1/runs", headers={"Host": "harvester.internal", **BEARER}).status_code == 200
    refused = guarded.get("/api/v1/runs", headers={"Host": "evil.example", **BEARER})
    assert refused.status_code == 421
    assert "HARVESTER_API_ALLOWED_HOSTS" in refused.json()["detail"]


def test_with_a_token_and_no_allowed_hosts_any_host_is_answered(guarded):
    assert guarded.get("/api/v1/runs", headers={"Host": "harvester.example.com", **BEARER}).status_code == 200


def test_the_host_is_checked_before_anything_else(make):
    client = make()
    assert client.post(TRIGGER, json={"collector": "ok"}, headers={"Host": "evil.example"}).status_code == 421
    assert client.get("/health", headers={"Host": "evil.example"}).status_code == 421  # public paths too


# -- headers --------------------------------------------------------------------------------------


def test_every_answer_carries_the_security_headers(guarded):
    answers = [
        guarded.get("/api/v1/runs", headers=BEARER),  # 200 JSON
        guarded.get("/api/v1/runs"),  # 401
        guarded.get("/"),  # 303
        guarded.get("/login"),  # a page
        guarded.get("/static/dashboard.js"),
        guarded.get("/api/v1/runs/nope", headers=BEARER),  # 404
        guarded.post(TRIGGER, content=b"x" * (2 << 20), headers=BEARER),  # 413
        guarded.get("/metrics"),
    ]
    for answer in answers:
        assert answer.headers["x-content-type-options"] == "nosniff", answer.url
        assert answer.headers["x-frame-options"] == "DENY", answer.url
        assert answer.headers["referrer-policy"] == "same-origin", answer.url
        assert answer.headers["content-security-policy"] == CSP, answer.url
    assert answers[-2].status_code == 413
    for part in ("default-src 'self'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'self'"):
        assert part in CSP


def test_the_docs_pages_get_the_policy_their_cdn_scripts_need(guarded):
    for path in ("/docs", "/redoc"):
        answer = guarded.get(path, headers=BEARER)
        assert answer.headers["content-security-policy"] == DOCS_CSP
        for url in re.findall(r'(?:src|href)="(https://[^/"]+)', answer.text):
            assert url in DOCS_CSP, url
    assert "frame-ancestors 'none'" in DOCS_CSP
