"""storage/engine.py: which driver a DATABASE_URL gets."""

from __future__ import annotations

import pytest

from storage.engine import make_engine


@pytest.mark.parametrize("url", ["postgresql://latchkey:pw@db.internal/latchkey",
                                 "postgres://latchkey:pw@db.internal/latchkey",
                                 "postgresql+psycopg://latchkey:pw@db.internal/latchkey"])
def test_a_postgresql_url_uses_psycopg_the_driver_latchkey_installs(url):
    """Providers hand out `postgres://…`, which SQLAlchemy alone does not know."""
    engine = make_engine(url)
    assert engine.dialect.driver == "psycopg" and engine.url.database == "latchkey"
    engine.dispose()
