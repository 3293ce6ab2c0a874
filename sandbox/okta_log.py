"""Okta's System Log, the `/api/v1/logs` half of the Okta sandbox (sandbox/okta.py records an
event for every change and routes the endpoint here).

Built from Okta's System Log API reference (developer.okta.com, "System Log"):

- LogEvent objects with `uuid`, `published` (RFC 3339, milliseconds, `Z`), `eventType`,
  `version` "0", `severity`, `displayMessage`, `actor`, `client`, `outcome` (`result`),
  `target[]` (`id`, `type`, `alternateId`, `displayName`, `detailEntry`), `transaction`,
  `debugContext`, `authenticationContext`, `securityContext`, `request`.
- A *polling* request (no `until`, `sortOrder` ASCENDING, the default) returns events by the
  time they were stored ("persistence time", which `since` then bounds), may return them out of
  `published` order, and always has a `rel="next"` link, even on an empty page: its `after`
  reads on from there.  A *bounded* request (`since` and `until`, or DESCENDING) filters and
  orders by `published` and has a finite number of pages.
- `since` and `after` are mutually exclusive (but for a bounded read's next link, which the
  reference shows with both); `since` defaults to 7 days before `until` (now)
  and may not be more than 180 days back (400 E0000053); events older than the 90-day
  retention are never returned; `limit` is 0 to 1000 (default 100); `sortOrder` ASCENDING or
  DESCENDING; `filter` is a SCIM expression (`eq ne sw co ew pr`, joined by `and` / `or`; not
  on `published`; else 400 E0000053); `q` is up to 10 keywords of at most 40 characters, each
  matched case-insensitively.
- Its rate-limit bucket is its own: `X-Rate-Limit-Limit` 120 a minute, Okta's figure for
  `/api/v1/logs` on Workforce Identity orgs ("Management rate limits").

Faults: `expire_cursors()` makes every `after` handed out so far answer 400 (Okta does not
document a cursor's lifetime; a refused cursor is what a reader must survive), `down` answers
every read 500 E0000009 (Okta's timeout error).  Events are published at `clock()` (seconds), so
a test can move Okta's time with the bot's.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from urllib.parse import urlencode

from sandbox.server import Call, Reply

RETENTION = timedelta(days=90)
OLDEST_SINCE = timedelta(days=180)
DEFAULT_SPAN = timedelta(days=7)
DEFAULT_LIMIT, MAX_LIMIT = 100, 1000
RATE_LIMIT = 120  # /api/v1/logs a minute (Workforce Identity)
KEYWORDS, KEYWORD_LENGTH = 10, 40

MESSAGES = {
    "group.user_membership.add": "Add user to group membership",
    "group.user_membership.remove": "Remove user from group membership",
    "application.user_membership.add": "Add user to application membership",
    "application.user_membership.remove": "Remove users application membership",
    "user.account.privilege.grant": "Grant user privilege",
    "user.account.update_profile": "Update user profile for Okta",
    "user.account.privilege.revoke": "Revoke user privilege",
    "group.lifecycle.create": "Create Okta group",
    "group.lifecycle.delete": "Delete Okta group",
    "application.lifecycle.create": "Create application",
    "application.lifecycle.activate": "Activate application",
    "application.lifecycle.deactivate": "Deactivate application",
    "application.lifecycle.delete": "Delete application",
    "user.lifecycle.create": "Create Okta user",
    "user.lifecycle.activate": "Activate Okta user",
    "user.lifecycle.deactivate": "Deactivate Okta user",
    "user.lifecycle.suspend": "Suspend Okta user",
    "user.lifecycle.unsuspend": "Unsuspend Okta user",
}


class LogRefused(Exception):
    """A read Okta would refuse: `status`, `code` and the summary of its error body."""

    def __init__(self, status: int, code: str, summary: str, *causes: str) -> None:
        super().__init__(summary)
        self.status, self.code, self.summary, self.causes = status, code, summary, causes


@dataclass
class _Stored:
    seq: int  # the order it was stored in: what a polling cursor counts
    stored_at: float  # persistence time (seconds)
    event: dict


class SystemLog:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.down = False
        self._stored: list[_Stored] = []
        self._epoch = 0  # cursors handed out before `expire_cursors` carry an older one
        self._window, self._used = 0, 0

    # -- writing (the sandbox, for every change) ---------------------------------------------
    def record(self, event_type: str, actor: dict, targets: list[dict], *,
               published: float | None = None, outcome: str = "SUCCESS",
               debug: dict | None = None) -> dict:
        """Store one event as Okta publishes it; `published` earlier than now stands for an
        event that reached the log late."""
        now = self.clock()
        event = {
            "uuid": str(uuid.uuid4()), "published": iso(published if published is not None else now),
            "eventType": event_type, "version": "0", "severity": "INFO",
            "displayMessage": MESSAGES.get(event_type, event_type), "legacyEventType": None,
            "actor": actor,
            "client": {"userAgent": {"rawUserAgent": "latchkey-sandbox", "os": "Unknown",
                                     "browser": "UNKNOWN"}, "zone": "null",
                       "device": "Unknown", "id": None, "ipAddress": "127.0.0.1",
                       "geographicalContext": None},
            "device": None, "outcome": {"result": outcome, "reason": None},
            "target": targets,
            "transaction": {"type": "WEB", "id": uuid.uuid4().hex[:27], "detail": {}},
            "debugContext": {"debugData": {key: str(value) for key, value in (debug or {}).items()}},
            "authenticationContext": {"authenticationProvider": None, "credentialProvider": None,
                                      "credentialType": None, "issuer": None, "interface": None,
                                      "authenticationStep": 0, "externalSessionId": None},
            "securityContext": {"asNumber": None, "asOrg": None, "isp": None, "domain": None,
                                "isProxy": None},
            "request": {"ipChain": []},
        }
        seq = len(self._stored) + 1
        self._stored.append(_Stored(seq, now, event))
        return event

    def events(self, event_type: str | None = None) -> list[dict]:
        """Every event stored, in the order stored (for tests)."""
        return [s.event for s in self._stored if event_type in (None, s.event["eventType"])]

    def expire_cursors(self) -> None:
        """Refuse every `after` handed out until now, as a cursor Okta no longer honours."""
        self._epoch += 1

    # -- reading: GET /api/v1/logs ------------------------------------------------------------
    def answer(self, call: Call, base_url: str) -> Reply:
        headers = self._rate_headers()
        if self.down:
            return _error(500, "E0000009", "Your last request took too long to complete. This is "
                          "likely due to a load issue on our side.", headers=headers)
        try:
            page, next_query = self._read(call)
        except LogRefused as refused:
            return _error(refused.status, refused.code, refused.summary, *refused.causes,
                          headers=headers)
        links = [f'<{base_url}{call.path}?{urlencode(_pairs(call))}>; rel="self"']
        if next_query is not None:
            links.append(f'<{base_url}{call.path}?{urlencode(next_query)}>; rel="next"')
        return Reply.json(200, page, {**headers, "Link": ", ".join(links)})

    def _read(self, call: Call) -> tuple[list[dict], list[tuple[str, str]] | None]:
        now = self.clock()
        limit = _limit(call.arg("limit"))
        order = call.arg("sortOrder") or "ASCENDING"
        if order not in ("ASCENDING", "DESCENDING"):
            raise LogRefused(400, "E0000001", "Api validation failed: sortOrder",
                             f"sortOrder: '{order}' is not ASCENDING or DESCENDING")
        until = _time(call.arg("until"), "until")
        # Mutually exclusive, says the reference, yet its own bounded next link holds both.
        if call.arg("after") is not None and call.arg("since") is not None and until is None:
            raise LogRefused(400, "E0000001", "Api validation failed: since",
                             "since and after cannot be used together")
        since = _time(call.arg("since"), "since")
        if since is not None and since < now - OLDEST_SINCE.total_seconds():
            raise LogRefused(400, "E0000053", "Invalid parameter: The since parameter is over "
                             "180 days prior to the current day.")
        match = _matcher(call.arg("filter"), call.arg("q"))
        kept = [s for s in self._stored if match(s.event)
                and parsed(s.event["published"]) >= now - RETENTION.total_seconds()]
        if until is None and order == "ASCENDING":
            return self._polling(call, kept, since, limit)
        return self._bounded(call, kept, since, until, order, limit)

    def _polling(self, call: Call, kept: list[_Stored], since: float | None,
                 limit: int) -> tuple[list[dict], list[tuple[str, str]]]:
        after = call.arg("after")
        if after is not None:
            position = self._position(after)
            found = [s for s in kept if s.seq > position]
        else:
            start = since if since is not None else self.clock() - DEFAULT_SPAN.total_seconds()
            found = [s for s in kept if s.stored_at >= start]
        page = found[:limit]
        # Where the next read starts: after the last event given, or, when there was no more to
        # give, after everything stored so far (later events are stored after it).
        last_given = page[-1].seq if page else found[0].seq - 1 if found else 0
        reached = len(self._stored) if len(found) <= limit else last_given
        kept_args = [(k, v) for k, v in _pairs(call) if k not in ("after", "since")]
        return [s.event for s in page], [*kept_args, ("after", f"{self._epoch}_{reached}")]

    def _bounded(self, call: Call, kept: list[_Stored], since: float | None, until: float | None,
                 order: str, limit: int) -> tuple[list[dict], list[tuple[str, str]] | None]:
        end = until if until is not None else self.clock()
        start = since if since is not None else end - DEFAULT_SPAN.total_seconds()
        found = sorted((s for s in kept if start <= parsed(s.event["published"]) < end),
                       key=lambda s: (parsed(s.event["published"]), s.seq),
                       reverse=order == "DESCENDING")
        offset = int(call.arg("after")[1:]) if (call.arg("after") or "").startswith("b") else 0
        page = found[offset:offset + limit]
        if offset + limit >= len(found):
            return [s.event for s in page], None
        kept_args = [(k, v) for k, v in _pairs(call) if k != "after"]
        return [s.event for s in page], [*kept_args, ("after", f"b{offset + limit}")]

    def _position(self, after: str) -> int:
        """The seq a polling cursor reads on after (`<epoch>_<seq>`)."""
        epoch, _, seq = after.partition("_")
        if not (epoch.isdigit() and seq.isdigit()) or int(seq) > len(self._stored):
            raise LogRefused(400, "E0000001", "Api validation failed: after",
                             f"after: '{after}' is not a cursor this org handed out")
        if int(epoch) != self._epoch:
            raise LogRefused(400, "E0000001", "Api validation failed: after",
                             "after: the cursor is no longer valid; query again with since")
        return int(seq)

    def _rate_headers(self) -> dict[str, str]:
        now = int(time.time())
        window = now - now % 60
        if window != self._window:
            self._window, self._used = window, 0
        self._used += 1
        return {"Date": formatdate(now, usegmt=True), "X-Rate-Limit-Limit": str(RATE_LIMIT),
                "X-Rate-Limit-Remaining": str(max(RATE_LIMIT - self._used, 0)),
                "X-Rate-Limit-Reset": str(window + 60)}


# -- filters ------------------------------------------------------------------------------------
_TOKEN = re.compile(r'\s*(?:(?P<open>\()|(?P<close>\))|(?P<join>and|or)\b|'
                    r'(?P<attr>[A-Za-z][\w.]*)\s+(?:(?P<op>eq|ne|sw|co|ew)\s+"(?P<value>(?:[^"\\]|\\.)*)"'
                    r'|(?P<pr>pr)\b))', re.IGNORECASE)
_OPS: dict[str, Callable[[str, str], bool]] = {
    "eq": lambda have, want: have.lower() == want.lower(),
    "ne": lambda have, want: have.lower() != want.lower(),
    "sw": lambda have, want: have.lower().startswith(want.lower()),
    "co": lambda have, want: want.lower() in have.lower(),
    "ew": lambda have, want: have.lower().endswith(want.lower()),
}


def _matcher(expression: str | None, keywords: str | None) -> Callable[[dict], bool]:
    test = _parse_filter(expression) if expression else (lambda event: True)
    words = _keywords(keywords)

    def match(event: dict) -> bool:
        if not test(event):
            return False
        text = repr(event).lower()
        return all(word in text for word in words)
    return match


def _parse_filter(expression: str) -> Callable[[dict], bool]:
    """A SCIM expression: `or` of `and` of comparisons (parentheses group); Okta's subset."""
    tokens, at = [], 0
    while at < len(expression.rstrip()):
        found = _TOKEN.match(expression, at)
        if not found or found.end() == at:
            raise _bad_filter(expression, f"Unrecognized text at position {at}")
        tokens.append(found)
        at = found.end()
    test, rest = _disjunction(expression, tokens)
    if rest:
        raise _bad_filter(expression, "Unexpected text after the expression")
    return test


