"""Stored events read back as their types: by the audit log's word (`BY_ACTION`), by the outbox's
kind (`BY_KIND`), with their stored detail (`decode`)."""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime
from typing import Any

from bot.domain.events import AuditAction, Event, MessageKind


def _all(cls: type[Event]) -> list[type[Event]]:
    return [cls] + [sub for child in cls.__subclasses__() for sub in _all(child)]


EVENT_TYPES: tuple[type[Event], ...] = tuple(_all(Event)[1:])
# A word shared by a class and its subclass (cancel, fail, drift_detected) reads back as the class.
BY_ACTION: dict[AuditAction, type[Event]] = {}
BY_KIND: dict[MessageKind, type[Event]] = {}
for _type in EVENT_TYPES:
    if _type.action is not None:
        BY_ACTION.setdefault(_type.action, _type)
    if _type.kind is not None:
        BY_KIND.setdefault(_type.kind, _type)


def decode(cls: type[Event], request_id: str | None, actor: str, stored: dict[str, Any]) -> Event:
    """An event of type `cls` from its stored detail.  Keys it does not know are left out (an
    older or newer Latchkey may have written them); times come back as datetimes."""
    known = {f.name for f in fields(cls)} - {"request_id", "actor"}
    values = {}
    for name, value in stored.items():
        if name not in known:
            continue
        if isinstance(value, list):
            value = tuple(value)
        elif name.endswith("_at") and isinstance(value, str):
            value = datetime.fromisoformat(value)
        values[name] = value
    return cls(request_id=request_id, actor=actor, **values)
