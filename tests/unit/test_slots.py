"""Single-valued slots in memory: the level to set is the highest Latchkey still grants, else
the baseline found before its first grant.  (Against the Celigo sandbox and a database, with
crashes, retries and races: tests/contract/storage/test_slots.py.)"""

from __future__ import annotations

import pytest

from bot.slots import level_to_set
from connectors.base import Slot

LEVELS = ("monitor", "manage", "administrator")


@pytest.mark.parametrize("baseline, granted, level", [
    ("monitor", [], "monitor"),  # nothing granted: the baseline
    (None, [], None),  # an integration-only user goes back to no account-wide level
    ("monitor", ["manage"], "manage"),
    ("monitor", ["manage", "administrator"], "administrator"),  # the highest, in any order
    ("monitor", ["administrator", "manage"], "administrator"),
    (None, ["manage"], "manage"),
    ("administrator", ["manage"], "administrator"),  # a grant never lowers the level found
    ("manage", ["manage"], "manage"),
])
def test_level_is_the_highest_granted_else_the_baseline(baseline, granted, level):
    """Given a baseline and the levels still granted, then the level to set is the highest of them."""
    assert level_to_set(Slot("accessLevel", "manage", LEVELS), baseline, granted) == level
