"""Settings from the environment and the YAML config file, each validated once at start-up.

Secrets come from the environment (directly, or through `${VAR}` in the YAML file) and are held
as SecretStr so they never end up in a log line or a repr.  Every Settings and Config made
(loaded, reloaded) hands its secrets to `masking.remember`, so that no text Latchkey stores,
shows, exports or logs can quote one.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal, TypeVar, Union
from urllib.parse import urlsplit

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.domain.policy import Policy, parse_duration
from bot.domain.rules import (
    BUNDLE,
    ApprovalStep,
    AutoApproval,
    Bundle,
    Conflict,
    EntitlementPattern,
    Rule,
    RuleBook,
    first_unfillable,
)
from bot.logs import LogFormat, LogLevel
from connectors.masking import mask, remember
from connectors.registry import CONNECTOR_TYPES
from connectors.settings import ConnectorSettings


class ConfigError(Exception):
    """The configuration cannot be used; the message names the key and what is wrong."""


def secrets_in(value) -> Iterator[str]:
    """Every SecretStr value inside `value` (a model, dict or list), e.g. each connector's token."""
    if isinstance(value, SecretStr):
        yield value.get_secret_value()
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from secrets_in(getattr(value, name))
    elif isinstance(value, dict):
        for item in value.values():
            yield from secrets_in(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from secrets_in(item)


def _duration(value) -> timedelta:
    return value if isinstance(value, timedelta) else parse_duration(value)


Duration = Annotated[timedelta, BeforeValidator(_duration)]


class CommonSettings(BaseSettings):
    """What every command reads from the environment: the database, and how to log."""

    model_config = SettingsConfigDict(extra="ignore")

    database_url: str = Field(default="sqlite:///latchkey.db", description="SQLite for one replica; "
                              "`postgresql+psycopg://user:password@host/db` for several")
    latchkey_log_level: Annotated[LogLevel, BeforeValidator(str.upper)] = Field(
        default="INFO", description="how much to log")
    latchkey_log_format: LogFormat = Field(
        default="text", description="`json`: one JSON object per line, with the Slack request id")

    @model_validator(mode="after")
    def _remember_secrets(self) -> CommonSettings:
        # Every command's settings, the Slack secrets of serve's included (secrets_in reads
        # every field of the subclass), and the database password.
        remember([*secrets_in(self), urlsplit(self.database_url).password])
        return self


class Settings(CommonSettings):
    """Process settings of `serve`, `check` and `sync`, read from environment variables of the
    same name."""

    slack_bot_token: SecretStr = Field(min_length=1, description="the Bot User OAuth Token, `xoxb-…`")
    slack_signing_secret: SecretStr = Field(
        min_length=1, description="the app's Signing Secret: verifies that HTTP requests come from Slack")
    slack_app_token: SecretStr | None = Field(
        default=None, description="an app-level token (`xapp-…`, scope `connections:write`): when set, "
        "Latchkey connects out to Slack over Socket Mode instead of receiving requests over HTTP")
    slack_api_url: str = Field(default="https://slack.com/api/", description="Slack Web API base URL "
                               "(the demo and the tests point it at the sandbox)")
    latchkey_config: Path = Field(default=Path("latchkey.yaml"), description="path of the YAML file")
    latchkey_sweep_seconds: float = Field(default=15.0, gt=0,
                                          description="how often the safety-net sweep runs")
    latchkey_reload_seconds: float = Field(default=10.0, gt=0,
                                           description="how often the config file is checked for changes")

    @field_validator("slack_api_url")
    @classmethod
    def _trailing_slash(cls, url: str) -> str:
        return url if url.endswith("/") else url + "/"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_PERSON = re.compile(r"[UW][A-Z0-9]{2,}|[^@\s]+@[^@\s]+\.[^@\s]+")
_GROUP = re.compile(r"@[a-z0-9][a-z0-9._-]*|S[A-Z0-9]{2,}")


def _approver_entries(entries: list[str] | None, groups: bool = True) -> list[str] | None:
    for entry in entries or ():
        if not (_PERSON.fullmatch(entry) or (groups and _GROUP.fullmatch(entry))):
            kinds = "a Slack user id (U…), an email address" + (
                " or a Slack user group (@handle or S…)" if groups else "")
            raise ValueError(f"{entry!r} is neither {kinds}")
    return entries


Approvers = Annotated[list[str], Field(min_length=1), AfterValidator(_approver_entries)]


class _ConnectorUse(_Strict):
    """What every connector entry says about how Latchkey uses it, whatever its type; the type's
    own keys (token, URL, …) come from its settings model in connectors/registry.py."""

    owners: list[str] = Field(min_length=1, description="the approvers unless a rule says otherwise: Slack user ids (U…), emails or Slack user groups (@handle or S…)")
    provisioning: bool = Field(default=True, description="false: approved requests become tasks "
                               "for the owners instead of API calls")
    sync_interval: Duration = Field(default=timedelta(minutes=15), description="how often the catalog is synced")

    @field_validator("owners")
    @classmethod
    def _owners_look_right(cls, owners: list[str]) -> list[str]:
        return _approver_entries(owners)


def _entry(settings: type[ConnectorSettings]) -> type[BaseModel]:
    """The YAML entry of one connector type: the type's own settings plus `_ConnectorUse`."""
    return create_model(f"{settings.__name__.removesuffix('Settings')}ConnectorConfig",
                        __base__=(_ConnectorUse, settings), __module__=__name__)


# Union[...] rather than `|`: the members come from the registry, as a tuple, at run time.
ConnectorConfig = Annotated[Union[tuple(_entry(s) for s in CONNECTOR_TYPES.values())],  # noqa: UP007
                            Field(discriminator="type")]


class StepConfig(_Strict):
    approvers: Approvers | None = Field(default=None, description="who approves this step; "
                                        "default: the connector's owners")
    approvals: int = Field(default=1, ge=1, le=10, description="distinct people of this step who must approve")


class TicketConfig(_Strict):
    required: bool = Field(default=True, description="a request without a ticket is refused")
    pattern: str | None = Field(default=None, description="a regular expression the whole "
                                "reference must match, e.g. `(SEC|OPS)-[0-9]+`")

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, pattern: str | None) -> str | None:
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"not a regular expression: {exc}") from None
        return pattern


