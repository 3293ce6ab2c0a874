"""The `policy:` section of the YAML file: its rules, approval steps, tickets, auto-approval,
conflicts and bundles.

Each setting of a rule is declared once, in `RuleSettings`, with the policy's default: the
policy is the default rule.  A rule (`RuleConfig`) has the same keys, each optional, and takes
from the policy whatever it leaves unset (bot/config/rulebook.py).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, SecretStr, create_model, field_validator, model_validator
from pydantic.fields import FieldInfo

from bot.config.fields import GROUP, ON_CALL, Approvers, Duration, Strict
from bot.config.on_call import OnCallRuleConfig
from bot.config.rulebook import to_rulebook
from bot.domain.rules import EntitlementPattern, RuleBook, first_unfillable

_NAME = r"^[a-z0-9][a-z0-9_-]{0,63}$"


class StepConfig(Strict):
    approvers: Approvers | None = Field(default=None, description="who approves this step; "
                                        "default: the connector's owners")
    approvals: int = Field(default=1, ge=1, le=10, description="distinct people of this step who must approve")


class JiraConfig(Strict):
    url: str = Field(pattern=r"^https?://[^/\s]+/?$", description="the Jira Cloud site, e.g. "
                     "`https://acme.atlassian.net`")
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+$", description="the Atlassian account the "
                       "API token belongs to")
    token: SecretStr = Field(min_length=1, description="its API token (use ${ENV_VAR})")
    must_be_open: bool = Field(default=True, description="refuse a ticket whose status is in "
                               "the done category")
    must_be_assigned_to_requester: bool = Field(default=False, description="refuse a ticket "
                                                "assigned to anyone but the requester")

    @field_validator("url")
    @classmethod
    def _no_trailing_slash(cls, url: str) -> str:
        return url.rstrip("/")


class TicketConfig(Strict):
    required: bool = Field(default=True, description="a request without a ticket is refused")
    pattern: str | None = Field(default=None, description="a regular expression the whole "
                                "reference must match, e.g. `(SEC|OPS)-[0-9]+`")
    jira: JiraConfig | None = Field(default=None, description="check the ticket in Jira Cloud "
                                    "when the request is made (after `pattern`); the approvers "
                                    "see its summary and status")
    end_with_ticket: bool = Field(default=False, description="end the access early when the "
                                  "ticket is resolved (needs `jira`)")

    @model_validator(mode="after")
    def _end_needs_jira(self) -> TicketConfig:
        if self.end_with_ticket and self.jira is None:
            raise ValueError("end_with_ticket needs `jira` to know when the ticket is resolved")
        return self

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, pattern: str | None) -> str | None:
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"not a regular expression: {exc}") from None
        return pattern


class AutoApproveConfig(Strict):
    okta_groups: list[str] = Field(default=[], description="Okta group names: members are approved at once")
    slack_groups: list[Annotated[str, Field(pattern=GROUP.pattern)]] = Field(
        default=[], description="Slack user groups (@handle or S…): members are approved at once")
    max_uses: int | None = Field(default=None, ge=1, description="auto-approvals per person within "
                                 "`period`; later requests go to the approvers")
    period: Duration = Field(default=timedelta(days=1), description="the window `max_uses` counts in")
    on_call: OnCallRuleConfig | None = Field(default=None, description="whoever is on call now in "
                                             "these schedules or escalation policies is approved at "
                                             "once; a lookup that fails leaves the request to people")

    @model_validator(mode="after")
    def _names_someone(self) -> AutoApproveConfig:
        if not self.okta_groups and not self.slack_groups and not self.on_call:
            raise ValueError("name at least one of okta_groups, slack_groups or on_call")
        return self


class EndSessionsConfig(Strict):
    oauth_tokens: bool = Field(default=False, description="also revoke the OpenID Connect and OAuth "
                               "tokens issued to the person")


class _RuleChecks(Strict):
    """What must hold among the keys one rule sets, for the policy and each rule alike."""

    @model_validator(mode="after")
    def _steps_or_approvers(self) -> Any:
        settings: Any = self  # the keys are those of RuleSettings, or of a rule's copy of them
        if settings.steps and {"approvers", "approvals"} & self.model_fields_set:
            raise ValueError("use either `steps` or `approvers`/`approvals`, not both")
        if settings.break_glass and settings.justification_required is False:
            raise ValueError("break_glass needs a justification: drop justification_required: false")
        return self


class RuleSettings(_RuleChecks):
    """The settings of one rule, declared once, with the policy's own values as defaults."""

    durations: list[Duration] = Field(min_length=1, description="the durations a requester may pick")
    max_duration: Duration = Field(description="the longest access anyone may get; longer choices are not offered")
    max_total_duration: Duration | None = Field(
        default=None, description="the longest the access may be held in all, from the first grant, "
        "extensions included, without people approving; an extension past it goes to the approvers "
        "(default: `max_duration`)")
    approvers: Approvers | None = Field(default=None, description="who approves (one step); "
                                        "default: the connector's owners")
    approvals: int = Field(default=1, ge=1, le=10, description="distinct approvers who must approve")
    steps: list[StepConfig] | None = Field(default=None, min_length=1, description="several "
                                           "approval steps in order, instead of approvers/approvals")
    fallback: Approvers | None = Field(default=None, description="asked when the approvers cannot "
                                       "be (none reachable, or only the requester), and on escalation")
    escalate_after: int = Field(default=2, ge=1, description="reminders before the fallback "
                                "approvers are asked too")
    justification_required: bool = Field(default=True, description="a request must say why")
    ticket: TicketConfig | None = Field(default=None, description="ask for a ticket reference")
    auto_approve: AutoApproveConfig | None = Field(default=None, description="approve at once "
                                                   "for members of these groups, or whoever is on call")
    break_glass: bool = Field(default=False, description="requesters may approve themselves in an "
                              "emergency; the fallback approvers are told and review it")
    request_for: list[Literal["managers", "approvers", "anyone"]] | None = Field(
        default=None, description="who may file a request for someone else, the access going to "
        "that person: `managers` (their manager per the Okta profile's `managerId`), `approvers` "
        "(an approver of this rule), `anyone`; default: nobody. Such a request is never "
        "auto-approved nor break-glass")
    extension_needs_approval: bool = Field(default=True, description="false: holders may extend "
                                           "their access without asking again")
    end_sessions: bool | EndSessionsConfig = Field(
        default=False, description="when the access ends, also sign the person out of every "
        "session (Okta: their sessions, and with `{oauth_tokens: true}` their OAuth tokens), so a "
        "session opened before cannot keep using it; they must sign in again everywhere")
    step_up: Literal["okta_verify"] | None = Field(
        default=None, description="an approval (a break-glass review, an extension's approval) "
        "counts only once the approver accepts an Okta Verify push Latchkey sends to their phone")
    remind_after: Duration | None = Field(default=timedelta(hours=4), description="first reminder to "
                                          "approvers of a pending request; later ones back off; null: none")
    pending_timeout: Duration = Field(default=timedelta(days=3), description="a request nobody "
                                      "decided by then times out")
    warn_before: Duration | None = Field(default=timedelta(minutes=15), description="warn the "
                                         "requester this long before the access ends; null: never")
    approval_channel: str | None = Field(default=None, pattern=r"^[CG][A-Z0-9]{2,}$", description=(
        "a Slack channel id (C…) where each request is posted once with Approve / Deny; any "
        "eligible approver may decide there (invite the app to the channel)"))
    notify: Literal["dm", "channel", "both"] = Field(default="dm", description=(
        "how approvers are asked: `dm` each of them, once in the `approval_channel`, or `both`; "
        "reminders go as replies in the request's thread"))


