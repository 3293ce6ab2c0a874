"""What Latchkey keeps of the chat side: where its messages are, who people are, and which
events it has handled.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from storage.base import Repository
from storage.tables import MessageRow, PersonRow, SeenEventRow


class Messages(Repository):
    """Where the bot's messages about each request live, so they can be updated later."""

    def add(self, request_id: str, recipient: str, role: str, channel: str, ts: str) -> None:
        with self._session() as session:
            session.add(MessageRow(request_id=request_id, recipient=recipient, role=role,
                                   channel=channel, ts=ts))
            session.commit()

    def for_request(self, request_id: str, role: str | None = None) -> list[MessageRow]:
        with self._reading() as session:
            query = select(MessageRow).where(MessageRow.request_id == request_id)
            if role:
                query = query.where(MessageRow.role == role)
            return list(session.execute(query.order_by(MessageRow.id)).scalars())


class People(Repository):
    def get(self, person_id: str) -> PersonRow | None:
        with self._reading() as session:
            return session.get(PersonRow, person_id)

    def ids_by_email(self, emails: Iterable[str]) -> dict[str, str]:
        """Lower-cased email → person id, for the people looked up before (no directory call)."""
        wanted, found = sorted({email.lower() for email in emails}), {}
        with self._reading() as session:
            for start in range(0, len(wanted), 5000):
                found.update({email: person for person, email in session.execute(
                    select(PersonRow.id, PersonRow.email).where(
                        PersonRow.email.in_(wanted[start:start + 5000])))})
        return found

    def put(self, person_id: str, email: str | None, name: str, now: datetime) -> None:
        # An upsert, not merge(): two replicas (or two listeners) looking up the same person at
        # once would both INSERT, and one would fail on the primary key.
        values = {"email": email and email.lower(), "name": name, "fetched_at": now}
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        with self._session() as session:
            session.execute(dialect.insert(PersonRow).values(id=person_id, **values)
                            .on_conflict_do_update(index_elements=[PersonRow.id], set_=values))
            session.commit()


class SeenEvents(Repository):
    def first_time(self, event_id: str, now: datetime) -> bool:
        """Record the event; False if it was recorded before (by this or another replica)."""
        with self._session() as session:
            session.add(SeenEventRow(event_id=event_id[:64], seen_at=now))
            try:
                session.commit()
            except IntegrityError:
                return False
        return True

    def forget_before(self, moment: datetime) -> None:
        with self._session() as session:
            session.execute(delete(SeenEventRow).where(SeenEventRow.seen_at < moment))
            session.commit()
