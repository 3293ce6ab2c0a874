"""People as Slack knows them: user id ⇄ email, cached in storage."""

from __future__ import annotations

import logging
from datetime import timedelta

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.ports import Clock, Person
from storage.repositories import People

log = logging.getLogger(__name__)

FRESH_FOR = timedelta(hours=1)  # an email change in Slack reaches Latchkey within this time


class SlackDirectory:
    def __init__(self, client: WebClient, people: People, clock: Clock) -> None:
        self._client, self._people, self._clock = client, people, clock

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

    def person_for_email(self, email: str) -> Person | None:
        try:
            user = self._client.users_lookupByEmail(email=email)["user"]
        except SlackApiError as exc:
            if exc.response.get("error") == "users_not_found":
                return None
            raise
        return Person(user["id"], email.lower(), user.get("real_name") or user.get("name", ""))
