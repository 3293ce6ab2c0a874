"""Alembic environment: the engine comes from storage.engine, never from a URL in a file."""

from alembic import context
from sqlmodel import SQLModel

import storage.tables  # noqa: F401  (registers the tables on SQLModel.metadata)

engine = context.config.attributes["engine"]

with engine.connect() as connection:
    if engine.dialect.name == "postgresql":
        # Several replicas may start at once: only one runs the migrations at a time.  The lock
        # belongs to the transaction the migrations run in and ends with its commit (unlocked
        # before the commit, the next replica could miss the new tables and create them again).
        connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7242024)")
    context.configure(connection=connection, target_metadata=SQLModel.metadata,
                      render_as_batch=engine.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()
    if engine.dialect.name == "postgresql":
        connection.commit()  # (begin_transaction() above joined the lock's transaction)
