"""SQLModel tables.  Only storage/ touches these; the rest of Latchkey sees repositories.

Times are stored as naive UTC and handed back timezone-aware, the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Column, DateTime, Index, Text, TypeDecorator, text
from sqlmodel import Field, SQLModel

from connectors.masking import mask


class UTCDateTime(TypeDecorator):
    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to storage; pass an aware UTC time")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect):
        return None if value is None else value.replace(tzinfo=UTC)


class MaskedText(TypeDecorator):
    """Text that may quote what a target or Slack answered (an error): masked on its way in,
    so the database never holds a secret such an answer echoed, and on its way out, for rows
    written before masking existed."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect):
        return None if value is None else mask(value)

    process_result_value = process_bind_param


def _when(*, index: bool = False, nullable: bool = True):
    return Field(default=None, sa_column=Column(UTCDateTime(), index=index, nullable=nullable))


class RequestRow(SQLModel, table=True):
    __tablename__ = "access_request"
    __table_args__ = (
        # One pending request per person and entitlement, enforced by the database itself so
        # that a double submit or two replicas cannot create twins.
        Index("uq_pending_request", "requester", "connector_id", "entitlement_id", unique=True,
              sqlite_where=text("state = 'pending'"), postgresql_where=text("state = 'pending'")),
        Index("ix_request_state_expires", "state", "expires_at"),
        Index("ix_request_state_lease", "state", "lease_until"),
        Index("ix_request_state_attention", "state", "attention_at"),
    )

    id: str = Field(primary_key=True, max_length=32)
    requester: str = Field(index=True, max_length=64)
    requester_email: str = Field(max_length=320)
    account_id: str = Field(max_length=255)
    connector_id: str = Field(max_length=64)
    entitlement_id: str = Field(max_length=512)
    entitlement_name: str = Field(max_length=512)
    duration_seconds: int
    justification: str = Field(sa_column=Column(Text, nullable=False))
    state: str = Field(max_length=16)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    decided_by: str = Field(default="", max_length=1024)  # comma-separated person ids
    decided_at: datetime | None = _when()
    decision_reason: str | None = Field(default=None, sa_column=Column(Text))
    granted_at: datetime | None = _when()
    expires_at: datetime | None = _when()
    revoked_at: datetime | None = _when()
    preexisting: bool | None = None
    manual: bool = False  # granted and revoked by a person following a task, not by a connector
    prior_detail: str | None = Field(default=None, sa_column=Column(Text))
    # A worker holds a request in provisioning/revoking until lease_until; after that another
    # worker (or this one after a restart) may pick it up again.
    lease_until: datetime | None = _when()
    attempts: int = 0
    last_error: str | None = Field(default=None, sa_column=Column(MaskedText))
    # When a pending request next needs chasing (a reminder, or its timeout) or an active one
    # its expiry warning; what it means depends on the state.
    attention_at: datetime | None = _when()
    reminders: int = 0
    rule: str = Field(default="default", max_length=64)  # the policy rule it was filed under
    step: int = 0  # the approval step it waits on (0-based)
    conflict: str | None = Field(default=None, max_length=64)  # separation-of-duties rule it breaks
    ticket: str | None = Field(default=None, max_length=255)
    # The ticket as its tracker (Jira) showed it when the request was checked.
    ticket_summary: str | None = Field(default=None, sa_column=Column(Text))
    ticket_status: str | None = Field(default=None, max_length=255)
    ticket_url: str | None = Field(default=None, max_length=1024)
    # How it was approved: "people", "auto" (the rule approved it) or "break_glass" (the
    # requester did, in an emergency; somebody reviews it afterwards: reviewed_by).
    route: str = Field(default="people", max_length=16)
    reviewed_by: str | None = Field(default=None, max_length=64)
    extends: str | None = Field(default=None, max_length=32)  # the active request it extends
    # A bundle is a request of its own (connector "bundle") whose `items` (JSON) become one
    # child request each on approval; children name their bundle in `bundle`.
    bundle: str | None = Field(default=None, max_length=32, index=True)
    items: str | None = Field(default=None, sa_column=Column(Text))
    # Who filed it for someone else (the requester, who gets the access); None: the requester did.
    filed_by: str | None = Field(default=None, max_length=64)