def _inheriting(model: type[BaseModel]) -> type[_RuleChecks]:
    """`model`'s keys with their types, limits and descriptions, each optional and unset unless
    given: what a rule may set, inheriting the rest."""
    return create_model(f"Inheriting{model.__name__}", __base__=_RuleChecks, __module__=__name__,
                        **{key: (_or_none(field), Field(default=None, description=field.description))
                           for key, field in model.model_fields.items()})


def _or_none(field: FieldInfo) -> Any:
    # The limits and validators go inside the union, where they check a value but not a null.
    typed = Annotated[(field.annotation, *field.metadata)] if field.metadata else field.annotation
    return typed | None


class MatchConfig(Strict):
    connector: str | None = Field(default=None, description="connector id (glob)")
    type: str | None = Field(default=None, description="resource type, e.g. group, app, role (glob)")
    resource: str | None = Field(default=None, description="resource name (glob), e.g. `prod-*`")


class RuleConfig(_inheriting(RuleSettings)):  # type: ignore[misc]
    """A rule may set any of the policy's own keys above except `rules`, `conflicts`, `bundles` and
    `max_requests_per_hour`; what it leaves unset it takes from the policy."""

    name: str = Field(pattern=_NAME, description="shown in the audit log")
    match: MatchConfig = Field(default_factory=MatchConfig, description="what the rule applies to "
                               "(empty: everything); rules are tried in order and the first match wins")


