"""Clients and their contracts, from the YAML config file (default ``tempodesk.yaml``).

A client's ``sla`` block names a preset and overrides any part of it in place: the two are
deep-merged *before* validation, so an error points at the exact key the user wrote.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from domain.alerts import AlertRules
from domain.attachments import RESERVED_CLIENT_IDS, FileLimits
from domain.errors import explain
from domain.incidents import IncidentRules
from domain.mail_config import MailConfig
from domain.msp import MspConfig
from domain.person import Person
from domain.rates import parse_rate
from domain.reviews import ReviewConfig
from domain.roles import Role
from domain.sla.durations import parse_duration
from domain.sla.policy import SlaPolicy
from domain.sla.presets import PRESETS, deep_merge
from domain.sla.priority import PriorityMatrix

_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def hash_api_key(key: str) -> str:
    """API keys are long random tokens, so a plain SHA-256 is enough to store them safely
    (a slow password hash would only slow every request down)."""
    return hashlib.sha256(key.encode()).hexdigest()


class ApiKey(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(description="a name for the key, shown in audit records")
    role: Role
    sha256: str = Field(description="hex SHA-256 of the key: `tempodesk config hash-key KEY`")
    email: str | None = Field(None, description="whose key it is (a director's key names "
                              "the director, one of the client's `directors`)")

    @field_validator("sha256")
    @classmethod
    def _hex(cls, value: str) -> str:
        value = value.strip().lower()
        if not _HEX64.match(value):
            raise ValueError("not a SHA-256: store 64 hex characters from "
                             "`tempodesk config hash-key KEY`, never the key itself")
        return value


class Webhook(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str
    secret: str = Field(description="Standard Webhooks secret, 'whsec_' + base64")
    format: str = Field("standard", pattern="^(standard|slack|teams)$")
    events: list[str] | None = Field(None, max_length=50, description="only these notice "
                                     "events (e.g. [sla_breached, escalated]); omit for all")

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("webhook url must start with https:// (or http:// for testing)")
        return value


class Notifications(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: list[str] = Field(default_factory=list, description="service-desk mailboxes")
    domains: list[str] = Field(default_factory=list, description="the client's own e-mail "
                               "domains: its people may be mailed without confirmation")
    webhooks: list[Webhook] = Field(default_factory=list)

    @field_validator("domains")
    @classmethod
    def _domains(cls, value: list[str]) -> list[str]:
        return _domain_list(value)


def _domain_list(value: list[str]) -> list[str]:
    for domain in value:
        if "@" in domain or "." not in domain or " " in domain:
            raise ValueError(f"{domain!r} is not a domain: write e.g. 'client.example'")
    return [d.lower().strip(".") for d in value]


class Providers(BaseModel):
    model_config = ConfigDict(extra="forbid")
    graph_tenant: str | None = Field(None, max_length=64, description="the client's Entra "
                                     "tenant id or domain (Microsoft Graph)")
    datto_site_uid: str | None = Field(None, max_length=64, description="the client's site "
                                       "in Datto RMM (new devices are enrolled there)")
    usage_location: str | None = Field(None, pattern=r"^[A-Z]{2}$", description="new users' "
                                       "licence country (ISO 3166); default: the calendar's")
    edr_component: str | None = Field(None, max_length=64, description="Datto RMM component "
                                      "uid that installs the EDR agent (SentinelOne)")
    backup_component: str | None = Field(None, max_length=64, description="Datto RMM "
                                         "component uid that sets up endpoint backups")
    sentinelone_site_ids: list[str] = Field(default_factory=list, max_length=20, description=(
        "the client's SentinelOne site ids: agents are searched and isolated only there "
        "(never across the MSP's whole console)"))
    sentinelone_group_ids: list[str] = Field(default_factory=list, max_length=50, description=(
        "narrower still: only these SentinelOne groups of the client's sites"))
    webhook: Webhook | None = Field(None, description="the generic provider: every step "
                                    "(accounts, licences, devices) is POSTed here, signed, "
                                    "instead of Graph / Datto / SentinelOne")


class RoleTemplate(BaseModel):
    """What a new user in a role gets: licences (Microsoft SKU part numbers, e.g.
    SPE_E3) and groups (Entra object ids)."""

    model_config = ConfigDict(extra="forbid")
    licences: list[str] = Field(default_factory=list, max_length=10)
    groups: list[str] = Field(default_factory=list, max_length=50)


class ClientConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,31}$")
    name: str
    ticket_prefix: str = Field(pattern=r"^[A-Z][A-Z0-9]{1,7}$")
    domains: list[str] = Field(default_factory=list, max_length=50, description=(
        "the identity domains this client owns: every address the desk acts on for it (a "
        "leaver's or joiner's account, a SCIM userName, a mail sender taken as one of its "
        "people) must be in one of them; no two clients may own the same domain"))
    sla: SlaPolicy
    priority_matrix: PriorityMatrix = PriorityMatrix()
    onboarding_notice: str = Field("3bd", description="e.g. '3bd' (Belton) or '48h'")
    directors: list[Person] = Field(default_factory=list, description="quote approvers")
    notifications: Notifications = Notifications()
    incidents: IncidentRules = IncidentRules()
    alerts: AlertRules = Field(AlertRules(), description="monitoring alerts: severity -> "
                               "priority, flap window, contact")
    providers: Providers = Providers()
    role_templates: dict[str, RoleTemplate] = Field(default_factory=dict, description=(
        "new users' licences and groups by role, e.g. {lawyer: {licences: [SPE_E3]}}"))
    rate_limits: dict[Role, str] = Field(default_factory=dict, description="requests per "
                                         "credential by role, e.g. {requester: 60/min}")
    api_keys: list[ApiKey] = Field(default_factory=list)
    reviews: ReviewConfig = Field(ReviewConfig(), description="NPS twice a year and the QBR "
                                  "each quarter (see domain/reviews.py)")
    files: FileLimits = Field(FileLimits(), description="files on tickets: per file (25 MB), "
                              "per ticket (count and total)")

    @field_validator("id")
    @classmethod
    def _not_a_bucket_folder(cls, value: str) -> str:
        if value in RESERVED_CLIENT_IDS:
            raise ValueError(f"'{value}' names a folder of the file store's bucket (its "
                             "marks and staged uploads): choose another id")
        return value

    @field_validator("rate_limits")
    @classmethod
    def _valid_rates(cls, value: dict[Role, str]) -> dict[Role, str]:
        return _rates(value)

    @model_validator(mode="before")
    @classmethod
    def _expand_preset(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not isinstance(data.get("sla"), dict):
            return data
        sla = dict(data["sla"])
        preset = sla.pop("preset", None)
        if preset is not None:
            if preset not in PRESETS:
                raise ValueError(f"sla.preset {preset!r} is unknown: choose one of "
                                 f"{', '.join(sorted(PRESETS))}")
            sla = deep_merge(PRESETS[preset], sla)
        sla.setdefault("name", data.get("id", preset or "custom"))
        return {**data, "sla": sla}

    @field_validator("onboarding_notice")
    @classmethod
    def _notice(cls, value: str) -> str:
        parse_duration(value)
        return value

    @field_validator("domains")
    @classmethod
    def _owned_domains(cls, value: list[str]) -> list[str]:
        return _domain_list(value)

    def owns(self, address: str | None) -> bool:
        """Whether ``address`` (an e-mail address or a user principal name) is in one of the
        identity domains this client owns: the people the desk may act on for it."""
        if not address or address.count("@") != 1:
            return False
        return address.rpartition("@")[2].lower().strip(".") in self.domains

    def is_director(self, address: str | None) -> bool:
        """Whether ``address`` is one of the client's directors (the quote approvers)."""
        return address is not None and address.lower() in {d.email.lower()
                                                            for d in self.directors}

    def known_addresses(self) -> set[str]:
        """Addresses named in the config: desk mailboxes, directors, ladder contacts."""
        named = {*self.notifications.email, *(d.email for d in self.directors)}
        named |= {r.contact for r in self.sla.ladder if r.contact and "@" in r.contact}
        return {a.lower() for a in named}


