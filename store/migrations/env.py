"""Alembic environment: the engine comes from PLI Pulse's own configuration, never from an ini file."""

from alembic import context

from store.schema import metadata

engine = context.config.attributes["engine"]

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite needs batch mode for ALTERs
        compare_type=True,
    )
    context.run_migrations()
