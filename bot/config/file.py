"""The YAML config file as a whole: the connectors, the policy, the audit channel, and the
guarantees that only the sections together can break.

Every Config made (loaded, reloaded) hands its secrets to `masking.remember`, so that no text
Latchkey stores, shows, exports or logs can quote one.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field, field_validator, model_validator

from bot.config.connector_entries import ConnectorConfig
from bot.config.fields import Strict, secrets_in
from bot.config.on_call import OnCallConfig, lookups_named
from bot.config.policy import PolicyConfig
from bot.config.reviews import ReviewConfig, unique_names
from bot.domain.review_spec import CampaignSpec
from bot.domain.rules import BUNDLE, Match, Target
from connectors.masking import remember


class Config(Strict):
    connectors: dict[str, ConnectorConfig] = Field(
        min_length=1, description="the systems Latchkey grants access in, by id (shown to users)")
    policy: PolicyConfig = Field(description="what may be requested, and how it is approved")
    audit_channel: str | None = Field(default=None, pattern=r"^[CG][A-Z0-9]{2,}$", description=
                                      "a Slack channel id (C…) that gets one line per audit event; "
                                      "invite the app to it")
    on_call: OnCallConfig | None = Field(default=None, description="the on-call services rules may "
                                         "ask who is on call now (`auto_approve.on_call`, approvers "
                                         "`on_call:<source>/<schedule>`)")
    reviews: Annotated[list[ReviewConfig], AfterValidator(unique_names)] = Field(
        default=[], description="access reviews: campaigns that ask reviewers, holding by holding, "
        "whether access in their scope should stay")

    @field_validator("connectors")
    @classmethod
    def _ids_are_slugs(cls, connectors: dict) -> dict:
        for key in connectors:
            if not re.fullmatch(r"[a-z][a-z0-9_-]{0,31}", key):
                raise ValueError(f"connector id {key!r} must be lower-case letters, digits, - or _")
            if key == BUNDLE:
                raise ValueError(f"connector id {key!r} is reserved for bundles")
        return connectors

    @model_validator(mode="after")
    def _remember_secrets(self) -> Config:
        remember(secrets_in(self))  # at start-up and at every reload
        return self

    @model_validator(mode="after")
    def _bundles_name_connectors(self) -> Config:
        for bundle in self.policy.bundles:
            for item in bundle.items:
                if (connector := item.partition(":")[0]) not in self.connectors:
                    raise ValueError(f"policy.bundles {bundle.name!r}: no connector {connector!r} "
                                     f"for item {item!r}")
        return self

    @model_validator(mode="after")
    def _on_call_sources_configured(self) -> Config:
        configured = self.on_call.sources() if self.on_call else set()
        for where, source, _, _ in lookups_named(self.policy):
            if source not in configured:
                raise ValueError(f"policy: {where} asks {source} who is on call, but `on_call:` "
                                 f"does not configure {source}")
        return self

    @model_validator(mode="after")
    def _step_up_has_okta(self) -> Config:
        """Okta Verify pushes are sent through an Okta connector: without one, nobody could
        approve under a rule that asks for step-up."""
        stepping_up = [rule.name for rule in self.policy.rules if rule.step_up] + \
            (["(the default rule)"] if self.policy.step_up else [])
        if stepping_up and not any(c.type == "okta" for c in self.connectors.values()):
            raise ValueError(f"policy: step_up: okta_verify needs an Okta connector to send the push "
                             f"with (rule {', '.join(stepping_up)})")
        return self

    @model_validator(mode="after")
    def _reviews_cover_connectors(self) -> Config:
        for review in self.reviews:
            for match in review.scope:
                if not any(Match(connector=match.connector).matches(Target(connector, "", ""))
                           for connector in self.connectors):
                    raise ValueError(f"reviews {review.name!r}: scope connector {match.connector!r} "
                                     f"matches no connector (have: {', '.join(self.connectors)})")
        return self

    def campaigns(self) -> tuple[CampaignSpec, ...]:
        """The configured access reviews, as the domain knows them."""
        return tuple(review.to_spec() for review in self.reviews)

    @model_validator(mode="after")
    def _policy_can_be_kept(self) -> Config:
        """Guarantees the config alone can break (bot/invariants.py checks them again at run time)."""
        book = self.policy.to_rulebook()
        owners = {connector_id: tuple(c.owners) for connector_id, c in self.connectors.items()}
        if problems := book.unreviewable_break_glass(owners) + book.weaker_bundles():
            raise ValueError("policy: " + "; ".join(problems))
        return self
