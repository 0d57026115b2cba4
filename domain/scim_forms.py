"""A SCIM User as Tempodesk's forms: a create becomes a New User form (an onboarding), a
deactivation a User Exit form (access revoked now). A user that makes no form (say a
userName that is not an e-mail address) is kept all the same: the note says why no ticket
was opened. Pure: the caller resolves the manager and passes the clock."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError
from scim2_models import EnterpriseUser

from domain.errors import FieldError, explain
from domain.offboarding import ExitForm
from domain.onboarding import JoinerForm, licences_and_groups, schedule, usage_location
from domain.people import check_people, outsider
from domain.scim import ScimUser, TempodeskOnboarding
from domain.tenants import ClientConfig
from domain.text import email_address
from domain.tickets import Contact

EXIT_REASON = "deactivated by the HR system over SCIM"
# The form's fields as the SCIM attributes they come from, for notes HR can act on.
_ATTRIBUTES = {
    "employee": "name / displayName / emails", "user_principal_name": "userName",
    "title": "title", "department": "enterprise department", "manager": "enterprise manager",
    "start_date": "onboarding startDate", "time_zone": "timezone",
    "role_template": "onboarding roleTemplate", "usage_location": "usage location",
}


def display_name(user: ScimUser) -> str:
    name = user.name
    parts = [name.given_name, name.family_name] if name else []
    return (user.display_name or (name.formatted if name else None)
            or " ".join(p for p in parts if p) or "").strip()


def _email(user: ScimUser, preferred: str | None = None) -> str | None:
    emails = [e for e in user.emails or [] if e.value]
    chosen = (next((e for e in emails if preferred and e.type == preferred), None)
              or next((e for e in emails if e.primary), None)
              or (emails[0] if emails else None))
    return str(chosen.value) if chosen else None


def contact(user: ScimUser) -> Contact | None:
    """A user of the directory as a form's contact (e.g. someone's manager)."""
    try:
        return Contact(name=display_name(user) or str(user.user_name),
                       email=_email(user, "work") or str(user.user_name))
    except ValidationError:
        return None


def manager_id(user: ScimUser) -> str | None:
    enterprise = user[EnterpriseUser]
    manager = enterprise.manager if enterprise else None
    return manager.value if manager else None


def _upn_refused(user: ScimUser) -> str | None:
    try:
        email_address(str(user.user_name))
    except ValueError:
        return "userName: not an e-mail address (the account, e.g. sam.lee@client.example)"
    return None


def foreign_user_name(user: ScimUser, client: ClientConfig) -> str | None:
    """Why the SCIM door refuses ``user``: a userName that is an address outside the
    client's identity domains (a create, or a rename into another client's domain). A
    userName that is not an address names no account, opens no ticket, and is kept."""
    if _upn_refused(user):
        return None
    refusal = outsider(client, "userName", str(user.user_name))
    return f"userName: {refusal.message}; {refusal.fix}" if refusal else None


def _why(exc: ValidationError | FieldError, what: str) -> str:
    if isinstance(exc, FieldError):
        field, message = exc.field, exc.message
    else:
        explained = explain(exc.errors()[0])
        field, message = explained.field, explained.message
    top = field.split(".", 1)[0]
    return f"no {what}: {_ATTRIBUTES.get(top, field)}: {message}"[:500]


def _zone(name: str | None) -> str | None:
    try:
        return name if name and ZoneInfo(name) else None
    except (ZoneInfoNotFoundError, ValueError):
        return None  # not a reason to refuse a new user: the client's zone serves


def joiner_form(user: ScimUser, client: ClientConfig, manager: Contact | None,
                now: datetime) -> tuple[JoinerForm | None, str]:
    """The New User form a SCIM create stands for, or None and why not. Only a create
    with a start date (the Tempodesk onboarding extension's startDate) is a new hire: an
    HR system's first sync sends every existing employee as a create, and none of them
    must be provisioned again. A start inside the notice is opened as expedited (it waits
    for an agent's approval), never refused; a start in the past is an existing person."""
    if user.active is False:
        return None, "no onboarding: created inactive"
    if refused := _upn_refused(user):
        return None, f"no onboarding: {refused}"
    extra = user[TempodeskOnboarding] or TempodeskOnboarding()
    boss = manager.model_dump() if manager else None
    if boss is None and extra.manager_email:
        boss = {"name": extra.manager_email, "email": extra.manager_email}
    if boss is None:
        return None, ("no onboarding: enterprise manager: not a user of this directory "
                      "(or send onboarding managerEmail)")
    if not extra.start_date:
        return None, ("no onboarding: no startDate (onboarding extension), so an existing "
                      "person: send startDate for a new hire")
    try:
        start = date.fromisoformat(extra.start_date)
    except ValueError:
        return None, "no onboarding: onboarding startDate: not a date: write YYYY-MM-DD"
    zone = _zone(user.timezone)
    local = ZoneInfo(zone or client.sla.calendar.timezone)
    if start < now.astimezone(local).date():
        return None, f"no onboarding: started {start.isoformat()}, an existing person"
    enterprise = user[EnterpriseUser]
    fields = {
        "employee": {"name": display_name(user), "email": _email(user, "home") or user.user_name},
        "user_principal_name": user.user_name, "title": user.title or "",
        "department": (enterprise.department if enterprise else None) or "",
        "manager": boss, "time_zone": zone,
        "start_date": start,
        "role_template": extra.role_template, "usage_location": None,
    }
    phone = next((p.value for p in user.phone_numbers or [] if p.value), None)
    if phone:
        fields["employee"]["phone"] = phone
    try:
        form = JoinerForm.model_validate(fields)
        check_people(client, form.people())
        planned = schedule(form, client, now)
        licences_and_groups(form, client)
        usage_location(form, client)
    except (ValidationError, FieldError) as exc:
        return None, _why(exc, "onboarding")
    if planned.short_notice:
        return form.model_copy(update={"expedite": True}), (
            "expedited: the start is inside the contract's notice "
            f"({client.onboarding_notice}); an agent approves it")
    return form, ""


def exit_form(user: ScimUser, client: ClientConfig, manager: Contact | None,
              last_day: date) -> tuple[ExitForm | None, str]:
    """The immediate User Exit a deactivation (or deletion) stands for, or None and why.
    Only of the client's own people; a manager who is not one of them is left off (the
    exit goes ahead: access must end)."""
    if refused := _upn_refused(user):
        return None, f"no user exit: {refused}"
    if refusal := outsider(client, "user_principal_name", str(user.user_name)):
        return None, _why(refusal, "user exit")
    if manager is not None and not client.owns(manager.email):
        manager = None
    try:
        form = ExitForm.model_validate({
            "employee": {"name": display_name(user) or user.user_name,
                         "email": user.user_name},
            "user_principal_name": user.user_name,
            "manager": manager.model_dump() if manager else None,
            "last_working_day": last_day, "immediate": True, "reason": EXIT_REASON,
        })
    except ValidationError as exc:
        return None, _why(exc, "user exit")
    return form, ""
