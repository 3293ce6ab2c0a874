"""Running the `latchkey` command as a separate process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.harness import BOT_TOKEN, OKTA_TOKEN, SIGNING_SECRET

LATCHKEY = [sys.executable, "-m", "bot.cli"]


def run(args, env=None, timeout=60):
    """`latchkey ARGS` to completion, with `env` over this process's environment."""
    return subprocess.run(LATCHKEY + args, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def serve_env(tmp_path: Path, slack_url: str, config: str) -> dict:
    """The environment `latchkey serve` needs, with `config` written as its YAML file."""
    (tmp_path / "latchkey.yaml").write_text(config)
    return {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": slack_url + "/api/", "DATABASE_URL": f"sqlite:///{tmp_path}/l.db",
            "LATCHKEY_CONFIG": str(tmp_path / "latchkey.yaml"), "OKTA_API_TOKEN": OKTA_TOKEN}