class AutoApproveConfig(_Strict):
    okta_groups: list[str] = Field(default=[], description="Okta group names: members are approved at once")
    slack_groups: list[Annotated[str, Field(pattern=_GROUP.pattern)]] = Field(
        default=[], description="Slack user groups (@handle or S…): members are approved at once")
    max_uses: int | None = Field(default=None, ge=1, description="auto-approvals per person within "
                                 "`period`; later requests go to the approvers")
    period: Duration = Field(default=timedelta(days=1), description="the window `max_uses` counts in")

    @model_validator(mode="after")
    def _names_someone(self) -> AutoApproveConfig:
        if not self.okta_groups and not self.slack_groups:
            raise ValueError("name at least one of okta_groups or slack_groups")
        return self

    def build(self) -> AutoApproval:
        return AutoApproval(tuple(self.okta_groups), tuple(self.slack_groups), self.max_uses, self.period)


class _RuleSettings(_Strict):
    """What a rule may set; a rule inherits whatever it leaves out from the policy itself."""

    durations: list[Duration] | None = Field(default=None, min_length=1,
                                             description="the durations a requester may pick")
    max_duration: Duration | None = Field(default=None, description="the longest access anyone may "
                                          "get; longer choices are not offered")
    max_total_duration: Duration | None = Field(
        default=None, description="the longest the access may be held in all, from the first grant, "
        "extensions included, without people approving; an extension past it goes to the approvers "
        "(default: `max_duration`)")
    approvers: Approvers | None = Field(default=None, description="who approves (one step); "
                                        "default: the connector's owners")
    approvals: int | None = Field(default=None, ge=1, le=10, description="distinct approvers needed")
    steps: list[StepConfig] | None = Field(default=None, min_length=1, description="several "
                                           "approval steps in order, instead of approvers/approvals")
    fallback: Approvers | None = Field(default=None, description="asked when the approvers cannot "
                                       "be (none reachable, or only the requester), and on escalation")
    escalate_after: int | None = Field(default=None, ge=1, description="reminders before the "
                                       "fallback approvers are asked too")
    justification_required: bool | None = Field(default=None, description="a request must say why")
    ticket: TicketConfig | None = Field(default=None, description="ask for a ticket reference")
    auto_approve: AutoApproveConfig | None = Field(default=None, description="approve at once "
                                                   "for members of these groups")
    break_glass: bool | None = Field(default=None, description="requesters may approve themselves "
                                     "in an emergency; the fallback approvers are told and review it")
    extension_needs_approval: bool | None = Field(default=None, description="false: holders may "
                                                  "extend their access without asking again")
    remind_after: Duration | None = Field(default=None, description="first reminder to approvers "
                                          "of a pending request; later ones back off")
    pending_timeout: Duration | None = Field(default=None, description="a request nobody decided "
                                             "by then times out")
    warn_before: Duration | None = Field(default=None, description="warn the requester this long "
                                         "before the access ends")

    @model_validator(mode="after")
    def _steps_or_approvers(self):
        if self.steps and {"approvers", "approvals"} & self.model_fields_set:
            raise ValueError("use either `steps` or `approvers`/`approvals`, not both")
        if self.break_glass and self.justification_required is False:
            raise ValueError("break_glass needs a justification: drop justification_required: false")
        return self


