"""`latchkey demo`: one whole story on loopback, with local stand-ins for Slack and Okta.

Carol asks for eng-admins, Alice approves, Okta gains the membership, Bob's late click is
turned away, and when the minute is up Latchkey removes the membership again.  The transcript
shows what each person sees in Slack and what Okta holds at every step.

With `--step-up`, a second story follows: billing-admins is under a rule with step-up MFA, so
Alice's Approve counts only once she accepts the Okta Verify push on her (stand-in) phone.
"""

from __future__ import annotations

import re
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from rich.console import Console

from bot.config import Settings, parse_config
from bot.domain.request import State
from bot.ports import ShiftedClock
from bot.server import BackgroundServer
from bot.service import Service
from sandbox.okta import OktaSandbox
from sandbox.slack import SlackSandbox

PEOPLE = {"U0ALICE": ("Alice", "alice@acme.com"), "U0BOB": ("Bob", "bob@acme.com"),
          "U0CAROL": ("Carol", "carol@acme.com")}
ALICE, BOB, CAROL = PEOPLE
console = Console(highlight=False)


def run_demo(minutes: int = 1, fast: bool = False, step_up: bool = False) -> int:
    """Play the story; `fast` moves the bot's clock past the expiry instead of waiting for it;
    `step_up` plays the step-up story after it."""
    with SlackSandbox(bot_token="xoxb-demo", signing_secret="demo-secret") as slack, \
            OktaSandbox(tokens={"demo-okta-token": "super_admin"}) as okta, \
            tempfile.TemporaryDirectory() as workdir:
        group, emails, billing = _seed(slack, okta)
        service = Service(_settings(slack, workdir), parse_config(_config(okta.url, minutes)),
                          clock=ShiftedClock())
        service.start()
        server = BackgroundServer(service).start()
        slack.bot_url = server.url + "/slack/events"
        try:
            played = _story(slack, okta, service, group, emails, minutes, fast)
            return _step_up_story(slack, okta, service, billing, emails) if step_up and played == 0 else played
        finally:
            server.stop()
            service.stop()


def _story(slack, okta, service, group, emails, minutes, fast) -> int:
    step = _Steps(slack, okta, group, emails)
    carol_okta = next(i for i, e in emails.items() if e == PEOPLE[CAROL][1])
    _wait(lambda: service.catalog.last_sync("okta"))
    console.rule("[bold]Latchkey demo")
    console.print("Slack and Okta are local stand-ins; the bot is the real one, over HTTP.\n")
    step.okta("Before anything happens")

    step.say("Carol types [bold]/request-access eng[/]")
    slack.command(CAROL, text="eng")
    _wait(lambda: slack.open_view(CAROL))
    found = slack.suggest(CAROL, "entitlement", "eng")
    choice = found["option_groups"][0]["options"][0]
    step.say(f"The form opens; typing 'eng' offers: {', '.join(o['text']['text'] for g in found['option_groups'] for o in g['options'])}")
    step.say(f"Carol picks {choice['text']['text']}, {minutes} minute(s), \"Rotate the deploy keys (INC-42)\"")
    slack.submit(CAROL, {"access": choice, "duration": f"{minutes}m",
                         "justification": "Rotate the deploy keys (INC-42)"})
    _wait(lambda: slack.dm(ALICE) and slack.dm(BOB) and slack.dm(CAROL))
    step.dms(ALICE, CAROL)

    bobs_copy = slack.dm(BOB)[-1]  # what Bob's Slack shows until it refreshes
    step.say("Alice clicks [green]Approve[/]")
    slack.click(ALICE, "approve")
    _wait(lambda: carol_okta in okta.members(group) and len(slack.dm(CAROL)) >= 2)
    _wait(lambda: "Approved by" in str(slack.dm(BOB)))
    step.dms(CAROL, BOB)
    step.okta("After the approval")

    step.say("Bob clicks Approve on his copy a moment too late")
    request = service.lifecycle.queries.in_states("active")[0]
    slack.click(BOB, "approve", message=bobs_copy, stale=True)
    _wait(lambda: slack.responses(BOB))
    console.print(f"  [dim]only Bob sees:[/] {_plain(slack.responses(BOB)[-1].get('text', ''))}")

    remaining = (request.expires_at - service.clock.now()).total_seconds()
    if fast:
        step.say(f"(--fast: the bot's clock jumps {remaining:.0f} s ahead instead of waiting)")
        service.clock.advance(timedelta(seconds=remaining))
        service.scheduler.wake_at(request.expires_at)
        remaining = 0
    with console.status(f"Waiting for the access to expire ({remaining:.0f} s)..."):
        _wait(lambda: service.lifecycle.queries.get(request.id).state is State.REVOKED,
              timeout=remaining + 30)
    lag = (service.lifecycle.queries.get(request.id).revoked_at - request.expires_at).total_seconds()
    step.say(f"The minute is up: Latchkey removed the membership, and checked it was gone, "
             f"{lag:.1f} s after expiry")
    _wait(lambda: len(slack.dm(CAROL)) >= 3)
    step.dms(CAROL)
    step.okta("At the end")
    actions = [e.action for e in service.lifecycle.audit.events(request.id)]
    console.print(f"\n[bold]Audit log[/] of request {request.id}: {' → '.join(actions)}")
    ok = actions[-1] == "finish" and carol_okta not in okta.members(group)
    console.rule("[green]Demo complete" if ok else "[red]Demo did not finish as expected")
    return 0 if ok else 1


