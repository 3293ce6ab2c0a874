"""Baselines of single-valued slots (see bot/slots.py)."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from storage import request_conditions as condition
from storage.base import Repository
from storage.tables import RequestRow, SlotBaselineRow


class SlotBaselines(Repository):
    """Set-once records of the level an account had in a single-valued slot before Latchkey's
    first grant there (see bot/slots.py)."""

    def get(self, connector_id: str, slot: str, account_id: str) -> SlotBaselineRow | None:
        with self._reading() as session:
            return session.get(SlotBaselineRow, (connector_id, slot, account_id))

    def record_once(self, connector_id: str, slot: str, account_id: str, level: str | None) -> str | None:
        """Store `level` unless a baseline is already stored; return the stored one (a racing
        replica's, if it was first)."""
        try:
            with self._session() as session:
                session.add(SlotBaselineRow(connector_id=connector_id, slot=slot,
                                            account_id=account_id, level=level))
                session.commit()
        except IntegrityError:
            pass  # another worker recorded it first: theirs was read before any write too
        stored = self.get(connector_id, slot, account_id)
        return stored.level if stored else level

    def clear_unless_granted(self, connector_id: str, slot: str, account_id: str,
                             leaving: str) -> None:
        """Forget the baseline unless Latchkey still grants anything to the account in this
        connector (request `leaving` aside).  One statement, so a grant claimed at the same
        moment either keeps the baseline or, claimed just after, reads the target afresh.
        (Any live grant of the account keeps it, not only the slot's: the connector ids are all
        the database knows, and a baseline kept a little longer is still the one found.)"""
        live = select(RequestRow.id).where(condition.granting_on(connector_id, account_id),
                                           RequestRow.id != leaving)
        with self._session() as session:
            session.execute(delete(SlotBaselineRow).where(
                SlotBaselineRow.connector_id == connector_id, SlotBaselineRow.slot == slot,
                SlotBaselineRow.account_id == account_id, ~live.exists()))
            session.commit()