class MatchConfig(_Strict):
    connector: str | None = Field(default=None, description="connector id (glob)")
    type: str | None = Field(default=None, description="resource type, e.g. group, app, role (glob)")
    resource: str | None = Field(default=None, description="resource name (glob), e.g. `prod-*`")


class RuleConfig(_RuleSettings):
    """A rule may set any of the policy's own keys above except `rules`, `conflicts`, `bundles` and
    `max_requests_per_hour`; what it leaves unset it takes from the policy."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$", description="shown in the audit log")
    match: MatchConfig = Field(default_factory=MatchConfig, description="what the rule applies to "
                               "(empty: everything); rules are tried in order and the first match wins")


class ConflictConfig(_Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$", description="shown to people and in the audit log")
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

    def build(self) -> Conflict:
        first, second = map(EntitlementPattern.parse, self.entitlements)
        return Conflict(self.name, first, second, self.action, tuple(self.approvers or ()))


class BundleConfig(_Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$", description="what requesters search for")
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

    def build(self) -> Bundle:
        return Bundle(self.name, tuple((p.connector, p.name) for p in map(EntitlementPattern.parse, self.items)),
                      self.description)


class PolicyConfig(_RuleSettings):
    durations: list[Duration] = Field(min_length=1, description="the durations a requester may pick")
    max_duration: Duration = Field(description="the longest access anyone may get; longer choices are not offered")
    approvals: int = Field(default=1, ge=1, le=10, description="distinct owners who must approve")
    escalate_after: int = Field(default=2, ge=1, description="reminders before the fallback "
                                "approvers are asked too")
    justification_required: bool = Field(default=True, description="a request must say why")
    break_glass: bool = Field(default=False, description="requesters may approve themselves in an "
                              "emergency; the fallback approvers are told and review it")
    extension_needs_approval: bool = Field(default=True, description="false: holders may extend "
                                           "their access without asking again")
    max_requests_per_hour: int = Field(default=20, ge=1, description="requests one person may make per hour")
    remind_after: Duration | None = Field(default=timedelta(hours=4), description="first reminder to "
                                          "approvers of a pending request; later ones back off; null: none")
    pending_timeout: Duration = Field(default=timedelta(days=3), description="a request nobody "
                                      "decided by then times out")
    warn_before: Duration | None = Field(default=timedelta(minutes=15), description="warn the "
                                         "requester this long before the access ends; null: never")
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
            if not all(step.approvers for step in rule.steps) or any(_GROUP.fullmatch(entry) for entry in named):
                continue
            short = first_unfillable([(step.approvals, [*step.approvers, *rule.fallback])
                                      for step in rule.steps])
            if short is not None:
                where = f"rule {rule.name!r}" if rule is not rules.default else "policy"
                raise ValueError(f"{where}: step {short + 1} can never be approved: nobody "
                                 "counts twice, not even across steps, and too few people are "
                                 "named for it (add approvers or a fallback)")
        return self

    def to_rulebook(self) -> RuleBook:
        return RuleBook(self._rule("default", self), tuple(self._rule(r.name, r) for r in self.rules),
                        tuple(c.build() for c in self.conflicts), self.max_requests_per_hour,
                        tuple(b.build() for b in self.bundles))

    def _rule(self, name: str, settings: _RuleSettings) -> Rule:
        def inherited(key: str):
            # A rule's unset key (or `null` left out) falls back to the policy's own setting.
            return getattr(self, key) if key not in settings.model_fields_set else getattr(settings, key)

        policy = Policy(tuple(inherited("durations")), inherited("max_duration"),
                        remind_after=inherited("remind_after"),
                        pending_timeout=inherited("pending_timeout") or self.pending_timeout,
                        warn_before=inherited("warn_before"), max_total=inherited("max_total_duration"))
        if settings.steps:
            steps = tuple(ApprovalStep(tuple(s.approvers or ()), s.approvals) for s in settings.steps)
        elif settings is not self and ({"approvers", "approvals"} & settings.model_fields_set):
            steps = (ApprovalStep(tuple(settings.approvers or self.approvers or ()),
                                  settings.approvals or self.approvals),)
        elif self.steps:
            steps = tuple(ApprovalStep(tuple(s.approvers or ()), s.approvals) for s in self.steps)
        else:
            steps = (ApprovalStep(tuple(self.approvers or ()), self.approvals),)
        ticket, auto = inherited("ticket"), inherited("auto_approve")
        justification = inherited("justification_required")
        return Rule(
            name=name, policy=policy, steps=steps,
            connector=getattr(getattr(settings, "match", None), "connector", None),
            resource_type=getattr(getattr(settings, "match", None), "type", None),
            resource=getattr(getattr(settings, "match", None), "resource", None),
            fallback=tuple(inherited("fallback") or ()),
            escalate_after=inherited("escalate_after"),
            justification_required=justification,
            ticket_required=bool(ticket and ticket.required),
            ticket_pattern=ticket.pattern if ticket else None,
            auto_approve=auto.build() if auto else None,
            break_glass=inherited("break_glass"),
            extension_needs_approval=inherited("extension_needs_approval"))


class Config(_Strict):
    connectors: dict[str, ConnectorConfig] = Field(
        min_length=1, description="the systems Latchkey grants access in, by id (shown to users)")
    policy: PolicyConfig = Field(description="what may be requested, and how it is approved")
    audit_channel: str | None = Field(default=None, pattern=r"^[CG][A-Z0-9]{2,}$", description=
                                      "a Slack channel id (C…) that gets one line per audit event; "
                                      "invite the app to it")

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
    def _policy_can_be_kept(self) -> Config:
        """Guarantees the config alone can break (bot/invariants.py checks them again at run time)."""
        book = self.policy.to_rulebook()
        owners = {connector_id: tuple(c.owners) for connector_id, c in self.connectors.items()}
        if problems := book.unreviewable_break_glass(owners) + book.weaker_bundles():
            raise ValueError("policy: " + "; ".join(problems))
        return self


_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _expand(node, path: str, env):
    """Replace ${VAR} in every string, naming the key when a variable is not set."""
    if isinstance(node, dict):
        return {k: _expand(v, f"{path}.{k}" if path else str(k), env) for k, v in node.items()}
    if isinstance(node, list):
        return [_expand(v, f"{path}[{i}]", env) for i, v in enumerate(node)]
    if isinstance(node, str):
        def value_of(match: re.Match) -> str:
            if match.group(1) not in env:
                raise ConfigError(f"{path}: environment variable {match.group(1)} is not set")
            return env[match.group(1)]
        return _ENV_REF.sub(value_of, node)
    return node


def parse_config(text: str, source: str = "config", env=None) -> Config:
    env = os.environ if env is None else env
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping with `connectors` and `policy`")
    try:
        return Config.model_validate(_expand(raw, "", env))
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    except ValidationError as exc:
        problems = "; ".join(_describe(e) for e in exc.errors())
        raise ConfigError(f"{source}: " + mask_env_values(problems, text, env)) from None


def mask_env_values(message: str, text: str, env) -> str:
    """`message` with the value of every ${VAR} that `text` uses written back as `${VAR}`.

    Validation messages may quote a value (`'…' is neither a Slack user id …`), and the value
    may have come from a secret in the environment: the message goes to logs and the audit log.
    """
    return mask(message, also={env[name]: f"${{{name}}}" for name in set(_ENV_REF.findall(text))
                               if env.get(name)})


def load_config(path: Path, env=None) -> Config:
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    return parse_config(text, str(path), env)


def _describe(error: dict) -> str:
    loc = list(error["loc"])
    if len(loc) > 2 and loc[0] == "connectors" and loc[2] in CONNECTOR_TYPES:
        del loc[2]  # pydantic names the union member; the operator knows it as `type`
    key = ".".join(str(part) for part in loc) or "(top level)"
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown key"
    return f"{key}: {message}"


_Settings = TypeVar("_Settings", bound=CommonSettings)


def load_settings(kind: type[_Settings] = Settings) -> _Settings:  # type: ignore[assignment]
    """The settings of `kind` from the environment; a ConfigError names each bad variable."""
    try:
        return kind()
    except ValidationError as exc:
        problems = "; ".join(f"{str(e['loc'][0]).upper()}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"environment: {problems}") from None
