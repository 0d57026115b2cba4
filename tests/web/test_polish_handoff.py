""""Do by hand" says what and why (the outside tester's finding): a user exit for a client
with no providers set up (plexacet) hands its refused steps to an agent in one e-mail,
and that e-mail names each step waiting for an agent with the provider's reason - what
the ticket view shows - not only the first step's name."""

from __future__ import annotations

from tests.web.helpers import eventually
from tests.web.test_step_poison_http import desk_without_plexacet_providers  # noqa: F401

UPN = "noor.haddad@opaldental.example"


def exit_form() -> dict:
    return {"employee": {"name": "Noor Haddad", "email": UPN}, "user_principal_name": UPN,
            "manager": {"name": "Raj Patel", "email": "raj.patel@opaldental.example"},
            "last_working_day": "2026-12-04", "immediate": True, "reason": "resigned",
            "hardware": []}


async def test_do_by_hand_names_each_waiting_step_with_the_providers_reason(
        desk_without_plexacet_providers):  # noqa: F811
    desk, _, mailbox = desk_without_plexacet_providers
    made = await desk.http.post("/v1/offboarding", json=exit_form(),
                                headers=desk.as_("plexacet", "hr"))
    assert made.status_code == 201, made.text
    ticket = made.json()["ticket_id"]

    async def view() -> dict:
        return (await desk.http.get(f"/v1/tickets/{ticket}",
                                    headers=desk.as_("plexacet", "agent"))).json()

    def do_by_hand() -> list:
        return [m for m in mailbox.about(ticket) if "Do by hand" in m["Subject"]]

    [mail] = await eventually(do_by_hand, bool)
    body = mail.get_body(("plain",)).get_content()
    handed = [st for st in (await view())["steps"] if st["needs_agent"]]
    assert handed
    named = [line for line in body.splitlines() if line.startswith("Waiting for an agent: ")]
    assert len(named) >= 1
    for line in named:  # each names a step the ticket hands over, and the provider's reason
        step = next(st for st in handed if line.startswith(
            f"Waiting for an agent: {st['name']} (the provider said: "))
        assert step["last_error"][:60] in line
    # The step the subject names is among them.
    first = mail["Subject"].split("Do by hand: ")[1].split(" ")[0]
    assert any(line.startswith(f"Waiting for an agent: {first} ") for line in named)
