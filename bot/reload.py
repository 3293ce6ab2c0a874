"""Notices when the YAML config file changes and hands the new, validated config over.

The file is polled by the hash of its content, not by its modification time: two edits within
the file system's timestamp resolution keep the same mtime, and a Kubernetes ConfigMap volume
does not rewrite the file at all.  Kubernetes writes the new content into a fresh timestamped
directory and then atomically swaps the `..data` symlink to point at it; `latchkey.yaml` is
itself a symlink through `..data`, so its mtime (and, read through the link, often its inode
timestamps) says nothing reliable about the swap, while its content always does.

A file that does not validate is reported once (`on_rejected`) and otherwise ignored: the
running config stays in force and the same bad content is not tried again until the file
changes once more.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

from bot.config import Config, ConfigError, parse_config

log = logging.getLogger(__name__)

class ConfigWatcher:
    """Re-reads `path` when its content changed since the last check (the first baseline is
    the content at construction, i.e. what the process started with)."""

    def __init__(self, path: Path, apply: Callable[[Config], None],
                 on_rejected: Callable[[str], None], env: Mapping[str, str] | None = None) -> None:
        self.path = Path(path)
        self._apply = apply
        self._on_rejected = on_rejected
        self._env = env
        self._lock = threading.Lock()  # the scheduler and an operator-triggered check may overlap
        self._seen, _ = self._read()

    def check(self) -> bool:
        """Apply the file if it changed and validates; True when a new config was applied."""
        with self._lock:
            digest, text = self._read()
            if digest == self._seen:
                return False
            env = os.environ if self._env is None else self._env
            try:
                if text is None:
                    raise ConfigError(f"cannot read config file {self.path}: {digest.partition(':')[2]}")
                config = parse_config(text, str(self.path), env)
            except ConfigError as exc:
                self._seen = digest  # reported once; tried again when the file changes
                self._reject(str(exc))  # parse_config masks any secret it would quote
                return False
            try:
                self._apply(config)
            except Exception:  # not the file's fault (e.g. the database is down): try it again
                log.exception("applying the changed config file %s failed; trying again at the "
                              "next check", self.path)
                return False
            self._seen = digest
            return True

    def _reject(self, message: str) -> None:
        try:
            self._on_rejected(message)
        except Exception:  # e.g. the audit log cannot be written: the file stays refused anyway
            log.exception("reporting a rejected config file failed: %s", message)

    def _read(self) -> tuple[str, str | None]:
        """(digest, text); an unreadable file gets a digest of its own, and no text."""
        try:
            data = self.path.read_bytes()
        except OSError as exc:
            return f"unreadable:{exc.strerror}", None
        try:
            text = data.decode()
        except UnicodeDecodeError:
            text = data.decode(errors="replace")  # parse_config then names what is wrong
        return hashlib.sha256(data).hexdigest(), text
