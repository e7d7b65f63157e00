"""Alert targets as settings: where alerts go, one named entry per target.

``HARVESTER_ALERT_TARGETS`` holds them as JSON (an object of name -> target), for example::

    {"ops": {"kind": "webhook", "url": "https://example.org/hooks/harvester", "secret": "${HOOK_SECRET}"},
     "chat": {"kind": "slack", "url": "${SLACK_WEBHOOK_URL}"},
     "mail": {"kind": "email", "host": "smtp.example.org", "sender": "harvester@example.org",
              "to": ["oncall@example.org"], "username": "harvester", "password": "${SMTP_PASSWORD}"}}

Every secret (a webhook's signing secret, a Slack URL, which holds its token, an SMTP password) is a
``SecretStr``: never printed, never logged. Each may be a secret reference (``${ENV_NAME}`` or
``${file:/path}``, see :mod:`harvester.secret_refs`), resolved when the alert is sent.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

#: A target's name, as the schedule file's ``alerts:`` key names it.
TARGET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")


class _Target(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _http_url(value: str) -> str:
    if not value.startswith(("http://", "https://", "${")):
        raise ValueError("expected an http:// or https:// URL (or a ${ENV_NAME} reference)")
    return value


class WebhookTarget(_Target):
    """A generic webhook: the alert as JSON, POSTed, signed with HMAC-SHA256 when ``secret`` is set."""

    kind: Literal["webhook"]
    url: str = Field(description="Where the JSON is POSTed.")
    secret: SecretStr | None = Field(None, description="Shared secret of the X-Harvester-Signature header.")

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        return _http_url(value)


class SlackTarget(_Target):
    """A Slack-compatible incoming webhook (Slack, Mattermost, Rocket.Chat): ``{"text": ...}`` POSTed."""

    kind: Literal["slack"]
    url: SecretStr = Field(description="The incoming webhook URL (it holds the token: a secret).")


class EmailTarget(_Target):
    """Email over SMTP: one message per alert to every address of ``to``."""

    kind: Literal["email"]
    host: str = Field(description="SMTP server.")
    port: int = Field(587, ge=1, le=65535, description="SMTP port (587 submission, 465 TLS, 25 plain).")
    sender: str = Field(description="From: address.")
    to: list[str] = Field(min_length=1, description="Recipients.")
    username: str | None = Field(None, description="SMTP login (none: no login).")
    password: SecretStr | None = Field(None, description="SMTP password.")
    security: Literal["starttls", "tls", "none"] = Field(
        "starttls", description="starttls (upgrade a plain connection), tls (port 465) or none (a local relay)."
    )


#: One target, told apart by ``kind``.
TargetConfig = Annotated[WebhookTarget | SlackTarget | EmailTarget, Field(discriminator="kind")]


def check_target_names(targets: dict[str, object]) -> None:
    """Raise ``ValueError`` naming the first target name the schedule file could not name."""
    for name in targets:
        if not TARGET_NAME.fullmatch(name):
            raise ValueError(f"bad alert target name {name!r}: letters, digits, _ . - (at most 100)")
