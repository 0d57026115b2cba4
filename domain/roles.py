"""Who may do what. Every credential carries exactly one client and one role."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    REQUESTER = "requester"      # client staff raising tickets
    HR = "hr"                    # client HR / managers: onboarding and offboarding
    DIRECTOR = "director"        # client directors: quote approvals
    AGENT = "agent"              # MSP service-desk staff working the client's tickets
    ADMIN = "admin"              # MSP administrators for the client
    INTEGRATION = "integration"  # machines: monitoring, HR systems, e-mail gateways


class Action(StrEnum):
    RAISE_INCIDENT = "incident.raise"
    LOG_PHONE_INCIDENT = "incident.raise.phone"
    RAISE_REQUEST = "request.raise"
    ISSUE_QUOTE = "quote.issue"
    INBOUND_EMAIL = "email.inbound"
    ESCALATE = "tickets.escalate"          # a client's manager: "not handled properly"
    POST_ALERTS = "alerts.post"            # monitoring: Alertmanager and Events v2
    DECIDE_QUOTE = "quote.decide"
    VIEW_TICKETS = "tickets.view"
    WORK_TICKETS = "tickets.work"
    SLA_PREVIEW = "sla.preview"
    ONBOARD = "people.onboard"             # raise (or cancel) a new user
    OFFBOARD = "people.offboard"           # raise a user exit
    PEOPLE_SYNC = "people.scim"            # an HR system over SCIM 2.0
    WORK_OFFBOARDING = "people.offboard.work"  # hardware returns, legal hold
    USE_CODEC = "payloads.codec"           # decrypt history for the Web UI (MSP staff only)
    VIEW_REPORTS = "reports.view"          # a client's QBR
    PRODUCE_REPORTS = "reports.produce"    # make a client's QBR now, on demand
    ATTACH_FILES = "tickets.attach"        # add a file (screenshot, log) to a ticket


_STAFF = frozenset({Role.AGENT, Role.ADMIN})

PERMISSIONS: dict[Action, frozenset[Role]] = {
    Action.RAISE_INCIDENT: frozenset({Role.REQUESTER, Role.HR, Role.DIRECTOR, Role.AGENT,
                                      Role.ADMIN, Role.INTEGRATION}),
    Action.LOG_PHONE_INCIDENT: _STAFF,  # a phone call is logged by an agent
    Action.ISSUE_QUOTE: _STAFF,
    Action.INBOUND_EMAIL: frozenset({Role.INTEGRATION}),
    Action.ESCALATE: frozenset({Role.REQUESTER, Role.HR, Role.DIRECTOR, Role.AGENT,
                                Role.ADMIN}),
    Action.POST_ALERTS: frozenset({Role.INTEGRATION}),
    Action.DECIDE_QUOTE: frozenset({Role.DIRECTOR}),
    Action.RAISE_REQUEST: frozenset({Role.REQUESTER, Role.HR, Role.DIRECTOR, Role.AGENT,
                                     Role.ADMIN}),
    Action.VIEW_TICKETS: frozenset(Role),
    Action.WORK_TICKETS: _STAFF,
    Action.SLA_PREVIEW: frozenset(Role),
    Action.ONBOARD: frozenset({Role.HR, Role.DIRECTOR, Role.ADMIN}),
    Action.OFFBOARD: frozenset({Role.HR, Role.DIRECTOR, Role.ADMIN}),
    Action.PEOPLE_SYNC: frozenset({Role.INTEGRATION}),
    Action.WORK_OFFBOARDING: frozenset({Role.HR, Role.DIRECTOR, Role.AGENT, Role.ADMIN}),
    # A client's own agent/admin credential is refused too: see api/codec_server.py.
    Action.USE_CODEC: _STAFF,
    Action.VIEW_REPORTS: frozenset({Role.DIRECTOR, Role.AGENT, Role.ADMIN}),
    Action.PRODUCE_REPORTS: _STAFF,
    # People attach files to the tickets they see; machines (monitoring, HR systems) do not.
    Action.ATTACH_FILES: frozenset({Role.REQUESTER, Role.HR, Role.DIRECTOR, Role.AGENT,
                                    Role.ADMIN}),
}


def allowed(role: Role, action: Action) -> bool:
    return role in PERMISSIONS[action]


def roles_for(action: Action) -> list[str]:
    return sorted(r.value for r in PERMISSIONS[action])
