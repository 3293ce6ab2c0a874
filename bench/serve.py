"""`latchkey serve` as a real process, as an operator runs it: env vars in, HTTP out."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
OKTA_TOKEN = "okta-bench-token"
SIGNING_SECRET = "bench-signing-secret"
BOT_TOKEN = "xoxb-bench-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def config_text(okta_url: str, owners: list[str], page_size: int = 1000,
                sync_interval: str | None = None) -> str:
    """Latchkey's defaults but for the owners and the page size (and `sync_interval`, if given)."""
    every = f"\n    sync_interval: {sync_interval}" if sync_interval else ""
    return f"""
connectors:
  okta:
    type: okta
    domain: {okta_url}
    token: ${{OKTA_API_TOKEN}}
    owners: [{", ".join(owners)}]
    page_size: {page_size}{every}
policy:
  durations: [1h, 4h]
  max_duration: 8h
  approvals: 1
  max_requests_per_hour: 10000
"""


class Serve:
    """One `latchkey serve` process; its log goes to `<workdir>/serve-<port>.log`."""

    def __init__(self, workdir: Path, slack_url: str, database_url: str, config: str,
                 **env: str) -> None:
        self.port = free_port()
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "latchkey.yaml").write_text(config)
        self.log_path = workdir / f"serve-{self.port}.log"
        self.env = {**os.environ, "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                    "SLACK_API_URL": slack_url + "/api/", "DATABASE_URL": database_url,
                    "LATCHKEY_CONFIG": str(workdir / "latchkey.yaml"), "OKTA_API_TOKEN": OKTA_TOKEN,
                    "LATCHKEY_LOG_LEVEL": "WARNING", **env}
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Serve:
        self._log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT)
        self._profiler = None
        if os.environ.get("BENCH_PROFILE"):  # a py-spy flame graph of this process, for digging
            out = self.log_path.with_suffix(".pyspy.txt")
            self._profiler = subprocess.Popen(
                [str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(self.process.pid), "--format", "raw",
                 "--rate", "200", "--gil", "--nonblocking", "--output", str(out)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return self

    def wait_ready(self, timeout: float = 60) -> float:
        """Seconds until /readyz answered 200."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.process.poll() is not None:
                raise RuntimeError(f"latchkey serve exited {self.process.returncode}; see {self.log_path}")
            try:
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    return time.monotonic() - started
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"latchkey serve not ready within {timeout} s; see {self.log_path}")

    def status(self, field: str) -> int:
        """A /proc/<pid>/status figure in kB (VmRSS now, VmHWM peak)."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        raise KeyError(field)

    def cpu_seconds(self) -> float:
        """User + system CPU time the process has used so far."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_mb(self) -> float:
        return self.status("VmRSS") / 1024

    def peak_rss_mb(self) -> float:
        return self.status("VmHWM") / 1024

    def stop(self, timeout: float = 20) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                logging.getLogger("bench").warning("latchkey serve did not stop within %.0f s; killed "
                                                   "(its threads are in %s)", timeout, self.log_path)
                self._dump_threads()
                self.process.kill()
                self.process.wait()
        if self.process:
            self._log.close()
        if getattr(self, "_profiler", None):
            self._profiler.wait(30)

    def _dump_threads(self) -> None:
        """Where each thread is (py-spy dump), appended to the log, when py-spy is installed."""
        py_spy = Path(sys.executable).parent / "py-spy"
        if py_spy.exists():
            with self.log_path.open("a") as log:
                subprocess.run([str(py_spy), "dump", "--pid", str(self.process.pid)], stdout=log,
                               stderr=subprocess.STDOUT, timeout=30)

    def errors(self) -> list[str]:
        """ERROR lines and tracebacks in its log."""
        lines = self.log_path.read_text(errors="replace").splitlines()
        return [line for line in lines if " ERROR " in line or line.startswith("Traceback")]
