"""One send to one target: a signed webhook, a Slack-compatible webhook, SMTP; failures say why, safely."""

from __future__ import annotations

import socket
import time
from datetime import UTC, datetime

import pytest
from pydantic import TypeAdapter, ValidationError

from harvester.alerts.config import EmailTarget, SlackTarget, TargetConfig, WebhookTarget
from harvester.alerts.message import payload
from harvester.alerts.targets import DeliveryError, send, sign, verify
from harvester.settings import Settings

AT = datetime(2026, 12, 2, 13, 5, tzinfo=UTC)
INCIDENT = {"id": 12, "key": "run_failed:stars:p1", "kind": "run_failed", "subject": "stars", "opened_at": AT}
ALERT = payload("a1", "run_failed", INCIDENT, "stars failed (upstream): HTTP 503", AT, {"run_id": "r1"})


def test_the_webhook_posts_the_json_signed_with_the_shared_secret(receiver, monkeypatch):
    monkeypatch.setenv("HOOK_SECRET", "s3cret")
    config = WebhookTarget(kind="webhook", url=receiver.url, secret="${HOOK_SECRET}")
    send(config, ALERT, timeout=5)
    (got,) = receiver.received
    assert got.json == ALERT
    assert got.headers["X-Harvester-Event"] == "run_failed"
    assert got.headers["X-Harvester-Delivery"] == "a1"
    assert verify(got.body, "s3cret", got.headers["X-Harvester-Signature"])
    assert not verify(got.body, "wrong", got.headers["X-Harvester-Signature"])
    assert not verify(got.body + b" ", "s3cret", got.headers["X-Harvester-Signature"])


def test_the_alert_json_schema():
    assert ALERT == {
        "version": 1,
        "id": "a1",
        "event": "run_failed",
        "state": "open",
        "summary": "stars failed (upstream): HTTP 503",
        "at": "2026-12-02T13:05:00+00:00",
        "incident": {
            "id": 12,
            "key": "run_failed:stars:p1",
            "kind": "run_failed",
            "subject": "stars",
            "opened_at": "2026-12-02T13:05:00+00:00",
            "resolved_at": None,
        },
        "detail": {"run_id": "r1"},
    }


def test_without_a_secret_the_webhook_is_not_signed(receiver):
    send(WebhookTarget(kind="webhook", url=receiver.url), ALERT, timeout=5)
    assert "X-Harvester-Signature" not in receiver.received[0].headers


def test_slack_gets_a_text_message(receiver):
    send(SlackTarget(kind="slack", url=receiver.url), ALERT, timeout=5)
    text = receiver.received[0].json["text"]
    assert text.startswith("[harvester] FAILED stars\nstars failed (upstream): HTTP 503\n")
    assert "run_id: r1" in text


def test_email_reaches_the_smtp_server(mailbox):
    config = EmailTarget(
        kind="email",
        host=mailbox.host,
        port=mailbox.port,
        sender="h@example.org",
        to=["a@example.org"],
        security="none",
    )
    send(config, ALERT, timeout=5)
    (message,) = mailbox.messages
    assert message["Subject"] == "[harvester] FAILED stars"
    assert message["To"] == "a@example.org"
    assert "stars failed (upstream): HTTP 503" in message.get_payload()


def test_email_logs_in_with_the_password_from_a_secret_reference(mailbox, monkeypatch):
    monkeypatch.setenv("SMTP_PASSWORD", "pw")
    login = {"username": "harvester", "password": "${SMTP_PASSWORD}", "security": "none"}
    config = EmailTarget(kind="email", host=mailbox.host, port=mailbox.port, sender="h@x", to=["o@x"], **login)
    send(config, ALERT, timeout=5)
    assert len(mailbox.messages) == 1
    monkeypatch.setenv("SMTP_PASSWORD", "wrong")
    with pytest.raises(DeliveryError) as caught:
        send(config, ALERT, timeout=5)
    assert str(caught.value) == "SMTP 535"
    assert "wrong" not in str(caught.value)


def test_an_error_status_is_a_delivery_error_without_the_url(receiver):
    receiver.statuses = [500]
    secret_url = receiver.url + "/T000/B000/XXXXtoken"
    with pytest.raises(DeliveryError) as caught:
        send(SlackTarget(kind="slack", url=secret_url), ALERT, timeout=5)
    assert str(caught.value) == "HTTP 500"


def test_a_target_that_hangs_costs_one_timeout(receiver):
    receiver.delay = 5
    started = time.monotonic()
    with pytest.raises(DeliveryError, match="timed out"):
        send(WebhookTarget(kind="webhook", url=receiver.url), ALERT, timeout=0.5)
    assert time.monotonic() - started < 4


def test_nothing_listening_is_a_delivery_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DeliveryError, match="not reachable"):
        send(WebhookTarget(kind="webhook", url=f"http://127.0.0.1:{port}/"), ALERT, timeout=2)
    config = EmailTarget(kind="email", host="127.0.0.1", port=port, sender="a@b", to=["c@d"], security="none")
    with pytest.raises(DeliveryError, match="SMTP"):
        send(config, ALERT, timeout=2)


def test_an_unset_secret_reference_is_a_delivery_error_naming_it():
    config = SlackTarget(kind="slack", url="${NOT_SET_ANYWHERE}")
    with pytest.raises(DeliveryError, match="NOT_SET_ANYWHERE is not set"):
        send(config, ALERT, timeout=1)


def test_sign_is_hmac_sha256_of_the_raw_body():
    import hashlib
    import hmac

    assert sign(b"{}", "k") == "sha256=" + hmac.new(b"k", b"{}", hashlib.sha256).hexdigest()


def test_targets_come_from_the_settings_as_json(monkeypatch):
    monkeypatch.setenv(
        "HARVESTER_ALERT_TARGETS",
        '{"ops": {"kind": "webhook", "url": "https://example.org/h", "secret": "abc"},'
        ' "mail": {"kind": "email", "host": "smtp.example.org", "sender": "h@example.org", "to": ["o@example.org"],'
        ' "password": "pw"}}',
    )
    settings = Settings()
    assert set(settings.alert_targets) == {"ops", "mail"}
    assert "abc" not in repr(settings)
    assert "pw" not in repr(settings)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"kind": "webhook", "url": "ftp://x"}, "http:// or https://"),
        ({"kind": "pager", "url": "https://x"}, "does not match any of the expected tags"),
        ({"kind": "email", "host": "h", "sender": "a@b", "to": []}, "at least 1 item"),
        ({"kind": "slack", "url": "https://x", "channel": "#x"}, "Extra inputs are not permitted"),
    ],
)
def test_a_bad_target_names_the_field(value, message):
    with pytest.raises(ValidationError, match=message):
        TypeAdapter(TargetConfig).validate_python(value)


def test_a_bad_target_name_is_refused():
    with pytest.raises(ValidationError, match="bad alert target name"):
        Settings(alert_targets={"has space": {"kind": "slack", "url": "https://x"}})
