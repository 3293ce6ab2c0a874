"""Property-based tests over every Slack entry point: slash command text, button clicks (each
action), view submissions (the request form and the deny reason), options requests and events,
with random, oversized, malformed and tampered values, all correctly signed.

For every input: the bot never answers 5xx; a request it refuses changes no stored state (the
requests, approvals and audit rows, and Okta's memberships are compared before and after); and
where a person sent it, that person is told something clear (a modal, a form error or a short
message, never a traceback, a repr or an echo of kilobytes they typed).  Tampered button values
(another request's id, another user's id) are refused at click time.

One bot serves the module, once on SQLite and once on PostgreSQL (skipped, saying why, when no
server answers); examples are derandomized (the same on every run), 50 per entry point and database.
"""

from __future__ import annotations

import json
import time
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from bot.ports import ShiftedClock
from sandbox import blockkit
from sandbox.okta import OktaSandbox
from sandbox.slack_workspace import APP_ID, TEAM_DOMAIN, TEAM_ID
from tests.resilience.support import RoutedSlack, build_bot, has_button
from tests.support.harness import (
    ALICE,
    BOB,
    BOT_TOKEN,
    CAROL,
    DAVE,
    ERIN,
    OKTA_TOKEN,
    SIGNING_SECRET,
    eventually,
    seed_okta,
    seed_slack,
)
from tests.support.slack import ask, request_access

pytestmark = pytest.mark.slow

EXAMPLES = settings(max_examples=50, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
PEOPLE = [ALICE, BOB, CAROL, DAVE, ERIN]
OWNERS = {ALICE, BOB}
ACTIONS = ["approve", "deny", "cancel", "task_done", "end_now", "extend", "review", "decline"]
# prod-* may be asked for on someone else's behalf, so the form has its person picker.
FOR_OTHERS = {"name": "for-others", "match": {"resource": "prod-*"}, "request_for": ["anyone"]}
# Two access reviews of every Okta group: by the owners (Alice, Bob), and by Erin alone.
REVIEWS = [{"name": "fuzz", "scope": [{"connector": "okta"}], "reviewers": ["owners"],
            "fallback": [CAROL, DAVE]},
           {"name": "other", "scope": [{"connector": "okta"}], "reviewers": [ERIN],
            "fallback": [CAROL, DAVE]}]
REVIEW_ACTIONS = ["review_open", "review_keep", "review_revoke", "review_keep_page",
                  "review_previous", "review_next"]
FORM = "application/x-www-form-urlencoded"
MAX_MESSAGE = 3000  # a clear message is short; it never echoes kilobytes the person typed


# -- inputs ---------------------------------------------------------------------------------------
NASTY = ["", " ", "\x00", "\u202e", "help", "HELP", "<!channel>", "<@U0ALICE>", "&lt;", "%",
         "_", "\\", "'; DROP TABLE access_request; --", "okta|", "|", "okta|group:nope:member",
         "eng", "null", "{}", "[]", "🙂" * 20]
oversized = st.builds(lambda piece, times: piece * times,
                      st.sampled_from(["a", "é", "🙂", "<!here>", "x|y", "\x00"]),
                      st.integers(2000, 12000))
words = st.one_of(st.sampled_from(NASTY), st.text(max_size=40), oversized)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(request, tmp_path_factory):
    """(bot, Okta sandbox, Slack sandbox), fresh for each database; PostgreSQL is skipped,
    saying why, when no server answers."""
    url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None
    with OktaSandbox(page_size=3, tokens={OKTA_TOKEN: "super_admin"}) as okta, \
            RoutedSlack(bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET) as slack:
        okta.ids = seed_okta(okta)
        seed_slack(slack)
        bot = build_bot(tmp_path_factory.mktemp("inputs"), okta, slack, ShiftedClock(),
                        database_url=url, max_requests_per_hour=100000, rules=[FOR_OTHERS],
                        reviews=REVIEWS).start()
        try:
            yield bot, okta, slack
        finally:
            bot.stop()  # before the PostgreSQL database is dropped


@pytest.fixture(scope="module")
def scene(world):
    """Requests to tamper with: Carol's pending one, Dave's pending one, Dave's active one, and
    the one Bob filed for Dave (pending)."""
    bot, _, slack_m = world
    lifecycle = bot.service.lifecycle

    def pending(user, pick):
        request_access(slack_m, user=user, search=pick[:3], pick=pick, duration="1h")
        return eventually(lambda: [r for r in lifecycle.queries.in_states("pending")
                                   if r.requester == user and r.entitlement_name == pick])[0].id

    ask(slack_m, "prod-readers", user=BOB, **{"for": DAVE})
    filed = eventually(lambda: [r for r in lifecycle.queries.in_states("pending") if r.filed_by == BOB])[0].id
    carols = pending(CAROL, "eng-admins")
    daves = pending(DAVE, "billing-admins")
    active = pending(DAVE, "data-admins")
    eventually(lambda: has_button(slack_m, ALICE, "approve", active))
    slack_m.click(ALICE, "approve", value=active)
    eventually(lambda: lifecycle.queries.get(active).state == "active")
    for request_id in (carols, daves):
        eventually(lambda request_id=request_id: has_button(slack_m, BOB, "approve", request_id))
    eventually(lambda: has_button(slack_m, DAVE, "decline", filed))
    return {"carols": carols, "daves": daves, "active": active, "filed": filed}


def state(bot, okta) -> tuple:
    """Everything a refused request must leave alone (the audit log may only have gained the
    record of refused attempts, bot/refusals.py)."""
    with bot.service.engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(text("SELECT * FROM access_request ORDER BY id"))]
        approvals = [tuple(r) for r in conn.execute(text("SELECT * FROM approval ORDER BY 1, 2"))]
        audit = tuple(conn.execute(text(
            "SELECT count(*), max(seq) FROM audit_event WHERE action NOT IN ('refused', 'refused_more')"
        )).one())
    memberships = {g: okta.members(gid) for g, gid in okta.ids.items() if g.islower() and "@" not in g}
    return rows, approvals, audit, len(okta.membership_writes()), memberships


