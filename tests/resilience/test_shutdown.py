"""`latchkey serve` stops promptly on SIGTERM, even with clients' keep-alive connections open.

Slack, a load balancer or (in the replica test) a pooled HTTP client keeps connections to the
bot open between requests.  A replica being rolled must still exit on SIGTERM within seconds:
otherwise Kubernetes waits out the grace period and SIGKILLs it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.support.cli import LATCHKEY, serve_env
from tests.support.config import config_text
from tests.support.harness import eventually, free_port


def test_sigterm_stops_serve_with_keep_alive_connections_open(tmp_path, slack, okta):
    """Given `latchkey serve` answering 48 clients that keep their connections open, when it
    gets SIGTERM, then it exits (status 0) within 5 seconds; twice in a row."""
    env = {**os.environ, **serve_env(tmp_path, slack.url, config_text(okta.url))}
    for _ in range(2):  # the hang depended on timing: it showed 3 times out of 4
        port = free_port()
        process = subprocess.Popen(LATCHKEY + ["serve", "--host", "127.0.0.1", "--port", str(port)],
                                   env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        base = f"http://127.0.0.1:{port}"

        def ready():
            try:
                return httpx.get(base + "/readyz").status_code == 200
            except httpx.TransportError:
                return process.poll() is not None

        with httpx.Client(limits=httpx.Limits(max_connections=100)) as clients:
            try:
                eventually(ready, timeout=30)
                with ThreadPoolExecutor(48) as pool:
                    answers = set(pool.map(lambda _: clients.get(base + "/healthz").status_code,
                                           range(200)))
                assert answers == {200}
                started = time.monotonic()
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=5)
                assert time.monotonic() - started < 5
            finally:
                if process.poll() is None:
                    process.kill()
                    process.wait()
        assert process.returncode == 0, process.stderr.read()
