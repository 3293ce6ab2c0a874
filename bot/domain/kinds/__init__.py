"""Rule kinds: what a rule may ask of a request besides who approves it and for how long.

Each kind is a frozen dataclass in a module of its own, behind one small interface
(`RuleKind`, base.py): how it is built from its key in the config, the problems it finds in a
submitted form, and why a bundle's rule asks less than an item's (bundle strictness).  A rule
holds one of each (`Rule.kind(Ticket)`); a rule that does not mention a kind gets its default.

A new kind is its module here, one line in `KINDS`, and its key in the config's
`RuleSettings` (bot/config/policy.py); the form, the bundle check and the config reference
follow.  What a kind needs beyond these hooks (a guarantee checked under the requester's lock,
say) is called where that transition happens (bot/invariants.py).
"""

from __future__ import annotations

from bot.domain.kinds.auto_approval import AutoApproval
from bot.domain.kinds.base import Form, RuleKind
from bot.domain.kinds.break_glass import BreakGlass
from bot.domain.kinds.end_sessions import EndSessions
from bot.domain.kinds.extension import ExtensionApproval
from bot.domain.kinds.justification import Justification
from bot.domain.kinds.request_for import Filer, FilerStanding, RequestFor
from bot.domain.kinds.step_up import StepUp, StepUpMethod
from bot.domain.kinds.ticket import Ticket

# Every kind, in the order the form's problems and a bundle's weaknesses are told.
KINDS: tuple[type[RuleKind], ...] = (Justification, Ticket, BreakGlass, ExtensionApproval, AutoApproval,
                                     EndSessions, RequestFor, StepUp)

__all__ = ["KINDS", "AutoApproval", "BreakGlass", "EndSessions", "ExtensionApproval", "Filer",
           "FilerStanding", "Form", "Justification", "RequestFor", "RuleKind", "StepUp", "StepUpMethod",
           "Ticket"]