class ConflictConfig(Strict):
    name: str = Field(pattern=_NAME, description="shown to people and in the audit log")
    entitlements: Annotated[list[str], Field(min_length=2, max_length=2)] = Field(
        description="two `connector:name` globs that nobody may hold together, e.g. `okta:payments-*`")
    action: Literal["refuse", "approve"] = Field(default="refuse", description="`refuse` the "
                                                 "request, or `approve`: it needs an extra step")
    approvers: Approvers | None = Field(default=None, description="that extra step's approvers")

    @field_validator("entitlements")
    @classmethod
    def _patterns(cls, entitlements: list[str]) -> list[str]:
        for text in entitlements:
            EntitlementPattern.parse(text)
        return entitlements

    @model_validator(mode="after")
    def _approvers_when_approving(self) -> ConflictConfig:
        if self.action == "approve" and not self.approvers:
            raise ValueError("action: approve needs `approvers` for the extra step")
        return self


class BundleConfig(Strict):
    name: str = Field(pattern=_NAME, description="what requesters search for")
    description: str = Field(default="", max_length=500, description="shown to approvers")
    items: Annotated[list[str], Field(min_length=2, max_length=20)] = Field(
        description="`connector:name` of each entitlement (its name as the request form shows it, "
                    "or its resource's name), e.g. `okta:eng-admins`")

    @field_validator("items")
    @classmethod
    def _references(cls, items: list[str]) -> list[str]:
        for text in items:
            EntitlementPattern.parse(text)
        if len(set(items)) != len(items):
            raise ValueError("an item is listed twice")
        return items


class PolicyConfig(RuleSettings):
    max_requests_per_hour: int = Field(default=20, ge=1, description="requests one person may make per hour")
    rules: list[RuleConfig] = Field(default=[], description="exceptions to the settings above, "
                                    "tried in order; the first that matches a request governs it")
    conflicts: list[ConflictConfig] = Field(default=[], description="separation of duties: pairs "
                                            "of entitlements that must not be held together")
    bundles: list[BundleConfig] = Field(default=[], description="sets of entitlements requested and "
                                        "granted together; rules match them with `type: bundle`")

    @model_validator(mode="after")
    def _something_offered(self) -> PolicyConfig:
        for rule in (self, *self.rules):
            durations = rule.durations or self.durations
            where = f"rule {rule.name!r}" if rule is not self else "policy"
            if not any(d <= (rule.max_duration or self.max_duration) for d in durations):
                raise ValueError(f"{where}: no duration in `durations` is within `max_duration`")
            total = rule.max_total_duration or self.max_total_duration
            if total is not None and total < (rule.max_duration or self.max_duration):
                raise ValueError(f"{where}: `max_total_duration` is shorter than `max_duration`")
        names = [rule.name for rule in self.rules]
        if len(set(names)) != len(names) or "default" in names:
            raise ValueError("rule names must be unique and not `default`")
        return self

    @model_validator(mode="after")
    def _steps_can_be_completed(self) -> PolicyConfig:
        """Refuse steps that could never all be approved, where the config alone tells: every
        step names its approvers, and neither they nor the fallback are user groups (whose
        size is not known yet).  Names are taken as distinct people and the requester as none
        of them, so only a rule that fails even then is refused; the rest is checked for each
        request when it is made (routing.missing_approvers)."""
        rules = self.to_rulebook()
        for rule in (rules.default, *rules.rules):
            named = [entry for step in rule.steps for entry in step.approvers] + list(rule.fallback)
            if not all(step.approvers for step in rule.steps) or any(
                    GROUP.fullmatch(entry) or ON_CALL.fullmatch(entry) for entry in named):
                continue
            short = first_unfillable([(step.approvals, [*step.approvers, *rule.fallback])
                                      for step in rule.steps])
            if short is not None:
                where = f"rule {rule.name!r}" if rule is not rules.default else "policy"
                raise ValueError(f"{where}: step {short + 1} can never be approved: nobody "
                                 "counts twice, not even across steps, and too few people are "
                                 "named for it (add approvers or a fallback)")
        return self

    @model_validator(mode="after")
    def _channels_named(self) -> PolicyConfig:
        rules = self.to_rulebook()
        for rule in (rules.default, *rules.rules):
            if problem := rule.notify.problem():
                where = f"rule {rule.name!r}" if rule is not rules.default else "policy"
                raise ValueError(f"{where}: {problem}")
        return self

    def to_rulebook(self) -> RuleBook:
        """The domain's rules for this policy (bot/config/rulebook.py)."""
        return to_rulebook(self)
