"""A test-only launcher for the chaos test: `latchkey serve` with a clock the test can move.

    python -m tests.resilience.launcher          (a "zygote": imports Latchkey once, then forks bots)

Starting a Python process that imports slack-bolt, SQLAlchemy and Alembic takes about a second;
the chaos test starts a hundred bots.  So this process imports everything once and then, for
every JSON line on stdin, forks a bot and answers with the bot's pid on stdout:

    {"env": {...latchkey serve's environment...}, "url_file": "...", "clock_file": "...",
     "crash_file": "..." | null}

Each bot is what `latchkey serve` runs (bot.service.Service behind bot.server.BackgroundServer)
with two differences:

- its clock is real time plus the number of seconds written in `clock_file` (re-read on every
  `now()`), so the test can jump past an expiry or a lease without waiting;
- when `crash_file` is given and holds "before N" or "after N", the bot SIGKILLs itself right
  before or right after the N-th database commit that changed rows, counted from the moment
  the file appeared (so a crash can land between any two writes); the count
  so far is kept in `crash_file`.count.

It writes its URL to `url_file` once it serves.  The test kills bots with SIGKILL at will; the
zygote ignores SIGCHLD so they are reaped at once, and kills them all when its stdin closes.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

# Imported before any fork, so every bot starts warm.
from bot.config import load_config, load_settings
from bot.server import BackgroundServer
from bot.service import Service


class FileClock:
    """Real time plus an offset in seconds read from a file the test rewrites atomically."""

    def __init__(self, path: str) -> None:
        self._path = Path(path)
        self._offset = 0.0

    def now(self) -> datetime:
        try:
            self._offset = float(self._path.read_text() or 0)
        except (OSError, ValueError):
            pass  # keep the last offset read
        return datetime.now(UTC) + timedelta(seconds=self._offset)


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _crash_at_a_commit(engine, crash_file: str) -> None:
    """SIGKILL this process before/after the N-th commit counted once `crash_file` exists.

    Only commits of transactions that changed rows count (SQLite's `total_changes`), so idle
    polls (the outbox dispatcher's, say) do not dilute where the crashes land.
    """
    plan_path, count_path, seen = Path(crash_file), Path(crash_file + ".count"), [0]
    dialect, changes_at_begin = engine.dialect, {}
    counting = threading.Lock()  # workers, the outbox and the scheduler commit concurrently
    original_begin, original_commit = dialect.do_begin, dialect.do_commit

    def plan() -> tuple[str, int] | None:
        try:
            when, n = plan_path.read_text().split()
            return when, int(n)
        except (OSError, ValueError):
            return None

    def do_begin(dbapi_connection):
        changes_at_begin[id(dbapi_connection)] = dbapi_connection.total_changes
        original_begin(dbapi_connection)

    def do_commit(dbapi_connection):
        before = changes_at_begin.get(id(dbapi_connection))
        wrote = before is None or dbapi_connection.total_changes != before
        armed = plan() if wrote else None
        if not armed:
            original_commit(dbapi_connection)
            return
        # One commit at a time while armed, so that "the N-th commit" is well defined and the
        # count file is written by one thread at a time.
        with counting:
            seen[0] += 1
            if armed == ("before", seen[0]):
                _die()
            original_commit(dbapi_connection)
            count_path.with_suffix(".tmp").write_text(str(seen[0]))  # for the test to calibrate
            os.replace(count_path.with_suffix(".tmp"), count_path)
            if armed == ("after", seen[0]):
                _die()

    dialect.do_begin, dialect.do_commit = do_begin, do_commit


def _run_bot(spec: dict) -> None:
    """In the forked child: build and serve one bot, then wait to be killed."""
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)  # stdout is the zygote's answer pipe
    zygote = os.getppid()
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    os.environ.update(spec["env"])
    import logging

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format=f"bot {os.getpid()} %(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = load_settings()
    service = Service(settings, load_config(settings.latchkey_config), FileClock(spec["clock_file"]))
    if spec.get("crash_file"):
        _crash_at_a_commit(service.engine, spec["crash_file"])
    service.start()
    server = BackgroundServer(service).start()
    url_file = Path(spec["url_file"])
    url_file.with_suffix(".tmp").write_text(server.url)
    os.replace(url_file.with_suffix(".tmp"), url_file)
    while os.getppid() == zygote:  # the zygote went away: so do we
        time.sleep(0.2)
    os._exit(0)


def _warm_up() -> None:
    """Build (but never start) a throw-away bot and migrate a scratch database, so that the
    lazy imports and caches of a first start are paid once here rather than in every bot."""
    import tempfile

    from bot.config import Settings, parse_config
    from storage.engine import upgrade

    with tempfile.TemporaryDirectory() as scratch:
        config = parse_config("""
connectors:
  okta: {type: okta, domain: "http://127.0.0.1:9", token: x, owners: [U0WARM]}
policy: {durations: [1h], max_duration: 1h}
""")
        settings = Settings(slack_bot_token="xoxb-warm", slack_signing_secret="warm",
                            database_url=f"sqlite:///{scratch}/warm.db")
        service = Service(settings, config, FileClock(f"{scratch}/clock"))
        upgrade(service.engine)
        service.engine.dispose()
    assert threading.active_count() == 1, "warming up must not start threads (we fork next)"


def main() -> None:
    _warm_up()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    children: list[int] = []
    print("ready", flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        spec = json.loads(line)
        pid = os.fork()
        if pid == 0:
            try:
                _run_bot(spec)
            except BaseException:  # whatever it was, show it and go
                import traceback

                traceback.print_exc()
            os._exit(1)
        children.append(pid)
        print(pid, flush=True)
    for pid in children:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


if __name__ == "__main__":
    assert threading.active_count() == 1, "the zygote must not run threads before it forks"
    main()
