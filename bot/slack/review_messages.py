"""The one DM each reviewer gets per campaign, and the reminders under it.

Where the DM is, is kept in the message store (under the campaign, with the reviewer as
recipient), so whatever asks again (an outbox retry, another replica, an escalation that hands
the reviewer more items, a reminder) updates that DM and replies in its thread: a reviewer is
never sent a second "assigned" DM for one campaign.
"""

from __future__ import annotations

from collections.abc import Callable

from slack_sdk import WebClient

from bot.domain.events import ReviewAssigned, ReviewReminded
from bot.domain.reviews import Campaign, ReviewItem
from bot.slack import blocks, review_blocks, wording
from bot.slack.text import clip, plain
from bot.usecases.reviews import Reviews
from storage.chat import Messages
from storage.tables import MessageRow

ROLE = "review"
ALL_AT_ONCE = 500  # items read per page when summing up a reviewer's share


def message_key(campaign_id: str) -> str:
    """What a campaign's DMs are stored under in the message store."""
    return f"review-{campaign_id}"


class ReviewMessages:
    def __init__(self, client: WebClient, messages: Messages, reviews: Callable[[], Reviews],
                 name_of: Callable[[str], str]) -> None:
        self._client, self._messages, self._reviews, self._name_of = client, messages, reviews, name_of

    def assigned(self, event: ReviewAssigned) -> None:
        """The reviewer's DM: posted once, else redrawn; an escalation that hands an existing
        reviewer more items also says so in its thread."""
        campaign = self._reviews().campaign(event.campaign_id or "")
        items, dm = self._items(campaign, event.reviewer), self._dm(campaign.id, event.reviewer)
        if dm is None:
            self._post(campaign, event.reviewer, review_blocks.review_dm(campaign, items, event.escalated))
            return
        # Their own share and what was handed over, together; the reply says what is new.
        self._update(dm, review_blocks.review_dm(campaign, items))
        if event.escalated:
            self._reply(dm, wording.review_assigned(event))

    def reminded(self, event: ReviewReminded) -> None:
        """A reply in the DM's thread, and the DM redrawn as it is now."""
        campaign = self._reviews().campaign(event.campaign_id or "")
        body = review_blocks.review_dm(campaign, self._items(campaign, event.reviewer))
        dm = self._dm(campaign.id, event.reviewer)
        if dm is None:  # its DM was never delivered: the reminder is the DM
            dm = self._post(campaign, event.reviewer, body)
        else:
            self._update(dm, body)
        self._reply(dm, wording.review_reminded(event))

    # -- Slack and the message store ------------------------------------------------------------
    def _items(self, campaign: Campaign, reviewer: str) -> list[ReviewItem]:
        reviews, found, page, pages = self._reviews(), [], 1, 1
        while page <= pages:
            items, pages = reviews.items(campaign.id, reviewer, page, ALL_AT_ONCE)
            found += items
            page += 1
        return found

    def _dm(self, campaign_id: str, reviewer: str) -> MessageRow | None:
        return next((m for m in self._messages.for_request(message_key(campaign_id), ROLE)
                     if m.recipient == reviewer), None)

    def _post(self, campaign: Campaign, reviewer: str, body: dict) -> MessageRow:
        response = self._client.chat_postMessage(channel=reviewer, **self._plain(body))
        self._messages.add(message_key(campaign.id), reviewer, ROLE, response["channel"], response["ts"])
        return MessageRow(request_id=message_key(campaign.id), recipient=reviewer, role=ROLE,
                          channel=response["channel"], ts=response["ts"])

    def _update(self, dm: MessageRow, body: dict) -> None:
        self._client.chat_update(channel=dm.channel, ts=dm.ts, **self._plain(body))

    def _reply(self, dm: MessageRow, mrkdwn: str) -> None:
        reply = self._plain(blocks.notice(mrkdwn))
        self._client.chat_postMessage(channel=dm.channel, thread_ts=dm.ts, **reply)

    def _plain(self, body: dict) -> dict:
        """The message with its `text` (what a notification shows) in plain words."""
        return {**body, "text": clip(plain(body["text"], self._name_of), 4000)}
