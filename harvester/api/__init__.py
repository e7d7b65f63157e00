"""The HTTP API (FastAPI): trigger and follow runs, history, collectors, ``/health``, ``/metrics``."""

from harvester.api.app import create_app

__all__ = ["create_app"]
