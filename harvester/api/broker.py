"""Broker connections for probes (/health, queue depth) that give up instead of waiting."""

from __future__ import annotations

from typing import Any

from harvester.app import Harvester


def probe_connection(hv: Harvester, timeout: float) -> Any:
    """A kombu connection whose connect and socket reads time out after ``timeout`` seconds, so a
    probe's thread ends soon after the probe gave up on it. Connected, without retries."""
    connection = hv.celery.connection_for_write(
        connect_timeout=timeout, transport_options={"socket_timeout": timeout, "socket_connect_timeout": timeout}
    )
    try:
        connection.ensure_connection(max_retries=0)
    except BaseException:
        connection.release()
        raise
    return connection