def seen_by(slack, user: str) -> dict:
    """Everything `user` has been shown: answers, DMs, ephemerals, form errors, the open modal."""
    modal = slack.open_view(user)
    return {"answers": [json.dumps(r, ensure_ascii=False) for r in slack.responses(user)],
            "messages": [(m.get("text") or "") + json.dumps(m.get("blocks"), ensure_ascii=False)
                         for m in slack.dm(user) + slack.ephemerals(user)],
            "errors": [json.dumps(slack.view_errors(user), ensure_ascii=False)],
            "modal": [json.dumps(modal, ensure_ascii=False) if modal else ""]}


def told(slack, user: str, before: dict, timeout: float = 5.0) -> str:
    """Wait until `user` is shown something new (a new answer or message, other form errors,
    another modal); return it."""
    def news():
        now = seen_by(slack, user)
        fresh = now["answers"][len(before["answers"]):] + now["messages"][len(before["messages"]):]
        fresh += [now[key][0] for key in ("errors", "modal") if now[key] != before[key]]
        return "\n".join(fresh) if fresh else None
    return eventually(news, timeout=timeout)


def assert_clear(message: str, error_id_allowed: bool = False) -> None:
    assert message.strip()
    assert len(message) <= MAX_MESSAGE * 2, f"{len(message)} characters: {message[:200]}…"
    for sign in ("Traceback", "Exception", "KeyError", "TypeError", "NoneType", "sqlalchemy"):
        assert sign not in message, message[:500]
    if not error_id_allowed:
        assert "error id" not in message, message[:500]


def post_payload(slack, payload: dict):
    return slack.post_raw(urlencode({"payload": json.dumps(payload)}).encode(), FORM)


def envelope(slack, kind: str, user: str) -> dict:
    with slack.lock:
        trigger = slack.workspace.issue_trigger(user)
    return {"type": kind, "token": "x", "api_app_id": APP_ID, "trigger_id": trigger,
            "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": TEAM_ID},
            "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN}, "is_enterprise_install": False}


# -- slash command ----------------------------------------------------------------------------
@EXAMPLES
@given(user=st.sampled_from(PEOPLE), typed=words)
def test_slash_command_text(world, scene, user, typed):
    """Any text after /request-access opens the form (or answers help) and changes nothing."""
    bot, okta_m, slack_m = world
    before, shown = state(bot, okta_m), seen_by(slack_m, user)
    with slack_m.lock:
        slack_m.workspace.clear_modals(user)
    answer = slack_m.command(user, text=typed)
    assert answer.status_code == 200, answer.text
    message = told(slack_m, user, shown)
    assert_clear(message)
    modal = slack_m.open_view(user)
    assert modal or "request-access" in message
    if modal:
        assert not blockkit.view_problems(modal, "modal")
    assert state(bot, okta_m) == before