# The MSP's own credentials: people (agent, admin) and its machines (the mail gateway).
STAFF_ROLES = frozenset({Role.AGENT, Role.ADMIN, Role.INTEGRATION})

# Requests per credential, by role, unless the config says otherwise.
DEFAULT_RATE_LIMITS: dict[Role, str] = {
    Role.REQUESTER: "60/min", Role.HR: "60/min", Role.DIRECTOR: "60/min",
    Role.AGENT: "600/min", Role.ADMIN: "600/min", Role.INTEGRATION: "600/min",
}


def _rates(value: dict[Role, str]) -> dict[Role, str]:
    for text in value.values():
        parse_rate(text)
    return value


class StaffKey(ApiKey):
    """A credential of the MSP's own staff: works the tickets of many clients (all of
    them, or those listed in ``clients``)."""

    clients: list[str] | None = Field(None, min_length=1,
                                      description="client ids served; omit for all")

    @field_validator("role")
    @classmethod
    def _staff_role(cls, value: Role) -> Role:
        if value not in STAFF_ROLES:
            raise ValueError("staff keys are for MSP agents, admins and the MSP's integrations: "
                             "use role agent, admin or integration (client roles belong "
                             "under a client's api_keys)")
        return value


class TempodeskConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    clients: list[ClientConfig]
    staff: list[StaffKey] = Field(default_factory=list, description="MSP staff credentials")
    rate_limits: dict[Role, str] = Field(default_factory=dict, description="the desk-wide "
                                         "defaults by role (a client's own override them)")
    msp_domains: list[str] = Field(default_factory=list, description="the MSP's own e-mail "
                                   "domains (its staff may be mailed about any ticket)")
    mail: MailConfig = Field(MailConfig(), description="which mail may act: trusted "
                             "Authentication-Results, the escalations and approvals "
                             "mailboxes, the SMTP listener's limits")
    signed_link_rate: str = Field("60/min", description="requests from one address to "
                                  "signed links (quote pages, surveys), which carry no key")
    uploads_in_flight: int = Field(8, ge=1, le=1000, description="files one credential may "
                                   "be sending to one API replica at once (the next: 429)")
    msp: MspConfig = Field(MspConfig(), description="the MSP's name, address, logo and "
                           "terms: on every e-mail and document clients read")

    def may_mail(self, client: ClientConfig, address: str) -> bool:
        """Notices go only to the client's known people and domains and the MSP's staff;
        any other address waits for an agent to confirm it on the ticket."""
        address = address.lower()
        domain = address.rpartition("@")[2]
        return (address in client.known_addresses() or domain in client.domains
                or domain in client.notifications.domains or domain in self.msp_domains)

    @field_validator("rate_limits")
    @classmethod
    def _valid_rates(cls, value: dict[Role, str]) -> dict[Role, str]:
        return _rates(value)

    @model_validator(mode="after")
    def _mail_at_msp(self) -> TempodeskConfig:
        self.mail.check_domains(self.msp_domains)
        return self

    @field_validator("signed_link_rate")
    @classmethod
    def _valid_signed_link_rate(cls, value: str) -> str:
        parse_rate(value)
        return value

    def rate_limit(self, role: Role, client_id: str | None) -> tuple[int, int]:
        """(requests, per seconds) for one credential of ``role`` (of ``client_id``)."""
        client = self.client(client_id) if client_id else None
        text = ((client.rate_limits.get(role) if client else None)
                or self.rate_limits.get(role) or DEFAULT_RATE_LIMITS[role])
        return parse_rate(text)

    @model_validator(mode="after")
    def _unique(self) -> TempodeskConfig:
        for attribute in ("id", "ticket_prefix"):
            seen: set[str] = set()
            for client in self.clients:
                value = getattr(client, attribute)
                if value in seen:
                    raise ValueError(f"two clients have {attribute} {value!r}: each must be unique")
                seen.add(value)
        hashes: set[str] = set()
        keys = [(client.id, key) for client in self.clients for key in client.api_keys]
        keys += [("staff", key) for key in self.staff]
        for owner, key in keys:
            if key.sha256 in hashes:
                raise ValueError(f"api key {key.id!r} of {owner!r} is used twice: "
                                 "a key belongs to one client (or the staff) and one role")
            hashes.add(key.sha256)
        owners: dict[str, str] = {}
        for client in self.clients:
            for domain in client.domains:
                if domain in owners:
                    raise ValueError(f"clients {owners[domain]!r} and {client.id!r} both own "
                                     f"domain {domain!r}: a domain's people belong to one client")
                if domain in self.msp_domains:
                    raise ValueError(f"client {client.id!r} owns {domain!r}, one of the MSP's "
                                     "own msp_domains: remove it from one of the two")
                owners[domain] = client.id
        known = {c.id for c in self.clients}
        for key in self.staff:
            unknown = sorted(set(key.clients or ()) - known)
            if unknown:
                raise ValueError(f"staff key {key.id!r} names unknown clients "
                                 f"{', '.join(unknown)}: use ids from 'clients'")
        return self

    def client(self, client_id: str) -> ClientConfig | None:
        return next((c for c in self.clients if c.id == client_id), None)

    def client_by_prefix(self, prefix: str) -> ClientConfig | None:
        return next((c for c in self.clients if c.ticket_prefix == prefix), None)

    def zone_of(self, client_id: str | None) -> str:
        """The client's time zone (its calendar's), what people read times in; UTC for a
        client the config no longer has."""
        client = self.client(client_id) if client_id else None
        return client.sla.calendar.timezone if client else "UTC"


class ConfigError(Exception):
    """A config file that cannot be used; ``problems`` are 'path: what to change' lines."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        super().__init__(f"{path}: " + "; ".join(problems))


def load_config(path: Path) -> TempodeskConfig:
    if not path.is_file():
        raise ConfigError(path, ["no such file: create it (see tempodesk.yaml in the repository) "
                                 "or point TEMPODESK_CONFIG_PATH at one"])
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError(path, [f"{where}not valid YAML: {getattr(exc, 'problem', exc)}"]) from exc
    if not isinstance(raw, dict):
        raise ConfigError(path, ["the file must be a mapping with a 'clients' list"])
    try:
        return TempodeskConfig.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            e = explain(error)
            problems.append(f"{e.field or '(top level)'}: {e.message}")
        raise ConfigError(path, problems) from exc
