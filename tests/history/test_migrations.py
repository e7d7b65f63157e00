"""The migrations build exactly the tables the code declares (so a model change needs a migration)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from harvester.history.models import metadata
from harvester.history.store import Store


def test_migrated_schema_matches_the_models(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'h.db'}")
    store.upgrade()
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    store.close()
    assert diff == []