# -- buttons ----------------------------------------------------------------------------------
def click(slack, user: str, action_id: str, value, *, with_value: bool = True):
    payload = envelope(slack, "block_actions", user)
    with slack.lock:
        channel = slack.workspace.dm_id(user)
        url_id = slack.workspace.issue_response_url(user, channel, None)
    action = {"action_id": action_id, "block_id": "decision", "type": "button",
              "text": {"type": "plain_text", "text": "Approve"}, "action_ts": f"{time.time():.6f}"}
    if with_value:
        action["value"] = value
    payload.update(container={"type": "message", "message_ts": "1.000001", "channel_id": channel},
                   channel={"id": channel, "name": "directmessage"},
                   response_url=f"{slack.url}/response/{url_id}", actions=[action])
    return post_payload(slack, payload)


def legitimate(scene, bot, user: str, action_id: str, value) -> bool:
    """Would this click, from this person, rightly change something?"""
    row = bot.service.lifecycle.queries.get(value.replace("\x00", "")) \
        if isinstance(value, str) and len(value) < 64 else None  # (the bot drops NULs too)
    if row is None:
        return False
    if action_id == "approve":
        return row.state == "pending" and user in OWNERS and user not in row.parties
    if action_id == "cancel":
        return user == row.requester and row.state == "pending"
    if action_id == "decline":
        return user == row.requester and row.filed_by is not None and row.state == "pending"
    if action_id == "end_now":
        return user == row.requester and row.state == "active"
    return False  # extend only opens a form (checked by `told`); nothing here was break-glass


@EXAMPLES
@given(data=st.data(), user=st.sampled_from(PEOPLE), action_id=st.sampled_from(ACTIONS))
def test_button_values(world, scene, data, user, action_id):
    """A click carrying another request's id, another person's id, or a random, oversized or
    missing value is refused with a clear message to the clicker, and changes nothing."""
    bot, okta_m, slack_m = world
    value = data.draw(st.one_of(st.sampled_from(list(scene.values())), words,
                                st.integers(), st.just(None)), label="value")
    with_value = data.draw(st.booleans(), label="with value") or value is not None
    if legitimate(scene, bot, user, action_id, value):
        value = value + "x"  # the tampered twin of a click that would rightly act
    before, shown = state(bot, okta_m), seen_by(slack_m, user)
    with slack_m.lock:
        slack_m.workspace.clear_modals(user)
    answer = click(slack_m, user, action_id, value, with_value=with_value)
    assert answer.status_code == 200, answer.text
    message = told(slack_m, user, shown)
    malformed = not with_value  # a value of the wrong type is just another unknown id
    assert_clear(message, error_id_allowed=malformed)
    if not malformed and value in scene.values() and not slack_m.open_view(user):
        assert any(word in message for word in ("approver", "own request", "requester",
                                                "already", "Already", "holds the access",
                                                "task", "cancelled", "denied", "not active",
                                                "break-glass", "Someone other", "filed for",
                                                "too late")), message[:300]
    assert state(bot, okta_m) == before


APPROVAL_CHANNEL = "C0APPROVALS"


def click_in_channel(slack, user: str, action_id: str, value):
    """A click on a button of a message in the approval channel (not a DM)."""
    payload = envelope(slack, "block_actions", user)
    with slack.lock:
        url_id = slack.workspace.issue_response_url(user, APPROVAL_CHANNEL, None)
    action = {"action_id": action_id, "block_id": "decision", "type": "button", "value": value,
              "text": {"type": "plain_text", "text": "Approve"}, "action_ts": f"{time.time():.6f}"}
    payload.update(container={"type": "message", "message_ts": "1.000001", "channel_id": APPROVAL_CHANNEL,
                              "is_ephemeral": False},
                   channel={"id": APPROVAL_CHANNEL, "name": "access-approvals"},
                   response_url=f"{slack.url}/response/{url_id}", actions=[action])
    return post_payload(slack, payload)


