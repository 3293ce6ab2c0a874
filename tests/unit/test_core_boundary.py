"""The core talks to storage, Slack and HTTP only through the ports; storage knows only the
core's domain objects."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import bot
import storage

FORBIDDEN = ("storage", "sqlalchemy", "sqlmodel", "slack_sdk", "slack_bolt", "httpx", "bot.slack")
BOT = Path(bot.__file__).parent
# The request state machine, its rules, the use cases and what they are written against.
CORE = ("domain", "usecases", "invariants.py", "intake.py", "slots.py", "routing.py", "approvers.py",
        "ports.py")


def _imported(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    return {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names} | {
        node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}


def _modules(part: str) -> list[Path]:
    path = BOT / part
    return sorted(path.rglob("*.py")) if path.is_dir() else [path]


def _under(name: str, roots: tuple[str, ...]) -> bool:
    return any(name == root or name.startswith(root + ".") for root in roots)


@pytest.mark.parametrize("part", CORE)
def test_no_part_of_the_core_imports_storage_slack_or_http(part):
    """Given every module of the core, then none imports storage, SQL, Slack or HTTP."""
    found = {f"{path.name}: {name}" for path in _modules(part) for name in _imported(path)
             if _under(name, FORBIDDEN)}
    assert not found


def test_the_check_sees_a_table_imported_into_the_core(tmp_path):
    """Given a core module that imports a table, then the check names it."""
    planted = tmp_path / "intake.py"
    planted.write_text("from storage.tables import RequestRow\n")
    assert [name for name in _imported(planted) if _under(name, FORBIDDEN)] == ["storage.tables"]


def test_storage_imports_nothing_of_bot_but_the_domain():
    """Given every module of storage/, then the only part of bot it imports is bot/domain (the
    objects it maps rows to), so dependencies still point one way."""
    folder = Path(storage.__file__).parent
    found = {f"{path.name}: {name}" for path in sorted(folder.glob("*.py")) for name in _imported(path)
             if _under(name, ("bot",)) and not _under(name, ("bot.domain",))}
    assert not found
