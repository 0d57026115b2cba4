"""401 without or with a bad credential, 403 for a role that may not act, 404 for another
client's resource. The tenant comes from the credential, never the request."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.conftest import isolated, make_settings, running_desk
from tests.web.helpers import assert_problem, incident_body

PREVIEW = {"policy": "belton", "priority": "P2", "opened_at": "2026-11-20T16:30:00+11:00"}


async def test_no_credential_is_401_with_challenge(desk):
    response = await desk.http.post("/v1/sla/preview", json=PREVIEW)
    body = assert_problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "Authorization: Bearer" in body["detail"]


async def test_bad_key_is_401(desk):
    response = await desk.http.post("/v1/sla/preview", json=PREVIEW,
                                    headers={"Authorization": "Bearer td_belton_agent_wrong"})
    assert_problem(response, 401)


async def test_every_role_may_preview(desk):
    for role in ("requester", "hr", "director", "agent", "admin", "integration"):
        response = await desk.http.post("/v1/sla/preview", json=PREVIEW,
                                        headers=desk.as_("belton", role))
        assert response.status_code == 200, (role, response.text)
        assert response.json()["response_due"] == "2026-11-20T17:30:00+11:00"


async def test_requester_may_not_log_a_phone_call(desk):
    response = await desk.http.post("/v1/incidents", json=incident_body(channel="phone"),
                                    headers=desk.as_("belton", "requester"))
    body = assert_problem(response, 403)
    assert "agent" in body["detail"]


async def test_another_clients_ticket_is_404(desk):
    created = await desk.http.post("/v1/incidents", json=incident_body(),
                                   headers=desk.as_("belton", "requester"))
    assert created.status_code == 201, created.text
    ticket = created.json()["ticket_id"]
    own = await desk.http.get(f"/v1/tickets/{ticket}", headers=desk.as_("belton", "agent"))
    assert own.status_code == 200
    other = await desk.http.get(f"/v1/tickets/{ticket}", headers=desk.as_("plexacet", "admin"))
    assert_problem(other, 404)
    missing = await desk.http.get(f"/v1/tickets/{desk.prefix('belton')}-999999",
                                  headers=desk.as_("belton", "agent"))
    assert_problem(missing, 404)


async def test_another_clients_policy_is_404(desk):
    other = await desk.http.post("/v1/sla/preview", headers=desk.as_("belton", "agent"),
                                 json={**PREVIEW, "policy": desk.client_id("plexacet")})
    assert_problem(other, 404)
    own = await desk.http.post("/v1/sla/preview", headers=desk.as_("belton", "agent"),
                               json={**PREVIEW, "policy": desk.client_id("belton")})
    assert own.status_code == 200


async def test_tenant_comes_from_the_credential(desk):
    """A body naming another client cannot steer the ticket there."""
    response = await desk.http.post("/v1/incidents", json={**incident_body(),
                                                           "client_id": "plexacet"},
                                    headers=desk.as_("belton", "requester"))
    body = assert_problem(response, 422)
    assert body["errors"][0]["field"] == "client_id"


# ------------------------------------------------------------------------------ OIDC


class JwksServer:
    """A real JWKS endpoint on loopback, as an identity provider publishes one."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        document = json.dumps({"keys": [{**public, "kid": "k1", "use": "sig",
                                         "alg": "RS256"}]}).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.end_headers()
                self.wfile.write(document)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/jwks.json"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def token(self, key=None, **claims) -> str:
        base = {"iss": "https://idp.test", "aud": "tempodesk", "sub": "user-7",
                "exp": int(time.time()) + 300, "tempodesk_client": "?",
                "tempodesk_role": "agent"}
        return jwt.encode({**base, **claims}, key or self.key, algorithm="RS256",
                          headers={"kid": "k1"})


@pytest.fixture
async def oidc_desk(dev_client, config, task_queue):
    idp = JwksServer()
    settings = make_settings(task_queue=task_queue, oidc_issuer="https://idp.test",
                             oidc_audience="tempodesk", oidc_jwks_url=idp.url)
    async with running_desk(dev_client, isolated(config), settings) as desk:
        yield desk, idp
    idp.server.shutdown()


async def test_oidc_token_carries_tenant_and_role(oidc_desk):
    desk, idp = oidc_desk
    client = desk.client_id("betterworld")
    good = idp.token(tempodesk_client=client, tempodesk_role="requester")
    response = await desk.http.post("/v1/sla/preview", json={**PREVIEW, "policy": client},
                                    headers={"Authorization": f"Bearer {good}"})
    assert response.status_code == 200, response.text
    assert response.json()["timezone"] == "America/New_York"
    # API keys keep working beside OIDC.
    keyed = await desk.http.post("/v1/sla/preview", json=PREVIEW,
                                 headers=desk.as_("belton", "agent"))
    assert keyed.status_code == 200


@pytest.mark.parametrize(("claims", "status", "fragment"), [
    ({"exp": int(time.time()) - 10}, 401, "expired"),
    ({"aud": "someone-else"}, 401, "audience"),
    ({"iss": "https://evil.test"}, 401, "issuer"),
    ({"tempodesk_role": "janitor"}, 403, "tempodesk_role"),
    ({"tempodesk_client": "nobody"}, 403, "names no client"),
])
async def test_oidc_rejections(oidc_desk, claims, status, fragment):
    desk, idp = oidc_desk
    base = {"tempodesk_client": desk.client_id("belton")}
    token = idp.token(**{**base, **claims})
    response = await desk.http.post("/v1/sla/preview", json=PREVIEW,
                                    headers={"Authorization": f"Bearer {token}"})
    body = assert_problem(response, status)
    assert fragment in body["detail"].lower() or fragment in body["detail"]


async def test_oidc_token_signed_by_another_key_is_401(oidc_desk):
    desk, idp = oidc_desk
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = idp.token(key=forger, tempodesk_client=desk.client_id("belton"))
    response = await desk.http.post("/v1/sla/preview", json=PREVIEW,
                                    headers={"Authorization": f"Bearer {token}"})
    assert_problem(response, 401)