@EXAMPLES
@given(data=st.data(), user=st.sampled_from(PEOPLE), action_id=st.sampled_from(["approve", "deny"]))
def test_channel_button_values(world, scene, data, user, action_id):
    """Approve or Deny pressed in an approval channel with another request's id, or a random,
    oversized or malformed value, is refused to the clicker alone (privately in the channel; for
    Erin, who is not in it, through the click) and changes nothing."""
    bot, okta_m, slack_m = world
    slack_m.add_channel(APPROVAL_CHANNEL, "access-approvals", members=(ALICE, BOB, CAROL, DAVE))
    value = data.draw(st.one_of(st.sampled_from(list(scene.values())), words, st.integers()), label="value")
    if legitimate(scene, bot, user, action_id, value):
        value = value + "x"  # the tampered twin of a click that would rightly act
    before, shown = state(bot, okta_m), seen_by(slack_m, user)
    with slack_m.lock:
        slack_m.workspace.clear_modals(user)
    answer = click_in_channel(slack_m, user, action_id, value)
    assert answer.status_code == 200, answer.text
    assert_clear(told(slack_m, user, shown))
    if user != ERIN and not slack_m.open_view(user):
        assert slack_m.ephemerals(user)[-1]["channel"] == APPROVAL_CHANNEL
    assert slack_m.channel(APPROVAL_CHANNEL) == []  # nobody else saw anything
    assert state(bot, okta_m) == before


# -- access reviews ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def campaigns(world, scene):
    """Both reviews started once the requests above exist: {campaign id: [its items]}."""
    bot, _, slack_m = world
    reviews = bot.service.lifecycle.reviews
    started = [reviews.start(name) for name in ("fuzz", "other")]
    eventually(lambda: has_button(slack_m, ERIN, "review_open", started[1].id))
    return {c.id: reviews.report(c.id).items for c in started}


def review_rows(bot) -> list[tuple]:
    with bot.service.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text("SELECT * FROM review_item ORDER BY id"))]


def review_values(campaigns) -> list[str]:
    """Campaign ids, item ids, and a page of item ids of each campaign."""
    items = [item for listed in campaigns.values() for item in listed]
    return [*campaigns, *(item.id for item in items),
            *(" ".join(item.id for item in listed) for listed in campaigns.values())]


def decides(bot, user: str, action_id: str, value) -> bool:
    """Would this click, from this person, rightly decide something?  (Keep by the item's
    reviewer; Keep all needs the list it was pressed in, which a forged click lacks.)"""
    if action_id != "review_keep" or not isinstance(value, str):
        return False
    item = next((i for listed in [bot.service.lifecycle.reviews.report(c.id).items
                                  for c in bot.service.lifecycle.reviews.campaigns()]
                 for i in listed if i.id == value.replace("\x00", "")), None)
    return item is not None and item.reviewer == user and item.undecided


@EXAMPLES
@given(data=st.data(), user=st.sampled_from(PEOPLE), action_id=st.sampled_from(REVIEW_ACTIONS))
def test_review_button_values(world, scene, campaigns, data, user, action_id):
    """A review button carrying another reviewer's item, another campaign's id, a request id, or
    a random, oversized or missing value is refused with a clear message to the clicker (or opens
    only what is theirs), and decides nothing."""
    bot, okta_m, slack_m = world
    value = data.draw(st.one_of(st.sampled_from(review_values(campaigns) + list(scene.values())),
                                words, st.integers(), st.just(None)), label="value")
    if decides(bot, user, action_id, value):
        value = value + "x"  # the tampered twin of a click that would rightly decide
    before, items, shown = state(bot, okta_m), review_rows(bot), seen_by(slack_m, user)
    with slack_m.lock:
        slack_m.workspace.clear_modals(user)
    answer = click(slack_m, user, action_id, value, with_value=value is not None)
    assert answer.status_code == 200, answer.text
    assert_clear(told(slack_m, user, shown), error_id_allowed=value is None)
    assert review_rows(bot) == items
    assert state(bot, okta_m) == before


