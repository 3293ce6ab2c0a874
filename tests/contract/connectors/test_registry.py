"""The registry of connector types (connectors/registry.py) is the one place a type is named: the
YAML config accepts exactly its types, each builds a whole Connector, and bot/config/ reaches
the connectors only through it."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path
from typing import get_args

import pytest

import bot.config
from bot.config import Config
from connectors.base import Connector
from connectors.registry import CONNECTOR_TYPES

# Each type's required keys beyond the token.
MINIMAL = {"okta": {"domain": "acme.okta.com"}, "celigo": {}, "segment": {},
           "percipio": {"organization_id": "0a7e5c1e-3f5b-4c38-9b54-3c1d0e6f2b11"}}


def test_the_config_accepts_exactly_the_registered_types():
    """Given the registry, when reading the connector entries Config accepts, then one per registered type."""
    [entry] = get_args(Config.model_fields["connectors"].annotation)[1:]
    union = get_args(get_args(entry)[0])
    assert sorted(model.model_fields["type"].annotation.__args__[0] for model in union) == \
        sorted(CONNECTOR_TYPES) == sorted(MINIMAL)


@pytest.mark.parametrize("name", sorted(CONNECTOR_TYPES))
def test_each_type_builds_a_whole_connector(name):
    """Given a registered type's minimal settings, when built, then every method of Connector is there."""
    settings = CONNECTOR_TYPES[name].model_validate({"type": name, "token": "t", **MINIMAL[name]})
    connector = settings.build()
    try:
        wanted = {n for n, _ in inspect.getmembers(Connector, inspect.isfunction) if not n.startswith("_")}
        assert not [n for n in wanted if not callable(getattr(connector, n, None))]
    finally:
        connector.close()


def test_bot_config_reaches_connectors_only_through_the_registry():
    """Given every module of bot/config/, when reading their imports, then no connector's own
    module is among them (the shared masking function is not a connector)."""
    modules = sorted(Path(bot.config.__file__).parent.glob("*.py"))
    assert modules, "no modules found in bot/config/"
    trees = [ast.parse(module.read_text()) for module in modules]
    imported = {node.module for tree in trees for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert {m for m in imported if m and m.startswith("connectors")} <= {
        "connectors.registry", "connectors.settings", "connectors.masking"}