class ApprovalRow(SQLModel, table=True):
    __tablename__ = "approval"
    request_id: str = Field(primary_key=True, foreign_key="access_request.id", max_length=32)
    approver: str = Field(primary_key=True, max_length=64)
    approved_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    step: int = 0


class StepUpRow(SQLModel, table=True):
    """A push sent to an approver to confirm a decision (bot/domain/step_up.py)."""

    __tablename__ = "step_up_challenge"
    id: str = Field(primary_key=True, max_length=32)
    request_id: str = Field(foreign_key="access_request.id", max_length=32, index=True)
    approver: str = Field(max_length=64)
    decision: str = Field(max_length=16)
    state: str = Field(max_length=16, index=True)
    started_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    poll: str | None = Field(default=None, sa_column=Column(Text))
    # Set while the challenge is open (waiting or passed), NULL once closed: unique, so that a
    # double click or two replicas cannot send a second push for the same decision.
    open_key: str | None = Field(default=None, max_length=128, unique=True, index=True)


class EntitlementRow(SQLModel, table=True):
    __tablename__ = "catalog_entitlement"
    connector_id: str = Field(primary_key=True, max_length=64)
    id: str = Field(primary_key=True, max_length=512)
    resource_type: str = Field(max_length=64)
    resource_id: str = Field(max_length=255)
    name: str = Field(max_length=512, index=True)
    resource_name: str = Field(default="", max_length=512)  # what policy rules match on
    description: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    requestable: bool = True
    provisionable: bool = True


class AccountRow(SQLModel, table=True):
    __tablename__ = "catalog_account"
    __table_args__ = (Index("ix_account_email", "connector_id", "email"),)
    connector_id: str = Field(primary_key=True, max_length=64)
    id: str = Field(primary_key=True, max_length=255)
    email: str = Field(max_length=320)  # lower-cased
    display_name: str = Field(default="", max_length=512)
    active: bool = True


class HoldingRow(SQLModel, table=True):
    """Who holds what in the target, as of the last sync."""

    __tablename__ = "catalog_holding"
    connector_id: str = Field(primary_key=True, max_length=64)
    entitlement_id: str = Field(primary_key=True, max_length=512)
    account_id: str = Field(primary_key=True, max_length=255)
    # False: held only through e.g. an Okta group (see connectors.base.Grant.direct)
    direct: bool = Field(default=True, sa_column_kwargs={"server_default": text("true")})


class SyncRow(SQLModel, table=True):
    """The last full sync of a connector; `revision` counts the entitlement changes applied
    since from its change feed (what the typeahead's index must notice)."""

    __tablename__ = "catalog_sync"
    connector_id: str = Field(primary_key=True, max_length=64)
    finished_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    entitlements: int = 0
    accounts: int = 0
    holdings: int = 0
    revision: int = Field(default=0, sa_column_kwargs={"server_default": text("0")})


class FeedCursorRow(SQLModel, table=True):
    """How far a connector's change feed (Okta's System Log) has been applied to the catalog.

    `position` is the connector's own cursor (None: read from `read_through` on, as after a
    full sync); `read_through` the time up to which the feed has been applied (the lag and the
    retention are measured from it).  It moves in the transaction that applies the changes it
    covers, by compare-and-set on `version`.  Only the `holder` of an unexpired lease polls.
    """

    __tablename__ = "feed_cursor"
    connector_id: str = Field(primary_key=True, max_length=64)
    position: str | None = Field(default=None, sa_column=Column(Text))
    read_through: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    version: int = 0
    holder: str | None = Field(default=None, max_length=64)
    lease_until: datetime | None = _when()


class AuditRow(SQLModel, table=True):
    """Append-only: rows are inserted, never updated or deleted."""

    __tablename__ = "audit_event"
    seq: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
    request_id: str | None = Field(default=None, index=True, max_length=32)
    actor: str = Field(max_length=64)
    action: str = Field(max_length=32)
    detail: str = Field(default="{}", sa_column=Column(Text, nullable=False))


class MessageRow(SQLModel, table=True):
    """A chat message the bot sent about a request, kept so it can be updated later."""

    __tablename__ = "chat_message"
    id: int | None = Field(default=None, primary_key=True)
    request_id: str = Field(index=True, max_length=32)
    recipient: str = Field(max_length=64)
    role: str = Field(max_length=16)  # approver | requester
    channel: str = Field(max_length=64)
    ts: str = Field(max_length=32)