@EXAMPLES
@given(data=st.data(), user=st.sampled_from(PEOPLE))
def test_revoke_reason_submissions(world, scene, campaigns, data, user):
    """The revoke reason form naming another reviewer's item, an unknown or oversized one, with
    any reason and page, from anyone: refused under the reason, nothing decided or revoked."""
    bot, okta_m, slack_m = world
    item_id = data.draw(st.one_of(st.sampled_from(review_values(campaigns)), words), label="item id")
    reason = data.draw(st.one_of(words, st.none()), label="reason")
    page = data.draw(st.one_of(st.integers(), words), label="page")
    if decides(bot, user, "review_keep", item_id) and (reason or "").strip():
        item_id = item_id + "x"  # the tampered twin of a revoke that would rightly act
    metadata = data.draw(st.one_of(st.just(json.dumps({"item_id": item_id, "page": page})), words),
                         label="metadata")
    values = {"revoke_reason": {"revoke_reason": {"type": "plain_text_input", "value": reason}}}
    before, items = state(bot, okta_m), review_rows(bot)
    answer = submission(slack_m, user, "review_revoke_reason", values, metadata)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["response_action"] == "errors" and set(body["errors"]) == {"revoke_reason"}, body
    assert_clear(body["errors"]["revoke_reason"])
    assert review_rows(bot) == items
    assert state(bot, okta_m) == before


# -- view submissions -------------------------------------------------------------------------
def submission(slack, user: str, callback_id: str, values: dict, metadata):
    payload = envelope(slack, "view_submission", user)
    payload["view"] = {"id": "V0FUZZ", "type": "modal", "callback_id": callback_id,
                       "private_metadata": metadata, "blocks": [], "state": {"values": values},
                       "hash": "1.x", "title": {"type": "plain_text", "text": "x"}}
    payload["response_urls"] = []
    return post_payload(slack, payload)


@st.composite
def request_forms(draw, okta_ids):
    valid_choice = [f"okta|group:{okta_ids[g]}:member" for g in ("eng-admins", "billing-admins",
                                                                  "prod-readers", "data-admins")]
    choice = draw(st.one_of(st.sampled_from(valid_choice), words, st.none()))
    duration = draw(st.one_of(st.sampled_from(["1h", "4h", "8h", "1d", "0m", "-1h", "90m"]),
                              words, st.none()))
    why = draw(st.one_of(st.sampled_from(["fix prod", "   "]), words, st.none()))
    values = {}
    if draw(st.booleans()):  # fields the form shows only when some rule asks for them
        values["ticket"] = {"ticket": {"type": "plain_text_input", "value": draw(words)}}
    if draw(st.booleans()):
        values["break_glass"] = {"break_glass": {"type": "checkboxes", "selected_options": draw(
            st.one_of(st.just([{"value": "yes", "text": {"type": "plain_text", "text": "x"}}]),
                      st.lists(st.fixed_dictionaries({"value": words}), max_size=2)))}}
    if draw(st.booleans()):  # the person picker: a person, themselves, or anything at all
        values["for"] = {"for": {"type": "users_select", "selected_user": draw(
            st.one_of(st.sampled_from(PEOPLE), words, st.none(), st.integers()))}}
    if draw(st.booleans()) or choice is not None:
        values["access"] = {"entitlement": {"type": "external_select", "selected_option": (
            {"text": {"type": "plain_text", "text": "x"}, "value": choice} if choice is not None
            else None)}}
    if draw(st.booleans()) or duration is not None:
        values["duration"] = {"duration": {"type": "static_select", "selected_option": (
            {"text": {"type": "plain_text", "text": "x"}, "value": duration} if duration is not None
            else None)}}
    if draw(st.booleans()) or why is not None:
        values["justification"] = {"justification": {"type": "plain_text_input", "value": why}}
    return values


