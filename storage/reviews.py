"""Access review campaigns and their items (bot/domain/reviews.py).

A campaign opens with all its items in one transaction, and only if no campaign of its name is
open (a unique column holds the name while it is open).  Items change only under their row
locks, taken in id order: the caller checks the items as locked and says what to change, so a
check and its change are one step that a click, a second replica or the due date cannot split.
An item's `revoked_at` is read from the revocation it made: when its removal was verified.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime

from sqlalchemy import case, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from bot.domain.reviews import Campaign, OnNoDecision, ReviewDecision, ReviewItem
from storage.base import Repository
from storage.mapping import rows_of
from storage.tables import RequestRow, ReviewCampaignRow, ReviewItemRow

Changes = tuple[list[tuple[str, dict]], Iterable[object]]  # bot/ports.py's ItemChanges
BULK = 5000  # rows per INSERT of a campaign's items


class ReviewStore(Repository):
    # -- campaigns ---------------------------------------------------------------------------
    def open(self, campaign: Campaign, items: Sequence[ReviewItem], also: Iterable[object] = ()) -> bool:
        """Store a new campaign with its items, unless one of its name is open: False then."""
        with self._session() as session:
            session.add(_campaign_row(campaign))
            try:
                session.flush()
            except IntegrityError:
                session.rollback()
                return False
            for start in range(0, len(items), BULK):
                session.execute(insert(ReviewItemRow), [_item_values(item) for item in items[start:start + BULK]])
            session.add_all(rows_of(also))
            session.commit()
        return True

    def campaign(self, campaign_id: str) -> Campaign | None:
        with self._reading() as session:
            row = session.get(ReviewCampaignRow, campaign_id)
            return None if row is None else _campaign(row)

    def campaigns(self, open_only: bool = True, name: str | None = None) -> list[Campaign]:
        """Newest first."""
        query = select(ReviewCampaignRow).order_by(ReviewCampaignRow.started_at.desc())
        if open_only:
            query = query.where(ReviewCampaignRow.closed_at.is_(None))
        if name is not None:
            query = query.where(ReviewCampaignRow.name == name)
        with self._reading() as session:
            return [_campaign(row) for row in session.execute(query).scalars()]

    def move_campaign(self, campaign_id: str, seen: dict, changes: dict, also: Iterable[object] = ()) -> bool:
        """Compare-and-set on a campaign's own fields (its reminders)."""
        with self._session() as session:
            won = session.execute(_campaign_cas(campaign_id, seen, changes)).rowcount == 1
            if won:
                session.add_all(rows_of(also))
            session.commit()
        return won

    # -- items -------------------------------------------------------------------------------
    def item(self, item_id: str) -> ReviewItem | None:
        with self._reading() as session:
            found = session.execute(_items().where(ReviewItemRow.id == item_id)).first()
            return None if found is None else _item(*found)

    def items(self, campaign_id: str, reviewer: str | None = None, offset: int = 0,
              limit: int | None = None) -> list[ReviewItem]:
        """A campaign's items (or one reviewer's), undecided first, then by holder and name."""
        query = _items().where(ReviewItemRow.campaign_id == campaign_id).order_by(
            ReviewItemRow.decision.is_not(None), ReviewItemRow.holder_email,
            ReviewItemRow.entitlement_name, ReviewItemRow.id).offset(offset).limit(limit)
        if reviewer is not None:
            query = query.where(ReviewItemRow.reviewer == reviewer, ReviewItemRow.just_in_time.is_(False))
        with self._reading() as session:
            return [_item(*found) for found in session.execute(query)]

    def counts(self, reviewer: str | None = None, campaign_id: str | None = None,
               open_only: bool = True) -> list[tuple[Campaign, str, int, int]]:
        """(campaign, reviewer, undecided, total) per reviewer with items in a campaign."""
        undecided = func.sum(case((ReviewItemRow.decision.is_(None), 1), else_=0))
        query = (select(ReviewCampaignRow, ReviewItemRow.reviewer, undecided, func.count())
                 .join(ReviewItemRow, ReviewItemRow.campaign_id == ReviewCampaignRow.id)
                 .where(ReviewItemRow.just_in_time.is_(False))
                 .group_by(ReviewCampaignRow.id, ReviewItemRow.reviewer)
                 .order_by(ReviewCampaignRow.started_at.desc()))
        if reviewer is not None:
            query = query.where(ReviewItemRow.reviewer == reviewer)
        if campaign_id is not None:
            query = query.where(ReviewCampaignRow.id == campaign_id)
        if open_only:
            query = query.where(ReviewCampaignRow.closed_at.is_(None))
        with self._reading() as session:
            return [(_campaign(row), who, int(waiting or 0), int(total))
                    for row, who, waiting, total in session.execute(query)]

    def change_items(self, item_ids: Sequence[str],
                     change: Callable[[dict[str, Campaign], list[ReviewItem]], Changes]) -> list[ReviewItem]:
        """Lock the items, let `change(their campaigns by id, the items as locked)` check them
        and say what to write (it raises to write nothing), write it; returns the changed items."""
        with self._session() as session:
            items = _locked(session, ReviewItemRow.id.in_(list(item_ids)))
            campaigns = {row.id: _campaign(row) for row in session.execute(select(ReviewCampaignRow).where(
                ReviewCampaignRow.id.in_({item.campaign_id for item in items}))).scalars()}
            changed = _write(session, change(campaigns, items))
            session.commit()
        return self._reread(changed)

    def settle(self, campaign_id: str, seen: dict, changes: dict,
               change: Callable[[Campaign, list[ReviewItem]], Changes], limit: int | None = None) -> bool:
        """Compare-and-set the campaign from `seen` to `changes` and, if that wins, change its
        undecided items (the first `limit` of them) under their locks as `change(campaign as
        changed, items)` says, all in one transaction.  False when another replica (or an
        earlier run) settled it first."""
        with self._session() as session:
            if session.execute(_campaign_cas(campaign_id, seen, changes)).rowcount != 1:
                session.rollback()
                return False
            self._change_undecided(session, campaign_id, change, limit)
            session.commit()
        return True

    def settle_more(self, campaign_id: str, change: Callable[[Campaign, list[ReviewItem]], Changes],
                    limit: int) -> int:
        """Change up to `limit` more undecided items of a settled campaign, in a transaction of
        their own; how many there were."""
        with self._session() as session:
            changed = self._change_undecided(session, campaign_id, change, limit)
            session.commit()
        return changed

    def closing(self) -> list[Campaign]:
        """Closed campaigns with undecided items left (a close that stopped half way)."""
        undecided = select(ReviewItemRow.id).where(
            ReviewItemRow.campaign_id == ReviewCampaignRow.id, ReviewItemRow.decision.is_(None),
            ReviewItemRow.just_in_time.is_(False)).exists()
        with self._reading() as session:
            return [_campaign(row) for row in session.execute(select(ReviewCampaignRow).where(
                ReviewCampaignRow.closed_at.is_not(None), undecided)).scalars()]

    @staticmethod
    def _change_undecided(session: Session, campaign_id: str,
                          change: Callable[[Campaign, list[ReviewItem]], Changes], limit: int | None) -> int:
        campaign = _campaign(session.get(ReviewCampaignRow, campaign_id))  # type: ignore[arg-type]
        items = _locked(session, (ReviewItemRow.campaign_id == campaign_id) & ReviewItemRow.decision.is_(None)
                        & ReviewItemRow.just_in_time.is_(False), limit)
        _write(session, change(campaign, items))
        return len(items)

    def _reread(self, item_ids: list[str]) -> list[ReviewItem]:
        with self._reading() as session:
            found = {item.id: item for item in (_item(*row) for row in session.execute(
                _items().where(ReviewItemRow.id.in_(item_ids))))}
        return [found[item_id] for item_id in item_ids]


