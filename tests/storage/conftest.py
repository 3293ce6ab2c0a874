"""An empty, migrated database per test: SQLite always, PostgreSQL when the server is there."""

from __future__ import annotations

import os
import secrets

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from storage.engine import make_engine, upgrade

POSTGRES_URL = os.environ.get("LATCHKEY_TEST_POSTGRES_URL",
                              "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def _postgres_database():
    """Create a throw-away database; skip (saying why) when no server answers."""
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    name = f"latchkey_test_{secrets.token_hex(4)}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        admin.dispose()
        pytest.skip(f"PostgreSQL not reachable at {make_url(POSTGRES_URL).render_as_string()}: "
                    f"{type(exc).__name__} (start it, or set LATCHKEY_TEST_POSTGRES_URL)")
    return admin, name


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path):
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path}/test.db")
        upgrade(engine)
        yield engine
        engine.dispose()
        return
    admin, name = _postgres_database()
    engine = make_engine(make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False))
    upgrade(engine)
    yield engine
    engine.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()
