"""The store's schema is created only by migrations, identically on SQLite and PostgreSQL."""

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from store.db import current_revision, downgrade, head_revision, make_engine, upgrade
from store.schema import metadata


def test_migrations_take_an_empty_database_to_head(database_url):
    engine = make_engine(database_url)
    assert current_revision(engine) is None
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    assert set(metadata.tables) <= set(inspect(engine).get_table_names())


def test_migrated_schema_matches_the_code_schema_exactly(store_engine):
    with store_engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    assert diff == []


def test_upgrade_is_idempotent_and_downgrade_empties_the_store(database_url):
    engine = make_engine(database_url)
    upgrade(engine)
    upgrade(engine)
    downgrade(engine, "base")
    assert current_revision(engine) is None
    assert not set(metadata.tables) & set(inspect(engine).get_table_names())