@EXAMPLES
@given(data=st.data(), user=st.sampled_from(PEOPLE))
def test_request_form_submissions(world, scene, data, user):
    """A request form with random, oversized, missing or tampered values is answered inside the
    form (errors under the inputs) and stores nothing; only a valid one creates a request."""
    bot, okta_m, slack_m = world
    values = data.draw(request_forms(okta_m.ids), label="values")
    metadata = data.draw(st.one_of(words, st.just('{"search": 1}')), label="private_metadata")
    lifecycle = bot.service.lifecycle
    before = state(bot, okta_m)
    pending_before = {r.id for r in lifecycle.queries.in_states("pending")}
    answer = submission(slack_m, user, "request_access", values, metadata)
    assert answer.status_code == 200, answer.text
    if answer.content:
        body = answer.json()
        assert body["response_action"] == "errors", body
        assert set(body["errors"]) <= {"access", "duration", "justification", "ticket",
                                       "break_glass", "for"} | set(values), body
        for problem in body["errors"].values():
            assert_clear(problem)
        assert state(bot, okta_m) == before
        return
    # Accepted: exactly one new pending request, and it is a valid one.
    new = [r for r in lifecycle.queries.in_states("pending") if r.id not in pending_before]
    assert len(new) == 1, new
    row = new[0]
    picked = values.get("for", {}).get("for", {}).get("selected_user")
    beneficiary = picked if picked in PEOPLE and picked != user else user
    assert (row.requester, row.filed_by) == (beneficiary, user if beneficiary != user else None)
    assert row.justification.strip()
    assert f"{row.connector_id}|{row.entitlement_id}" == values["access"]["entitlement"]["selected_option"]["value"]
    assert row.duration.total_seconds() in (3600, 4 * 3600, 8 * 3600)
    told_with = "decline" if row.filed_by else "cancel"  # the person it is for is told
    eventually(lambda: has_button(slack_m, row.requester, told_with, row.id))


@EXAMPLES
@given(data=st.data(), user=st.sampled_from(PEOPLE))
def test_deny_reason_submissions(world, scene, data, user):
    """The deny form with a tampered request id (another request, a random or oversized one),
    from anyone, with any reason: refused clearly, nothing changes."""
    bot, okta_m, slack_m = world
    metadata = data.draw(st.one_of(st.sampled_from(list(scene.values())), words), label="request id")
    reason = data.draw(st.one_of(words, st.none()), label="reason")
    row = bot.service.lifecycle.queries.get(metadata.replace("\x00", "")) \
        if len(metadata) < 64 else None
    if row is not None and row.state == "pending" and user in OWNERS and user != row.requester \
            and (reason or "").strip():
        metadata = metadata + "x"  # the tampered twin of a denial that would rightly act
    values = {"reason": {"reason": {"type": "plain_text_input", "value": reason}}}
    before, shown = state(bot, okta_m), seen_by(slack_m, user)
    answer = submission(slack_m, user, "deny_reason", values, metadata)
    assert answer.status_code == 200, answer.text
    if answer.content:
        body = answer.json()
        assert body["response_action"] == "errors" and set(body["errors"]) == {"reason"}, body
        assert_clear(body["errors"]["reason"])
    else:
        assert_clear(told(slack_m, user, shown))
    assert state(bot, okta_m) == before


@EXAMPLES
@given(data=st.data(), user=st.sampled_from(PEOPLE))
def test_extension_submissions(world, scene, data, user):
    """The extension form with a tampered request id, from anyone, with any duration and reason:
    refused clearly, nothing changes."""
    bot, okta_m, slack_m = world
    metadata = data.draw(st.one_of(st.sampled_from(list(scene.values())), words), label="request id")
    duration = data.draw(st.one_of(st.sampled_from(["1h", "1d", "0m"]), words, st.none()), label="duration")
    why = data.draw(st.one_of(words, st.none()), label="why")
    row = bot.service.lifecycle.queries.get(metadata.replace("\x00", "")) if len(metadata) < 64 else None
    if row is not None and row.state == "active" and user == row.requester:
        metadata = metadata + "x"  # the tampered twin of an extension that would rightly be asked
    values = {"duration": {"duration": {"type": "static_select", "selected_option": (
                  {"text": {"type": "plain_text", "text": "x"}, "value": duration} if duration else None)}},
              "justification": {"justification": {"type": "plain_text_input", "value": why}}}
    before, shown = state(bot, okta_m), seen_by(slack_m, user)
    answer = submission(slack_m, user, "extend_access", values, metadata)
    assert answer.status_code == 200, answer.text
    if answer.content:
        body = answer.json()
        assert body["response_action"] == "errors" and set(body["errors"]) <= set(values), body
        for problem in body["errors"].values():
            assert_clear(problem)
    else:
        assert_clear(told(slack_m, user, shown))
    assert state(bot, okta_m) == before


# -- options requests -------------------------------------------------------------------------
@EXAMPLES
@given(user=st.sampled_from(PEOPLE), action_id=st.sampled_from(["entitlement", "entitlement", "x"]),
       typed=words, metadata=st.one_of(words, st.just('{"search": "eng"}'), st.just('{"search": 7}')))
