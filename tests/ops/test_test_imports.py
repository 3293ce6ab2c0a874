"""The tests share helpers through support modules, never by importing one another."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]


def imported_modules(source: str, package: str) -> list[str]:
    """Every module that `source`, a file of `package`, imports, absolute or relative, at any depth."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(part for part in (base, node.module) if part)
            found += [module] + [f"{module}.{alias.name}" for alias in node.names]
    return found


def is_test_module(module: str) -> bool:
    return module.startswith("tests.") and module.rsplit(".", 1)[-1].startswith(("test_", "conftest"))


def test_no_file_of_the_tests_imports_a_test_module_or_a_conftest():
    """A helper that tests of two files need lives in tests/support/ (or a folder's support.py):
    a test module imported for a helper is a hidden dependency between test files, and pytest
    loads conftest files itself."""
    offenders = [f"{path.relative_to(TESTS.parent)} imports {module}"
                 for path in sorted(TESTS.rglob("*.py"))
                 for module in imported_modules(path.read_text(), ".".join(path.relative_to(TESTS.parent)
                                                                           .parent.parts))
                 if is_test_module(module)]
    assert offenders == []


@pytest.mark.parametrize("line", [
    "from tests.stories.test_story import texts", "import tests.stories.test_rules",
    "from .test_decisions import ephemeral_answers", "from . import test_decisions",
    "from ..contract.storage.conftest import POSTGRES_URL", "def f():\n    from tests.stories.test_story import texts",
])
def test_the_check_sees_every_form_of_import(line):
    assert any(is_test_module(m) for m in imported_modules(line, "tests.stories"))


def test_the_check_lets_support_modules_be_imported():
    assert not any(is_test_module(m) for m in imported_modules(
        "from tests.support.slack import texts\nfrom .support import drain\nimport tests.support.harness",
        "tests.contract.connectors"))