def _locked(session: Session, condition, limit: int | None = None) -> list[ReviewItem]:
    """The items meeting `condition` (the first `limit`), locked until the transaction ends (in
    id order, so two lockers never wait on each other), as they are once locked."""
    ids = list(session.execute(select(ReviewItemRow.id).where(condition).order_by(ReviewItemRow.id)
                               .limit(limit).with_for_update()).scalars())
    rows = []
    for start in range(0, len(ids), BULK):
        rows += session.execute(_items().where(ReviewItemRow.id.in_(ids[start:start + BULK]))).all()
    return sorted((_item(*row) for row in rows), key=lambda item: item.id)


def _write(session: Session, changes: Changes) -> list[str]:
    each, also = changes
    by_change: dict[tuple, list[str]] = {}
    for item_id, values in each:  # items given the same change are updated together
        by_change.setdefault(tuple(sorted(values.items())), []).append(item_id)
    for values, ids in by_change.items():
        for start in range(0, len(ids), BULK):
            session.execute(update(ReviewItemRow).where(ReviewItemRow.id.in_(ids[start:start + BULK]))
                            .values(**{key: _stored(value) for key, value in values})
                            .execution_options(synchronize_session=False))
    session.add_all(rows_of(also))
    return [item_id for item_id, _ in each]