class PersonRow(SQLModel, table=True):
    """Chat user → email, cached because Slack's users.info is too slow for the 3 s window."""

    __tablename__ = "person"
    id: str = Field(primary_key=True, max_length=64)
    email: str | None = Field(default=None, max_length=320)
    name: str = Field(default="", max_length=255)
    fetched_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class OutboxRow(SQLModel, table=True):
    """A message to deliver (e.g. a Slack DM), kept until it is delivered.

    Written when the lifecycle reports an event, so an outage of the chat service or a restart
    delays a message but never loses it.  Rows of one request are delivered in `id` order.
    """

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "done_at", "next_attempt_at"),)
    id: int | None = Field(default=None, primary_key=True)
    request_id: str = Field(index=True, max_length=32)
    kind: str = Field(max_length=64)
    args: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    next_attempt_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    lease_until: datetime | None = _when()
    attempts: int = 0
    last_error: str | None = Field(default=None, sa_column=Column(MaskedText))
    done_at: datetime | None = _when()


class SeenEventRow(SQLModel, table=True):
    """Events API deliveries already handled, so Slack's retries of them have no second effect."""

    __tablename__ = "seen_event"
    event_id: str = Field(primary_key=True, max_length=64)
    seen_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))


class RelayCursorRow(SQLModel, table=True):
    """How far a relay of the audit log (e.g. to the Slack audit channel) has got, and which
    process is relaying now.

    `position` is the last audit seq handled (posted, or passed over as a gap that never
    filled).  Only the `holder` of an unexpired lease (`lease_until`) posts; the lease is taken
    and renewed with compare-and-set UPDATEs, so of several replicas one relays at a time, and
    the lease of one that crashed simply runs out.
    """

    __tablename__ = "relay_cursor"
    name: str = Field(primary_key=True, max_length=64)
    position: int = 0
    holder: str | None = Field(default=None, max_length=64)
    lease_until: datetime | None = _when()


class SlotBaselineRow(SQLModel, table=True):
    """The level an account held in a single-valued slot (e.g. Celigo's access level) before
    Latchkey's first grant on it; kept while any Latchkey grant on the slot lives."""

    __tablename__ = "slot_baseline"
    connector_id: str = Field(primary_key=True, max_length=64)
    slot: str = Field(primary_key=True, max_length=64)
    account_id: str = Field(primary_key=True, max_length=255)
    level: str | None = Field(default=None, max_length=255)  # None: the account had no level


class ReviewCampaignRow(SQLModel, table=True):
    """An access review campaign (bot/domain/reviews.py)."""

    __tablename__ = "review_campaign"
    id: str = Field(primary_key=True, max_length=32)
    name: str = Field(max_length=64, index=True)
    started_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    due_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    closed_at: datetime | None = _when()
    on_no_decision: str = Field(max_length=16)
    escalated_at: datetime | None = _when()
    reminded_at: datetime | None = _when()  # the last reminder sent
    # The name while the campaign is open, NULL once closed: unique, so that two starts at once
    # (a double run, two replicas, the scheduler) open one campaign.
    open_name: str | None = Field(default=None, max_length=64, unique=True, index=True)


class ReviewItemRow(SQLModel, table=True):
    """One holding a campaign reviews, as it was when the campaign started."""

    __tablename__ = "review_item"
    __table_args__ = (Index("ix_review_item_reviewer", "campaign_id", "reviewer", "decision"),)
    id: str = Field(primary_key=True, max_length=32)
    campaign_id: str = Field(foreign_key="review_campaign.id", max_length=32)
    connector_id: str = Field(max_length=64)
    entitlement_id: str = Field(max_length=512)
    entitlement_name: str = Field(max_length=512)
    account_id: str = Field(max_length=255)
    holder_email: str = Field(max_length=320)
    holder: str | None = Field(default=None, max_length=64)
    reviewer: str = Field(default="", max_length=64)  # "" for just-in-time access
    decision: str | None = Field(default=None, max_length=16)
    decided_by: str | None = Field(default=None, max_length=64)
    decided_at: datetime | None = _when()
    reason: str | None = Field(default=None, sa_column=Column(Text))
    just_in_time: bool = False
    escalated: bool = False
    # The revocation a revoke decision made: its request row says when the removal was verified.
    request_id: str | None = Field(default=None, max_length=32)
