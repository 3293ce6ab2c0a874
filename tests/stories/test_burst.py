"""An incident brings many people to `/request-access` at once: each must still be answered
within Slack's 3 seconds, however slowly Slack's Web API answers the bot meanwhile."""

from __future__ import annotations

import threading

from storage.chat import People
from tests.support.harness import CAROL, eventually


def test_the_app_asks_slack_who_it_is_at_start_not_on_a_request(make_bot, slack):
    """Given a freshly started bot, then it has called auth.test before any request arrived,
    and the first requests do not call it again."""
    make_bot().start()
    eventually(lambda: slack.calls_to("POST", "/api/auth.test"))
    slack.command(CAROL)
    eventually(lambda: slack.open_view(CAROL))
    assert len(slack.calls_to("POST", "/api/auth.test")) == 1


def test_a_burst_of_commands_is_acknowledged_in_time_while_slack_is_slow(bot, slack):
    """Given 40 people and a Web API that takes 1.5 s a call, when all of them type the command
    at the same instant, then every one is answered (none waits for another's form to open)
    and every form opens."""
    people = [f"U0BURST{i:02d}" for i in range(40)]
    for person in people:
        slack.add_user(person, f"{person.lower()}@acme.com")
    slack.command(CAROL)  # the bot has served Slack before the incident
    eventually(lambda: slack.open_view(CAROL))
    slack.latency = 1.5
    start, answers = threading.Barrier(len(people)), {}

    def type_command(person: str) -> None:
        start.wait()
        try:
            answers[person] = slack.command(person).status_code
        except Exception as exc:  # the sandbox gives up after Slack's 3 s, as Slack does
            answers[person] = repr(exc)

    threads = [threading.Thread(target=type_command, args=(p,)) for p in people]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == dict.fromkeys(people, 200)
    eventually(lambda: all(slack.open_view(p) for p in people), timeout=20)
    people_known = People(bot.service.engine)  # each listener ends by looking its person up
    eventually(lambda: all(people_known.get(p) for p in people), timeout=20)