def _disjunction(expression, tokens):
    left, tokens = _conjunction(expression, tokens)
    while tokens and (tokens[0]["join"] or "").lower() == "or":
        right, tokens = _conjunction(expression, tokens[1:])
        left = (lambda a, b: lambda e: a(e) or b(e))(left, right)
    return left, tokens


def _conjunction(expression, tokens):
    left, tokens = _comparison(expression, tokens)
    while tokens and (tokens[0]["join"] or "").lower() == "and":
        right, tokens = _comparison(expression, tokens[1:])
        left = (lambda a, b: lambda e: a(e) and b(e))(left, right)
    return left, tokens


def _comparison(expression, tokens):
    if not tokens:
        raise _bad_filter(expression, "Expected a comparison")
    token = tokens[0]
    if token["open"]:
        inner, rest = _disjunction(expression, tokens[1:])
        if not rest or not rest[0]["close"]:
            raise _bad_filter(expression, "Expected ')'")
        return inner, rest[1:]
    if not token["attr"]:
        raise _bad_filter(expression, "Expected an attribute")
    attribute = token["attr"]
    if attribute == "published":
        raise _bad_filter(expression, "published cannot be filtered on: use since and until")
    if token["pr"]:
        return (lambda e: any(v not in (None, "") for v in _values(e, attribute))), tokens[1:]
    op, want = _OPS[token["op"].lower()], re.sub(r"\\(.)", r"\1", token["value"])
    negative = token["op"].lower() == "ne"
    combine = all if negative else any
    return (lambda e: combine(op(str(v), want) for v in _values(e, attribute) if v is not None)
            if _values(e, attribute) else negative), tokens[1:]


