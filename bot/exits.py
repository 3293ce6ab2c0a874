"""The exit statuses of every `latchkey` command: one convention for scripts and init containers."""

from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    OK = 0
    FAILED = 1  # the command ran and failed: a check found a problem, a sync or a write failed
    USAGE = 2  # bad usage or configuration, so nothing was tried (click's usage errors are 2 too)