def _step_up_story(slack, okta, service, group, emails) -> int:
    alice_okta = next(i for i, e in emails.items() if e == PEOPLE[ALICE][1])
    step = _Steps(slack, okta, group, emails, "billing-admins")
    step.shown = {m["ts"]: _render(m) for m in slack.dm(ALICE)}  # shown in the first story
    console.rule("[bold]Step-up: approvals confirmed on the approver's phone")
    console.print("billing-admins is under a rule with `step_up: okta_verify`; Alice has Okta Verify.\n")
    step.say("Carol asks for billing-admins for 1 hour, \"Close the books (FIN-7)\"")
    slack.command(CAROL, text="billing")
    _wait(lambda: slack.open_view(CAROL))
    choice = slack.suggest(CAROL, "entitlement", "billing")["option_groups"][0]["options"][0]
    seen = len(slack.dm(ALICE))
    slack.submit(CAROL, {"access": choice, "duration": "1h", "justification": "Close the books (FIN-7)"})
    _wait(lambda: len(slack.dm(ALICE)) > seen)
    request = service.lifecycle.queries.in_states("pending")[0]
    step.say("Alice clicks [green]Approve[/]: Latchkey sends a push to her phone, and waits")
    slack.click(ALICE, "approve", message=slack.dm(ALICE)[-1])
    _wait(lambda: okta.factors.pushes(alice_okta) and "Check your phone" in str(slack.dm(ALICE)))
    step.dms(ALICE)
    step.okta("While the push waits")
    step.say("Alice taps [green]Approve[/] in Okta Verify")
    okta.factors.answer(alice_okta, "SUCCESS")
    _wait(lambda: service.lifecycle.queries.get(request.id).state is State.ACTIVE)
    step.okta("After she accepted")
    actions = [e.action for e in service.lifecycle.audit.events(request.id)]
    console.print(f"\n[bold]Audit log[/] of request {request.id}: {' → '.join(actions)}")
    ok = actions.index("step_up_passed") < actions.index("approved")
    console.rule("[green]Step-up demo complete" if ok else "[red]Step-up demo did not finish as expected")
    return 0 if ok else 1


class _Steps:
    def __init__(self, slack, okta, group, emails, name: str = "eng-admins") -> None:
        self.slack, self.okta_server, self.group, self.emails, self.n = slack, okta, group, emails, 0
        self.name = name
        self.shown: dict[str, str] = {}  # message ts → how it looked when last printed

    def say(self, text: str) -> None:
        self.n += 1
        console.print(f"\n[bold cyan]{self.n}.[/] {text}")

    def dms(self, *users: str) -> None:
        for user in users:
            name = PEOPLE[user][0]
            for message in self.slack.dm(user):
                rendered = _render(message)
                if self.shown.get(message["ts"]) != rendered:
                    updated = " (updated)" if message["ts"] in self.shown else ""
                    console.print(f"  [bold]{name}'s DM{updated}[/] {rendered}")
                    self.shown[message["ts"]] = rendered

    def okta(self, when: str) -> None:
        members = sorted(self.emails[u] for u in self.okta_server.members(self.group))
        console.print(f"  [magenta]Okta[/] {self.name} members ({when.lower()}): {', '.join(members) or 'nobody'}")


def _render(message: dict) -> str:
    lines = []
    for block in message.get("blocks") or []:
        if block["type"] in ("header", "section"):
            lines.append(_plain(block["text"]["text"]))
        elif block["type"] == "context":
            lines.append("[dim]" + " ".join(_plain(e.get("text", "")) for e in block["elements"]) + "[/]")
        elif block["type"] == "actions":
            lines.append("  ".join(f"[reverse] {e['text']['text']} [/]" for e in block["elements"]))
    return "\n    ".join([""] + lines)


def _plain(mrkdwn: str) -> str:
    text = re.sub(r"<@(U\w+)>", lambda m: "@" + PEOPLE.get(m.group(1), (m.group(1),))[0], mrkdwn)
    text = re.sub(r"<!date\^\d+\^[^|]*\|([^>]*)>", r"\1", text)
    text = text.replace("[", "\\[")  # rich markup
    text = re.sub(r"\*([^*\n]+)\*", r"[bold]\1[/bold]", text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _seed(slack: SlackSandbox, okta: OktaSandbox):
    emails = {}
    for user_id, (name, email) in PEOPLE.items():
        slack.add_user(user_id, email, real_name=name)
        emails[okta.add_user(email, name, "Acme")] = email
    okta.factors.enroll(next(i for i, e in emails.items() if e == PEOPLE[ALICE][1]))  # Okta Verify
    group = okta.add_group("eng-admins", description="Production deploy rights")
    others = {name: okta.add_group(name) for name in ("eng-readers", "billing-admins")}
    return group, emails, others["billing-admins"]


def _settings(slack: SlackSandbox, workdir: str) -> Settings:
    return Settings(slack_bot_token="xoxb-demo", slack_signing_secret="demo-secret",
                    slack_api_url=slack.url + "/api/", database_url=f"sqlite:///{Path(workdir)}/demo.db",
                    latchkey_config=Path(workdir) / "unused.yaml", latchkey_sweep_seconds=5,
                    latchkey_step_up_poll_seconds=0.5)


def _config(okta_url: str, minutes: int) -> str:
    return f"""
connectors:
  okta:
    type: okta
    domain: {okta_url}
    token: demo-okta-token
    owners: [alice@acme.com, U0BOB]
policy:
  durations: [{minutes}m, 1h, 4h]
  max_duration: 4h
  rules:
    - name: finance
      match: {{resource: "billing-*"}}
      step_up: okta_verify
"""


def _wait(check, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError("the demo stalled; run the tests to see what broke")
        time.sleep(0.05)
