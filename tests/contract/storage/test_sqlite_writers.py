"""SQLite writers in one process queue on a lock that is handed over the moment one ends."""

from __future__ import annotations

import threading

from sqlalchemy import text

from storage.engine import make_engine


def test_concurrent_writers_all_commit_and_a_rollback_frees_the_lock(tmp_path):
    """Given 8 threads each writing 25 times, every other write failing and rolling back, then
    every successful write is stored and the lock is free afterwards (bench/ measures the speed)."""
    engine = make_engine(f"sqlite:///{tmp_path}/writers.db")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (n INTEGER PRIMARY KEY)"))

    def writer(offset: int) -> None:
        for i in range(25):
            try:
                with engine.begin() as conn:
                    conn.execute(text("INSERT INTO t VALUES (:n)"), {"n": offset * 100 + i})
                    if i % 2:
                        raise RuntimeError("changed my mind")
            except RuntimeError:
                pass

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert not any(thread.is_alive() for thread in threads), "a writer never got the lock"
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 8 * 13
    with engine.begin() as conn:  # the lock is free again
        conn.execute(text("INSERT INTO t VALUES (-1)"))
    engine.dispose()
