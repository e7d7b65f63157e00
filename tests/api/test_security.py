"""Body size limit (413 before buffering), the bearer token on the trigger, loopback addresses
(the rest of the access control: test_access.py, test_login.py)."""

from __future__ import annotations

import asyncio

import pytest
from api_support import Client, InlineWorkers, build

from harvester.api import create_app
from harvester.api.limits import MAX_BODY_BYTES, BodySizeLimit
from harvester.api.security import is_loopback
from harvester.settings import Settings

TRIGGER = "/api/v1/collect/trigger"


def test_a_declared_oversize_body_is_refused_before_it_is_read(client, workers):
    answer = client.post(TRIGGER, content=b"x" * (MAX_BODY_BYTES + 1), headers={"content-type": "application/json"})
    assert answer.status_code == 413
    assert answer.json() == {"detail": f"request body larger than {MAX_BODY_BYTES} bytes"}
    assert workers.sent == []


def test_a_streamed_oversize_body_is_cut_off_while_it_arrives(client, workers):
    chunk = b" " * (64 * 1024)
    sent = []

    async def stream():
        for _ in range(64):  # 4 MiB if it were all read
            sent.append(len(chunk))
            yield chunk

    answer = client.post(TRIGGER, content=stream(), headers={"content-type": "application/json"})
    assert answer.status_code == 413
    assert sum(sent) <= MAX_BODY_BYTES + 2 * len(chunk)  # stopped reading right after the limit
    assert workers.sent == []


def test_a_body_at_the_limit_is_read(client, workers):
    body = b'{"collector": "ok"}'.ljust(MAX_BODY_BYTES, b" ")
    assert client.post(TRIGGER, content=body, headers={"content-type": "application/json"}).status_code == 202


def test_a_content_length_that_is_not_a_number_is_refused():
    sent = []

    async def app(scope, receive, send):
        raise AssertionError("the app must not be reached")

    async def send(message):
        sent.append(message)

    async def receive():
        raise AssertionError("nothing may be read")

    limit = BodySizeLimit(app, max_bytes=10)
    asyncio.run(limit({"type": "http", "headers": [(b"content-length", b"ten")]}, receive, send))
    assert sent[0]["status"] == 413


def test_the_limit_passes_other_scopes_and_late_overflows_through():
    seen = []

    async def app(scope, receive, send):
        seen.append(scope["type"])
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await receive()  # reading after answering: too late for a 413

    async def receive():
        return {"type": "http.request", "body": b"x" * 20, "more_body": False}

    async def send(message):
        pass

    limit = BodySizeLimit(app, max_bytes=10)
    asyncio.run(limit({"type": "lifespan"}, receive, send))
    with pytest.raises(Exception, match="larger than 10 bytes"):
        asyncio.run(limit({"type": "http", "headers": []}, receive, send))
    assert seen == ["lifespan", "http"]


@pytest.fixture
def guarded(tmp_path, monkeypatch):
    hv = build(tmp_path, api_token="open-sesame")
    monkeypatch.setitem(hv.__dict__, "dispatcher", InlineWorkers(hv))  # holds every run: no broker
    client = Client(create_app(hv))
    yield client
    client.close()
    hv.close()


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic b3Blbi1zZXNhbWU="}, {"Authorization": "Bearer "}],
)
def test_with_a_token_mutating_routes_need_it(guarded, headers):
    answer = guarded.post(TRIGGER, json={"collector": "ok"}, headers=headers)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer"
    assert "open-sesame" not in answer.text


def test_with_the_right_token_the_trigger_is_accepted(guarded):
    answer = guarded.post(TRIGGER, json={"collector": "ok"}, headers={"Authorization": "Bearer open-sesame"})
    assert answer.status_code == 202


def test_the_token_is_checked_before_the_body(guarded):
    assert guarded.post(TRIGGER, json={"collector": "nope"}).status_code == 401


def test_without_a_token_no_header_is_needed(client, workers):
    assert client.post(TRIGGER, json={"collector": "ok"}).status_code == 202


def test_an_empty_token_setting_means_no_token(monkeypatch):
    monkeypatch.setenv("HARVESTER_API_TOKEN", " ")
    assert Settings().api_token is None
    monkeypatch.setenv("HARVESTER_API_TOKEN", "t0k3n")
    token = Settings().api_token
    assert token is not None
    assert token.get_secret_value() == "t0k3n"
    assert "t0k3n" not in repr(Settings())


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("LOCALHOST", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.10", False),
        ("example.com", False),
    ],
)
def test_loopback_addresses(host, loopback):
    assert is_loopback(host) is loopback
