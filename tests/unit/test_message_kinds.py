"""Every event that tells someone is stored under a kind of its own, reads back as its type, and
the notifier has a way of telling it."""

from datetime import UTC, datetime
from types import SimpleNamespace

from bot.domain.events import AuditAction, ConfigLoaded, ConfigRejected, MessageKind
from bot.domain.stored_events import BY_ACTION, BY_KIND, EVENT_TYPES
from bot.slack.audit_lines import WORDS
from bot.slack.notifier import SlackNotifier


def test_every_kind_and_action_reads_back_as_one_event_type():
    assert sorted(set(MessageKind) - set(BY_KIND)) == []
    assert sorted(set(AuditAction) - set(BY_ACTION)) == []
    # A type that shares its word with another is a variant of it (it reads back as the other).
    for event_type in EVENT_TYPES:
        for word, table in ((event_type.kind, BY_KIND), (event_type.action, BY_ACTION)):
            if word is not None:
                assert issubclass(event_type, table[word]), event_type  # type: ignore[index]


def test_the_notifier_tells_every_event_that_tells_someone():
    clock = SimpleNamespace(now=lambda: datetime.now(UTC))
    notifier = SlackNotifier(None, None, None, None, clock, None, None)  # type: ignore[arg-type]
    told = set(BY_KIND.values())  # what stored messages read back as
    tellers = set(notifier.tellers) | set(notifier.notices)
    assert not set(notifier.tellers) & set(notifier.notices)
    assert sorted(t.__name__ for t in told - tellers) == []
    assert sorted(t.__name__ for t in tellers - told) == []


def test_the_audit_channel_words_every_audited_event():
    audited = set(BY_ACTION.values()) - {ConfigLoaded, ConfigRejected}  # lines of their own
    assert sorted(t.__name__ for t in audited - set(WORDS)) == []
