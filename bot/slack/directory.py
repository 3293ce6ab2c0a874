"""People as Slack knows them: user id ⇄ email, cached in storage; user groups ⇄ members."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.ports import Clock, Person
from storage.chat import People

log = logging.getLogger(__name__)

FRESH_FOR = timedelta(hours=1)  # an email change in Slack reaches Latchkey within this time
# A handle not in the cached group list is looked up again after this long: a group created
# just before the policy names it is found without waiting FRESH_FOR, while a misspelt handle
# costs at most one usergroups.list call (Tier 2, ~20 a minute) per minute.
RECHECK_MISS_AFTER = timedelta(minutes=1)


class SlackDirectory:
    def __init__(self, client: WebClient, people: People, clock: Clock) -> None:
        self._client, self._people, self._clock = client, people, clock
        self._groups: tuple[datetime, dict[str, str]] | None = None  # (fetched at, id by handle/id)

    def person(self, user_id: str) -> Person:
        """The Slack user with their profile email (users.info), from cache when fresh."""
        cached = self._people.get(user_id)
        if cached and self._clock.now() - cached.fetched_at < FRESH_FOR:
            return Person(user_id, cached.email, cached.name)
        try:
            user = self._client.users_info(user=user_id)["user"]
        except SlackApiError:
            if cached:  # better a slightly stale email than no answer at all
                return Person(user_id, cached.email, cached.name)
            raise
        email = None if user.get("deleted") or user.get("is_bot") else user.get("profile", {}).get("email")
        name = user.get("real_name") or user.get("name") or user_id
        self._people.put(user_id, email, name, self._clock.now())
        return Person(user_id, email and email.lower(), name)

    def name(self, user_id: str) -> str:
        """What to call someone in a notification; "someone" when Slack cannot say."""
        try:
            return self.person(user_id).name
        except Exception as exc:  # a name is a nicety: the message must still go out
            log.warning("no name for %s (%s)", user_id, exc)
            return "someone"

    def person_for_email(self, email: str) -> Person | None:
        try:
            user = self._client.users_lookupByEmail(email=email)["user"]
        except SlackApiError as exc:
            if exc.response.get("error") == "users_not_found":
                return None
            raise
        return Person(user["id"], email.lower(), user.get("real_name") or user.get("name", ""))

    def members_of_group(self, group: str) -> list[str] | None:
        """The user ids in the enabled group with this handle ("@h" or "h") or id ("S…").

        Membership is read afresh each time (usergroups.users.list) so that someone taken out of
        the group stops being asked at once; only the handle → id map is cached.
        """
        group_id = self._group_id(group.strip().removeprefix("@"))
        if group_id is None:
            return None
        try:
            return list(self._client.usergroups_users_list(usergroup=group_id)["users"])
        except SlackApiError as exc:
            if exc.response.get("error") == "no_such_subteam":  # disabled since we listed it
                return None
            raise

    def _group_id(self, name: str) -> str | None:
        ids = self._group_ids(max_age=FRESH_FOR)
        if name not in ids and name.lower() not in ids:
            ids = self._group_ids(max_age=RECHECK_MISS_AFTER)
        return ids.get(name) or ids.get(name.lower())

    def _group_ids(self, max_age: timedelta) -> dict[str, str]:
        """Enabled groups' ids by id and by lowercase handle (usergroups.list lists no disabled
        ones), fetched again once older than `max_age`."""
        now = self._clock.now()
        if self._groups and now - self._groups[0] < max_age:
            return self._groups[1]
        groups = self._client.usergroups_list()["usergroups"]
        ids = {g["id"]: g["id"] for g in groups} | {g["handle"].lower(): g["id"] for g in groups}
        self._groups = (now, ids)  # one assignment: threads sharing the directory see old or new
        return ids
