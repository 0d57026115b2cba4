"""Secrets and personal data never reach the logs (issue 12): a ticket's life with every
logger at DEBUG, then every captured record searched for canaries - the API keys (a good and
a bad one), the signing secret, the Graph client secret, the contact's e-mail and phone."""

from __future__ import annotations

import logging
import uuid

import pytest

from domain.tenants import ApiKey, Providers, hash_api_key
from provider_sandbox import ProviderServer
from tests.conftest import isolated, make_settings, running_desk
from tests.peers import Mailbox
from tests.pii import found
from tests.web.helpers import eventually, incident_body

TAG = uuid.uuid4().hex[:10]
CANARIES = {
    "requester key": f"td_canary_requester_{TAG}",
    "hr key": f"td_canary_hr_{TAG}",
    "bad key": f"td_canary_wrong_{TAG}",
    "signing secret": f"canary-signing-{TAG}",
    "graph client secret": f"canary-graph-{TAG}",
    "contact e-mail": f"canary.{TAG}@harbourside.example",
    "contact phone": f"+61 491 {uuid.uuid4().int % 10**6:06d}",
}
UPN = f"leaver.{TAG}@harbourside.example"


class Everything(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[str] = []
        self.formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")

    def emit(self, record: logging.LogRecord) -> None:
        # The message, any traceback and every extra attribute (temporalio adds its own).
        self.records.append(self.format(record) + " " + repr(vars(record)))


@pytest.fixture
def captured():
    """Every logger, at DEBUG, into one handler (uvicorn's do not all propagate)."""
    handler = Everything()
    loggers = [logging.getLogger()] + [
        logging.getLogger(name) for name in list(logging.root.manager.loggerDict)]
    saved = [(lg, lg.level, lg.disabled) for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.DEBUG)
        lg.disabled = False
    root = logging.getLogger()
    root.addHandler(handler)
    extra = [lg for lg in loggers if lg is not root and not lg.propagate]
    for lg in extra:
        lg.addHandler(handler)
    yield handler
    root.removeHandler(handler)
    for lg in extra:
        lg.removeHandler(handler)
    for lg, level, disabled in saved:
        lg.setLevel(level)
        lg.disabled = disabled


async def test_no_secret_or_contact_detail_is_ever_logged(dev_client, config, task_queue,
                                                          captured):
    base = isolated(config)
    belton = base.clients[0]
    keys = [*belton.api_keys,
            ApiKey(id="canary-requester", role="requester",
                   sha256=hash_api_key(CANARIES["requester key"])),
            ApiKey(id="canary-hr", role="hr", sha256=hash_api_key(CANARIES["hr key"]))]
    belton = belton.model_copy(update={"api_keys": keys,
                                       "providers": Providers(graph_tenant="contoso-tenant")})
    wired = base.model_copy(update={"clients": [belton, *base.clients[1:]]})
    with ProviderServer() as providers, Mailbox() as mailbox:
        settings = make_settings(**{
            **providers.settings(), "task_queue": task_queue,
            "signing_secret": CANARIES["signing secret"],
            "graph_client_secret": CANARIES["graph client secret"],
            "smtp_host": "127.0.0.1", "smtp_port": mailbox.port})
        async with running_desk(dev_client, wired, settings) as desk:
            for lg in logging.root.manager.loggerDict.values():  # uvicorn's, set at start
                if isinstance(lg, logging.Logger):
                    lg.setLevel(logging.DEBUG)
            requester = {"Authorization": f"Bearer {CANARIES['requester key']}"}
            agent = desk.as_("belton", "agent")
            contact = {"name": "Jo Tran", "email": CANARIES["contact e-mail"],
                       "phone": CANARIES["contact phone"]}
            made = await desk.http.post("/v1/incidents", headers=requester,
                                        json=incident_body(technical_contact=contact))
            assert made.status_code == 201, made.text
            ticket = made.json()["ticket_id"]
            bad = await desk.http.get(f"/v1/tickets/{ticket}",
                                      headers={"Authorization": f"Bearer {CANARIES['bad key']}"})
            assert bad.status_code == 401
            assert (await desk.http.post(f"/v1/tickets/{ticket}/acknowledge",
                                         headers=agent)).status_code == 200
            assert (await desk.http.post(f"/v1/tickets/{ticket}/recipients", headers=agent,
                                         json={"email": "not an address"})).status_code == 422

            # The contact is mailed (the SMTP lane runs), and a leaver goes through Graph.
            await eventually(lambda: mailbox.envelopes,
                             lambda envs: any(CANARIES["contact e-mail"].lower() in rcpts
                                              for _, rcpts in envs), timeout=30)
            exit_form = {"employee": {"name": "Lee Ver", "email": UPN},
                         "user_principal_name": UPN,
                         "manager": {"name": "Mia Chen", "email": "mia.chen@harbourside.example"},
                         "last_working_day": "2026-12-04", "immediate": True,
                         "reason": "resigned", "hardware": []}
            left = await desk.http.post("/v1/offboarding", json=exit_form,
                                        headers={"Authorization":
                                                 f"Bearer {CANARIES['hr key']}"})
            assert left.status_code == 201, left.text

            async def exit_view():
                return (await desk.http.get(f"/v1/tickets/{left.json()['ticket_id']}",
                                            headers=agent)).json()

            await eventually(exit_view, lambda v: v["access_revoked_at"] is not None,
                             timeout=60)
            assert providers.calls("POST", "/login/contoso-tenant/oauth2/v2.0/token")

    assert len(captured.records) > 20, "nothing was captured: the handler is not attached"
    # The desk's activities logged about this very ticket (not only httpx's own lines).
    assert any(r.startswith("temporalio.activity") and ticket in r
               for r in captured.records), "the capture missed the desk's logs"
    # Every form a value can take in a log line: as written, percent-encoded, base64.
    leaks = [(name, record[:300]) for name, canary in CANARIES.items()
             for record in captured.records if found(record.encode(), [canary])]
    assert leaks == [], "\n".join(f"{name}: {record}" for name, record in leaks)

