"""Where a rule's approvers are asked: each by DM, once in an approval channel, or both."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class NotifyMode(enum.StrEnum):
    DM = "dm"  # each approver gets a DM with Approve / Deny
    CHANNEL = "channel"  # one message in the approval channel, for every eligible approver
    BOTH = "both"


@dataclass(frozen=True)
class Notify:
    mode: NotifyMode = NotifyMode.DM
    channel: str | None = None  # the approval channel's id (C…)

    @property
    def in_channel(self) -> bool:
        return self.mode is not NotifyMode.DM and self.channel is not None

    @property
    def by_dm(self) -> bool:
        """Whether approvers are asked by DM even when the channel can be reached."""
        return self.mode is not NotifyMode.CHANNEL

    def problem(self) -> str | None:
        """What is wrong with this setting, for the config's error message."""
        if self.mode is not NotifyMode.DM and self.channel is None:
            return (f"notify: {self.mode.value} needs `approval_channel`, the id (C…) of the "
                    "channel to post requests in")
        return None
