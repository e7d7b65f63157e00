"""The web dashboard: server-rendered pages over the run history (Jinja2, a little plain JS).

``mount(app, hv)`` adds it to the API's FastAPI app: collectors at ``/``, runs at ``/runs``, a run at
``/runs/{run_id}``; the trigger buttons post to the API's trigger route.
"""

from harvester.dashboard.routes import mount, router

__all__ = ["mount", "router"]
