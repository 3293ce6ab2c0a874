"""What a person does in Slack during a test, and what they are shown there."""

from __future__ import annotations

from tests.support.harness import ALICE, CAROL, eventually


def request_access(slack, user=CAROL, search="eng", pick="eng-admins", duration="4h",
                   why="Deploy the INC-42 hotfix"):
    """The requester opens the form, finds the item by typing, and submits."""
    assert slack.command(user, text="").status_code == 200
    modal = eventually(lambda: slack.open_view(user))
    options = [o for g in slack.suggest(user, "entitlement", search)["option_groups"] for o in g["options"]]
    choice = next(o for o in options if o["text"]["text"] == pick)
    return modal, slack.submit(user, {"access": choice, "duration": duration, "justification": why})


def ask(slack, pick: str, user=CAROL, duration="1h", why="Fix the INC-7 outage", **more):
    """The requester opens the form, picks `pick` from the typeahead and submits."""
    slack.command(user, text="")
    eventually(lambda: slack.open_view(user))
    options = [o for g in slack.suggest(user, "entitlement", pick[:3])["option_groups"] for o in g["options"]]
    choice = next(o for o in options if o["text"]["text"] == pick)
    return slack.submit(user, {"access": choice, "duration": duration, "justification": why, **more})


def submit_form(slack, user=CAROL, access=None, duration="4h", why="Deploy the INC-42 hotfix"):
    """The requester opens the form and submits `access` as given (an option, or None)."""
    slack.command(user)
    eventually(lambda: slack.open_view(user))
    return slack.submit(user, {"access": access, "duration": duration, "justification": why})


def ask_to_extend(slack, duration="1h", why="The fix needs another hour"):
    """Carol presses Extend on her expiry warning and says how long and why."""
    slack.click(CAROL, "extend")
    eventually(lambda: slack.open_view(CAROL))
    return slack.submit(CAROL, {"duration": duration, "justification": why})


def options(slack, user, typed) -> list[str]:
    """The names the typeahead offers `user` for `typed`."""
    return [o["text"]["text"] for g in slack.suggest(user, "entitlement", typed)["option_groups"]
            for o in g["options"]]


def option_for(bot, name):
    """The typeahead option for the catalog item `name`, as Slack would send it back."""
    row = bot.service.catalog.search(name)[0]
    return {"text": {"type": "plain_text", "text": row.name}, "value": f"okta|{row.id}"}


def texts(messages) -> str:
    """Everything `messages` say, blocks and fallback text, for `in` checks."""
    return "\n".join(str(m.get("blocks")) + (m.get("text") or "") for m in messages)


def asked(slack, user) -> bool:
    """Does `user` have an Approve button in their DM?"""
    return any("'approve'" in str(m.get("blocks")) for m in slack.dm(user))


def ephemeral_answers(slack, user) -> str:
    """Every private answer `user` was given, as one text."""
    return "\n".join(str(r) for r in slack.responses(user))


def assert_refused(bot, slack, user, block_id, words):
    """The modal stays open with the message under the right field, and nothing was stored or sent."""
    errors = slack.view_errors(user)
    assert block_id in errors and words in errors[block_id], errors
    assert slack.open_view(user) is not None
    assert bot.service.lifecycle.queries.in_states("pending") == []
    assert slack.dm(ALICE) == []
