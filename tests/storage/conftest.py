"""Throw-away PostgreSQL databases for tests (the `engine` fixture in tests/conftest.py uses them)."""

from __future__ import annotations

import os
import secrets

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

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