def test_options_requests(world, scene, user, action_id, typed, metadata):
    """The typeahead, whatever is typed and whatever the view carries, answers with options
    Slack accepts (or a 404 for an unknown menu), never 5xx, and changes nothing."""
    bot, okta_m, slack_m = world
    before = state(bot, okta_m)
    payload = envelope(slack_m, "block_suggestion", user)
    payload.update(action_id=action_id, block_id="access", value=typed,
                   container={"type": "view", "view_id": "V0FUZZ"},
                   view={"id": "V0FUZZ", "type": "modal", "callback_id": "request_access",
                         "private_metadata": metadata, "blocks": [], "state": {"values": {}}})
    answer = post_payload(slack_m, payload)
    assert answer.status_code < 500, answer.text
    if action_id == "entitlement":
        assert answer.status_code == 200
        assert not blockkit.options_problems(answer.json()), answer.json()
    assert state(bot, okta_m) == before


# -- events and raw bodies --------------------------------------------------------------------
events = st.fixed_dictionaries(
    {"type": st.sampled_from(["app_home_opened", "app_home_opened", "message", "app_mention",
                              "team_join", "x"])},
    optional={"user": st.one_of(st.sampled_from(PEOPLE), words, st.none()),
              "tab": st.sampled_from(["home", "messages", "", None]),
              "channel": words, "text": words, "event_ts": st.just("1.0"),
              "view": st.one_of(st.none(), st.just({"id": "V0", "type": "home"}))})


@EXAMPLES
@given(event=events, event_id=st.one_of(st.none(), words.filter(lambda w: len(w) < 200)))
def test_events(world, scene, event, event_id):
    """Any Events API delivery (known or not, with fields missing or garbled) is acknowledged
    without 5xx and changes nothing."""
    bot, okta_m, slack_m = world
    before = state(bot, okta_m)
    answer = slack_m.event(event, event_id=event_id or None)
    assert answer.status_code < 500, answer.text
    assert state(bot, okta_m) == before  # (and again, after a pause, at the end of the module)


@EXAMPLES
@given(body=st.one_of(st.binary(max_size=300), words.map(lambda w: w.encode("utf-8", "surrogatepass")),
                      st.sampled_from([b"payload=", b"payload=%7B%7D", b"payload=null",
                                       b'payload={"type":"block_actions"}', b"{}", b"[]", b"null",
                                       b'{"type":"event_callback"}', b"command=/request-access",
                                       b'{"type":"url_verification","challenge":"c"}'])),
       content_type=st.sampled_from([FORM, "application/json", "text/plain", ""]),
       signed=st.booleans())
def test_malformed_bodies(world, scene, body, content_type, signed):
    """Bodies that are no valid Slack payload at all, signed or not, never get a 5xx (a 4xx:
    the sender is a program, not a person) and change nothing."""
    bot, okta_m, slack_m = world
    before = state(bot, okta_m)
    answer = slack_m.post_raw(body, content_type, **({} if signed else {"secret": "forged"}))
    assert answer.status_code < 500, (answer.status_code, answer.text)
    if not signed:
        assert answer.status_code in (400, 401), answer.status_code
    assert state(bot, okta_m) == before


def test_nothing_changed_in_the_end(world, scene):
    """After all of the above (and a moment for background work), the requests to tamper with
    are as they were, Okta shows only the one legitimate grant, and nobody was let in."""
    bot, okta_m, _ = world
    time.sleep(1)
    lifecycle = bot.service.lifecycle
    assert lifecycle.queries.get(scene["carols"]).state == "pending"
    assert lifecycle.queries.get(scene["daves"]).state == "pending"
    assert lifecycle.queries.get(scene["filed"]).state == "pending"
    assert lifecycle.queries.get(scene["active"]).state == "active"
    assert [c.method for c in okta_m.membership_writes()] == ["PUT"]
    ids = okta_m.ids
    assert {group: okta_m.members(ids[group]) for group in
            ("eng-admins", "billing-admins", "data-admins", "prod-readers")} == {
        "eng-admins": set(), "billing-admins": set(), "data-admins": {ids["dave@acme.com"]},
        "prod-readers": {ids["carol@acme.com"]}}  # Dave's one grant; Carol's from before