def _values(event: dict, attribute: str) -> list:
    """The values at a dotted path; a list (e.g. `target`) yields each member's value."""
    found: list = [event]
    for name in attribute.split("."):
        step = []
        for value in found:
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, dict) and name in item:
                    step.append(item[name])
        found = step
    return [v for value in found for v in (value if isinstance(value, list) else [value])]


def _bad_filter(expression: str, why: str) -> LogRefused:
    return LogRefused(400, "E0000053", f"Invalid filter '{expression}': {why}")


def _keywords(text: str | None) -> list[str]:
    words = (text or "").lower().split()
    if len(words) > KEYWORDS or any(len(word) > KEYWORD_LENGTH for word in words):
        raise LogRefused(400, "E0000001", "Api validation failed: 'q': Freeform search cannot "
                         "contain items longer than 40 characters. Please shorten the items in "
                         "your search or use an advanced filter to query by specific fields.")
    return words


# -- targets and actors, as Okta writes them ------------------------------------------------------
def user_target(user: dict) -> dict:
    profile = user["profile"]
    name = " ".join(filter(None, (profile.get("firstName"), profile.get("lastName"))))
    return {"id": user["id"], "type": "User", "alternateId": profile["login"],
            "displayName": name or profile["login"], "detailEntry": None}


def group_target(group: dict) -> dict:
    return {"id": group["id"], "type": "UserGroup", "alternateId": "unknown",
            "displayName": group["profile"]["name"], "detailEntry": None}


