"""Engine set-up (SQLite by default, PostgreSQL for several replicas) and schema migrations."""

from __future__ import annotations

import threading
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import URL, make_url

MIGRATIONS = Path(__file__).parent / "migrations"
# Execution option marking a transaction that only reads (see `Repository._reading`).
READ_ONLY = "latchkey_read_only"


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        return _sqlite_engine(url)
    return create_engine(_with_psycopg(make_url(url)), pool_pre_ping=True, pool_size=10, max_overflow=10)


def _with_psycopg(url: URL) -> URL:
    """A PostgreSQL URL without a driver (`postgresql://`, or `postgres://` as many providers
    write it) means psycopg, the driver Latchkey installs: SQLAlchemy knows no `postgres://`,
    and before 2.1 it took `postgresql://` to mean psycopg2."""
    if url.drivername in ("postgresql", "postgres"):
        return url.set(drivername="postgresql+psycopg")
    return url


def _sqlite_engine(url: str) -> Engine:
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
    # SQLite has one writer at a time, and a writer that finds the lock taken sleeps in steps
    # of up to 100 ms before it tries again: under load those sleeps, not the writes, made
    # Slack wait (bench/).  Within this process writers queue on a lock instead, which hands
    # over the moment the last one commits; other processes still meet SQLite's busy wait.
    writer = threading.RLock()

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn, _record):
        # Let SQLAlchemy, not the driver, open transactions, so every write transaction can
        # start with BEGIN IMMEDIATE: writers queue on the lock instead of failing mid-way.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn):
        # A reader needs no lock in WAL mode (it reads a snapshot), so it must not queue behind
        # writers for one: under load that queue, not the queries, made Slack wait (bench/).
        if conn.get_execution_options().get(READ_ONLY):
            conn.exec_driver_sql("BEGIN")
            return
        writer.acquire()
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            writer.release()
            raise
        holders.add(id(conn.connection))  # the pooled connection do_commit will be given

    # Handed over once SQLite has really committed (or rolled back): SQLAlchemy's own commit
    # event comes just before, when the database lock is still held.
    holders: set[int] = set()
    dialect = engine.dialect
    dialect.do_commit = _then_release(dialect.do_commit, holders, writer)
    dialect.do_rollback = _then_release(dialect.do_rollback, holders, writer)
    return engine


def _then_release(end_transaction, holders: set[int], writer):
    def ended(dbapi_connection) -> None:
        try:
            end_transaction(dbapi_connection)
        finally:
            if id(dbapi_connection) in holders:
                holders.discard(id(dbapi_connection))
                writer.release()
    return ended


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision` (idempotent; safe for several replicas on PostgreSQL)."""
    command.upgrade(alembic_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
