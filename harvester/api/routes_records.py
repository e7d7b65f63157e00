"""``GET /api/v1/records``: what a collector emitted, last changed first, in keyset pages."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query

from harvester.api.models import ErrorBody, RecordsPage
from harvester.app import Harvester
from harvester.history.engine import aware
from harvester.history.queries import CursorError, page_records


def router(hv: Harvester) -> APIRouter:
    api = APIRouter(prefix="/api/v1/records", tags=["records"])

    @api.get(
        "",
        response_model=RecordsPage,
        responses={
            404: {"model": ErrorBody, "description": "No such collector."},
            422: {"description": "A filter or the cursor is invalid."},
        },
        summary="A collector's records, last changed first",
    )
    def list_records(
        collector: Annotated[str, Query(max_length=200, description="The collector whose records to list.")],
        key: Annotated[
            str | None, Query(max_length=512, description="Only records whose key starts with this.")
        ] = None,
        cursor: Annotated[str | None, Query(max_length=200, description="next_cursor of the previous page.")] = None,
        limit: Annotated[int, Query(ge=1, le=500, description="Records per page.")] = 50,
    ) -> Any:
        if collector not in hv.registry:
            raise HTTPException(404, f"unknown collector {collector[:200]!r}")
        try:
            page = page_records(hv.store, collector, key=key, cursor=cursor, limit=limit)
        except CursorError as exc:
            raise HTTPException(422, [{"loc": ["query", "cursor"], "msg": str(exc), "type": "cursor"}]) from None
        return {"items": [record_out(r) for r in page.rows], "next_cursor": page.next_cursor}

    return api


def record_out(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "key": row["key"],
        "payload": row["payload"],
        "first_seen": aware(row["first_seen"]),
        "last_seen": aware(row["last_seen"]),
        "run_id": row["run_id"],
    }
