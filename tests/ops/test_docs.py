"""The README's configuration reference is generated from the settings models and kept current."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot import docs
from bot.config import Config, Settings
from bot.config.policy import RuleSettings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_holds_exactly_the_generated_reference():
    """If this fails, run `make docs` and commit the README."""
    assert docs.generated_part(README.read_text()) == docs.render()


def test_every_setting_and_config_key_is_described():
    """An undescribed field would show an empty meaning in the README: add `description=`."""
    assert docs.undocumented() == []


def test_the_reference_names_every_environment_variable_and_every_connector_type():
    text = docs.render()
    for name in Settings.model_fields:
        assert f"| `{name.upper()}` |" in text
    connector_models = docs._models(Config.model_fields["connectors"].annotation)
    assert connector_models, "no connector config models found"
    for model in connector_models:
        kind = docs._literal_type(model)
        assert f"#### `connectors.<id>` with `type: {kind}`" in text
        for key in model.model_fields:
            assert f"| `{key}` |" in text


def test_defaults_are_written_as_they_would_be_in_yaml():
    text = docs.render()
    assert "| `sync_interval` | duration | `15m` |" in text
    assert "| `LATCHKEY_SWEEP_SECONDS` | number, > 0 | `15` |" in text
    assert "| `SLACK_BOT_TOKEN` | secret, not empty | (required) |" in text


def test_the_policy_shows_its_defaults_and_a_rule_that_unset_keys_inherit():
    """Given a rule's settings declared once (bot/config/policy.py), when rendered, then the
    policy's table gives each key's default and the rules' table leaves each unset, saying why."""
    text = docs.render()
    policy = text.split("#### `policy`\n", 1)[1].split("####", 1)[0]
    rules = text.split("#### `policy.rules[]`\n", 1)[1].split("####", 1)[0]
    assert "what it leaves unset it takes from the policy" in rules
    assert "| `approvals` | integer, ≥ 1, ≤ 10 | `1` |" in policy
    assert "| `pending_timeout` | duration | `3d` |" in policy
    assert "| `durations` | list of duration, at least 1 | (required) |" in policy
    for key in RuleSettings.model_fields:
        assert f"| `{key}` |" in policy
        assert re.search(rf"^\| `{key}` \| [^|]+ \| \(unset\) \|", rules, re.MULTILINE), key


def test_writing_replaces_only_the_text_between_the_markers(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\nbefore\n{docs.BEGIN}\nstale\n{docs.END}\nafter\n")
    assert docs.main(["--check", str(readme)]) == 1
    assert docs.main(["--write", str(readme)]) == 0
    assert readme.read_text() == f"# Title\n\nbefore\n{docs.BEGIN}\n{docs.render()}{docs.END}\nafter\n"
    assert docs.main(["--check", str(readme)]) == 0


def test_markers_must_be_there_once(tmp_path):
    with pytest.raises(ValueError, match="exactly once"):
        docs.replace_in("no markers here", docs.render())