def _stored(value: object) -> object:
    return value.value if isinstance(value, ReviewDecision) else value


def _campaign_cas(campaign_id: str, seen: dict, changes: dict):
    condition = ReviewCampaignRow.id == campaign_id
    for key, value in seen.items():
        column = getattr(ReviewCampaignRow, key)
        condition &= column.is_(None) if value is None else column == value
    return (update(ReviewCampaignRow).where(condition).values(**changes)
            .execution_options(synchronize_session=False))


def _items():
    """Items with what their revocation (if any) says: when the removal was verified, and
    whether it is being retried after a failure."""
    return select(ReviewItemRow, RequestRow.revoked_at, RequestRow.state, RequestRow.last_error).outerjoin(
        RequestRow, RequestRow.id == ReviewItemRow.request_id)


def _item(row: ReviewItemRow, revoked_at: datetime | None, state: str | None, error: str | None) -> ReviewItem:
    return ReviewItem(
        id=row.id, campaign_id=row.campaign_id, connector_id=row.connector_id,
        entitlement_id=row.entitlement_id, entitlement_name=row.entitlement_name,
        account_id=row.account_id, holder_email=row.holder_email, holder=row.holder,
        reviewer=row.reviewer, decision=ReviewDecision(row.decision) if row.decision else None,
        decided_by=row.decided_by, decided_at=row.decided_at, reason=row.reason,
        revoked_at=revoked_at if state == "revoked" else None,
        revoke_failing=state == "revoking" and error is not None,
        just_in_time=row.just_in_time, escalated=row.escalated, request_id=row.request_id)


def _item_values(item: ReviewItem) -> dict:
    return dict(id=item.id, campaign_id=item.campaign_id, connector_id=item.connector_id,
                entitlement_id=item.entitlement_id, entitlement_name=item.entitlement_name,
                account_id=item.account_id, holder_email=item.holder_email, holder=item.holder,
                reviewer=item.reviewer, decision=None, decided_by=None, decided_at=None, reason=None,
                just_in_time=item.just_in_time, escalated=False, request_id=None)


def _campaign(row: ReviewCampaignRow) -> Campaign:
    return Campaign(id=row.id, name=row.name, started_at=row.started_at, due_at=row.due_at,
                    closed_at=row.closed_at, on_no_decision=OnNoDecision(row.on_no_decision),
                    escalated_at=row.escalated_at, reminded_at=row.reminded_at)


def _campaign_row(campaign: Campaign) -> ReviewCampaignRow:
    return ReviewCampaignRow(id=campaign.id, name=campaign.name, started_at=campaign.started_at,
                             due_at=campaign.due_at, closed_at=None,
                             on_no_decision=campaign.on_no_decision.value, open_name=campaign.name)