def app_target(app: dict) -> dict:
    return {"id": app["id"], "type": "AppInstance", "alternateId": app["label"],
            "displayName": app["label"], "detailEntry": {"signOnModeType": app["signOnMode"]}}


def app_user_target(app: dict, user: dict) -> dict:
    return {"id": "0ua" + user["id"][3:], "type": "AppUser", "alternateId": user["profile"]["login"],
            "displayName": user_target(user)["displayName"], "detailEntry": None}


def role_target(role_type: str, label: str) -> dict:
    """An admin role as a privilege event names it: its label, and an id that is not its type."""
    name = "".join(part.title() for part in role_type.split("_"))
    return {"id": name, "type": "ROLE", "alternateId": role_type.lower(), "displayName": label,
            "detailEntry": None}


def client_actor(client_id: str) -> dict:
    """A service app acting through the API."""
    return {"id": client_id, "type": "PublicClientApp", "alternateId": client_id,
            "displayName": "Latchkey", "detailEntry": None}


SYSTEM_ACTOR = {"id": "system@okta.com", "type": "SystemPrincipal", "alternateId": "system@okta.com",
                "displayName": "Okta System", "detailEntry": None}


# -- small parts ----------------------------------------------------------------------------------
def iso(seconds: float) -> str:
    moment = datetime.fromtimestamp(seconds, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parsed(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _time(text: str | None, name: str) -> float | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise LogRefused(400, "E0000001", f"Api validation failed: '{name}': The date format in "
                         "your query is not recognized. Please enter dates using ISO8601 string "
                         "format.", f"{name}: must be a valid date-time or empty.")
    return moment.timestamp()


def _limit(text: str | None) -> int:
    if text is None:
        return DEFAULT_LIMIT
    if not text.isdigit() or int(text) > MAX_LIMIT:
        raise LogRefused(400, "E0000001", "Api validation failed: limit",
                         f"limit: '{text}' is not an integer between 0 and {MAX_LIMIT}")
    return int(text)


def _pairs(call: Call) -> list[tuple[str, str]]:
    return [(name, value) for name, values in call.query.items() for value in values]


def _error(status: int, code: str, summary: str, *causes: str,
           headers: dict[str, str] | None = None) -> Reply:
    return Reply.json(status, {"errorCode": code, "errorSummary": summary, "errorLink": code,
                               "errorId": "oae" + uuid.uuid4().hex[:19],
                               "errorCauses": [{"errorSummary": cause} for cause in causes]},
                      headers)
