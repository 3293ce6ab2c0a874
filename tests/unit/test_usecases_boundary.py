"""The use cases talk to storage, Slack and HTTP only through the ports."""

from __future__ import annotations

import ast
from pathlib import Path

import bot.usecases

FORBIDDEN = ("storage", "sqlalchemy", "sqlmodel", "slack_sdk", "slack_bolt", "httpx", "bot.slack")


def _imported(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    return {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names} | {
        node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}


def test_no_use_case_imports_storage_slack_or_http():
    """Given every module of bot/usecases/, then none imports storage, SQL, Slack or HTTP."""
    folder = Path(bot.usecases.__file__).parent
    found = {f"{path.name}: {name}" for path in sorted(folder.glob("*.py")) for name in _imported(path)
             if any(name == root or name.startswith(root + ".") for root in FORBIDDEN)}
    assert not found
