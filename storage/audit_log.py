"""The append-only audit log."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import datetime

from sqlalchemy import select

from bot.domain.events import Event
from connectors.masking import mask_all
from storage.base import Repository
from storage.tables import AuditRow


class AuditLog(Repository):
    """Append-only record of everything that happened: who, what, when, why."""

    def append(self, event: Event, at: datetime, also: Iterable = ()) -> None:
        """Write one event (and `also`, e.g. the message that tells people) in one transaction."""
        with self._session() as session:
            session.add(self.entry(event, at))
            session.add_all(also)
            session.commit()

    @staticmethod
    def entry(event: Event, at: datetime) -> AuditRow:
        """The row that records `event`, to write along with the state change it reports
        (`Requests.move(..., also=[entry])`).  Every text in its detail is masked: an error or
        a finding may quote a target's answer.  Fields left unset (None) are not stored."""
        if event.action is None:
            raise ValueError(f"{type(event).__name__} is not audited")
        detail = {name: value for name, value in event.detail().items() if value is not None}
        return AuditRow(at=at, actor=event.actor, action=event.action.value, request_id=event.request_id,
                        detail=json.dumps(mask_all(detail), default=str, sort_keys=True))

    def has(self, request_id: str, action: str) -> bool:
        with self._session() as session:
            return session.execute(select(AuditRow.seq).where(
                AuditRow.request_id == request_id, AuditRow.action == action).limit(1)).first() is not None

    def stream(self, since: datetime, until: datetime | None = None, batch: int = 1000) -> Iterator[AuditRow]:
        """Events from `since` on, oldest first, read a batch at a time (the log can be large)."""
        after = 0
        while True:
            with self._session() as session:
                query = select(AuditRow).where(AuditRow.seq > after, AuditRow.at >= since)
                if until is not None:
                    query = query.where(AuditRow.at < until)
                rows = list(session.execute(query.order_by(AuditRow.seq).limit(batch)).scalars())
            yield from rows
            if len(rows) < batch:
                return
            after = rows[-1].seq

    def last(self, action: str) -> AuditRow | None:
        with self._session() as session:
            return session.execute(select(AuditRow).where(AuditRow.action == action)
                                   .order_by(AuditRow.seq.desc()).limit(1)).scalars().first()

    def events(self, request_id: str | None = None) -> list[AuditRow]:
        with self._session() as session:
            query = select(AuditRow).order_by(AuditRow.seq)
            if request_id:
                query = query.where(AuditRow.request_id == request_id)
            return list(session.execute(query).scalars())
