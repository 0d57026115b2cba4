"""A hire deactivated over SCIM before their first day: the deactivation is stored and the
onboarding cancelled by one update of the user's workflow (``withdraw_hire``), which
keeps the note saying so; no user exit is opened. (A DELETE takes the same path without
the note: tests/web/test_scim.py.)"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.web.helpers import eventually
from tests.web.test_scim import (
    ENTERPRISE,
    ONBOARDING,
    SCIM,
    create,
    directory_user,
    hr_system,
    new_user,
    scim,  # noqa: F401 - the fixture
    ticket,
    tickets,
)


async def test_a_hire_deactivated_before_the_start_is_withdrawn_and_noted(scim):  # noqa: F811
    desk, _providers = scim
    boss = await create(desk, new_user("mia.chen@harbourside.example", displayName="Mia Chen",
                                       name={"givenName": "Mia", "familyName": "Chen"}))
    start = (datetime.now(UTC) + timedelta(days=28)).date()
    start += timedelta(days=(7 - start.weekday()) % 7)
    hire = new_user("sam.lee@harbourside.example", displayName="Sam Lee")
    hire["schemas"].append(ONBOARDING)
    hire[ENTERPRISE] = {"department": "Litigation", "manager": {"value": boss["id"]}}
    hire[ONBOARDING] = {"startDate": start.isoformat()}
    made = await create(desk, hire)
    onboarding = (await directory_user(desk, made["id"])).onboarding_ticket
    assert onboarding is not None
    patch = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
             "Operations": [{"op": "replace", "path": "active", "value": False}]}
    answer = await desk.http.patch(f"{SCIM}/Users/{made['id']}", json=patch,
                                   headers=hr_system(desk))
    assert answer.status_code == 200, answer.text
    assert answer.json()["active"] is False
    user = await directory_user(desk, made["id"])
    assert user.resource["active"] is False and user.offboarding_ticket is None
    assert user.note.startswith(f"onboarding {onboarding} cancelled before the start date")
    assert answer.headers["etag"] == user.etag
    view = await eventually(lambda: ticket(desk, onboarding), lambda v: v["cancelled_at"],
                            timeout=60)
    assert "before the start date" in view["cancel_reason"]
    assert await tickets(desk, "offboarding") == []
