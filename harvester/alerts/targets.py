"""Sending one alert to one target: a signed webhook, a Slack-compatible webhook, or email.

A send either returns (delivered) or raises :class:`DeliveryError` with a message safe to record
and show: an HTTP status or a network error's kind, never a URL (a Slack URL holds its token) nor a
secret. Every send is bounded by ``timeout`` seconds, so a hanging target costs one timeout.

The webhook's signature: ``X-Harvester-Signature: sha256=<hex>``, the HMAC-SHA256 of the raw
request body with the target's ``secret`` as key; :func:`verify` is how a receiver checks it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import socket
import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping
from email.message import EmailMessage
from typing import Any, Protocol

from pydantic import SecretStr

from harvester.alerts.config import EmailTarget, SlackTarget, TargetConfig, WebhookTarget
from harvester.alerts.message import body, text, title
from harvester.errors import ConfigError
from harvester.secret_refs import is_reference, resolve

SIGNATURE_HEADER = "X-Harvester-Signature"
EVENT_HEADER = "X-Harvester-Event"
DELIVERY_HEADER = "X-Harvester-Delivery"
USER_AGENT = "harvester-alerts/1"


class DeliveryError(Exception):
    """The target did not take the alert; the message is safe to record (no URL, no secret)."""


class Sender(Protocol):
    def send(self, alert: Mapping[str, Any]) -> None:
        """Deliver ``alert`` or raise :class:`DeliveryError`."""


def sign(raw: bytes, secret: str) -> str:
    """The ``X-Harvester-Signature`` value of ``raw`` (the request body as sent)."""
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def verify(raw: bytes, secret: str, header: str | None) -> bool:
    """True when ``header`` is the signature of ``raw`` under ``secret`` (constant-time compare)."""
    return header is not None and hmac.compare_digest(sign(raw, secret), header)


def _secret(value: SecretStr | None) -> str | None:
    """The secret's value, a ``${ENV}`` / ``${file:...}`` reference resolved now."""
    if value is None:
        return None
    raw = value.get_secret_value()
    return resolve(raw) if is_reference(raw) else raw


def _post(url: str, data: bytes, headers: Mapping[str, str], timeout: float) -> None:
    if not url.startswith(("http://", "https://")):
        raise DeliveryError("not an http:// or https:// URL")
    headers = {"User-Agent": USER_AGENT, **headers}
    request = urllib.request.Request(url, data=data, method="POST", headers=headers)  # noqa: S310 (checked above)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            response.read(1024)
    except urllib.error.HTTPError as exc:
        raise DeliveryError(f"HTTP {exc.code}") from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        kind = "timed out" if isinstance(reason, TimeoutError | socket.timeout) else type(reason).__name__
        raise DeliveryError(f"not reachable: {kind}") from None
    except (TimeoutError, OSError) as exc:
        raise DeliveryError(
            f"not reachable: {'timed out' if isinstance(exc, TimeoutError) else type(exc).__name__}"
        ) from None


class WebhookSender:
    def __init__(self, config: WebhookTarget, timeout: float) -> None:
        self.config, self.timeout = config, timeout

    def send(self, alert: Mapping[str, Any]) -> None:
        raw = body(alert)
        headers = {
            "Content-Type": "application/json",
            EVENT_HEADER: str(alert.get("event")),
            DELIVERY_HEADER: str(alert.get("id")),
        }
        secret = _secret(self.config.secret)
        if secret is not None:
            headers[SIGNATURE_HEADER] = sign(raw, secret)
        url = resolve(self.config.url) if is_reference(self.config.url) else self.config.url
        _post(url, raw, headers, self.timeout)


class SlackSender:
    def __init__(self, config: SlackTarget, timeout: float) -> None:
        self.config, self.timeout = config, timeout

    def send(self, alert: Mapping[str, Any]) -> None:
        message = {"text": text(alert)}
        url = _secret(self.config.url) or ""
        _post(url, json.dumps(message).encode(), {"Content-Type": "application/json"}, self.timeout)


class EmailSender:
    def __init__(self, config: EmailTarget, timeout: float) -> None:
        self.config, self.timeout = config, timeout

    def message(self, alert: Mapping[str, Any]) -> EmailMessage:
        message = EmailMessage()
        message["Subject"] = title(alert)
        message["From"] = self.config.sender
        message["To"] = ", ".join(self.config.to)
        message["X-Harvester-Event"] = str(alert.get("event"))
        message["X-Harvester-Delivery"] = str(alert.get("id"))
        message.set_content(text(alert))
        return message

    def send(self, alert: Mapping[str, Any]) -> None:
        c = self.config
        try:
            smtp: smtplib.SMTP
            if c.security == "tls":
                smtp = smtplib.SMTP_SSL(c.host, c.port, timeout=self.timeout, context=ssl.create_default_context())
            else:
                smtp = smtplib.SMTP(c.host, c.port, timeout=self.timeout)
            with smtp:
                if c.security == "starttls":
                    smtp.starttls(context=ssl.create_default_context())
                if c.username:
                    smtp.login(c.username, _secret(c.password) or "")
                smtp.send_message(self.message(alert))
        except smtplib.SMTPResponseException as exc:
            raise DeliveryError(f"SMTP {exc.smtp_code}") from None
        except (smtplib.SMTPException, OSError) as exc:
            kind = "timed out" if isinstance(exc, TimeoutError) else type(exc).__name__
            raise DeliveryError(f"SMTP: {kind}") from None


def sender(config: TargetConfig, timeout: float) -> Sender:
    """The sender of one configured target."""
    if isinstance(config, WebhookTarget):
        return WebhookSender(config, timeout)
    if isinstance(config, SlackTarget):
        return SlackSender(config, timeout)
    return EmailSender(config, timeout)


def send(config: TargetConfig, alert: Mapping[str, Any], timeout: float) -> None:
    """Send ``alert`` to ``config``'s target; an unresolvable secret reference is a DeliveryError too."""
    try:
        sender(config, timeout).send(alert)
    except ConfigError as exc:
        raise DeliveryError(str(exc)) from None
