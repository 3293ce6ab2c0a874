"""Alembic environment: the engine comes from storage.engine, never from a URL in a file."""

from alembic import context
from sqlmodel import SQLModel

import storage.tables  # noqa: F401  (registers the tables on SQLModel.metadata)

engine = context.config.attributes["engine"]

with engine.connect() as connection:
    if engine.dialect.name == "postgresql":
        # Several replicas may start at once: only one runs the migrations at a time.
        connection.exec_driver_sql("SELECT pg_advisory_lock(7242024)")
    context.configure(connection=connection, target_metadata=SQLModel.metadata,
                      render_as_batch=engine.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()
    if engine.dialect.name == "postgresql":
        connection.exec_driver_sql("SELECT pg_advisory_unlock(7242024)")
        connection.commit()
