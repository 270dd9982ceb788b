"""Alembic environment: run with the connection the gateway hands over (see `gateway.storage.migrate`)."""

from alembic import context
from sqlalchemy import Connection

from gateway.storage import (  # noqa: F401  (their tables join `metadata` on import)
    clinical_tables,
    reference_tables,
    reliability_tables,
    rollup_tables,
    site_tables,
)
from gateway.storage.tables import metadata

config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table_schema=config.attributes.get("schema"),
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "run migrations through gateway.storage.migrate.migrate(engine, schema), which passes the connection"
    )
_run(connection)
