"""The codec server decodes for the Web UI only with a credential (issue 18): `tempodesk
dev`'s UI by the secret in the codec endpoint it is given at each start; a deployment's UI
by its users' OIDC access tokens (MSP staff serving every client). A request without either
- even from this machine, with the dev UI's Origin - is 401 and shows nothing. Each test
failed on the code before its fix (the dev UI was trusted for its Origin alone, and no OIDC
token could decode)."""

from __future__ import annotations

import base64
import socket

import httpx
import pytest

import dev_stack
from api.codec_server import LOCAL_UI_PREFIX, create_codec_app
from tests.codec.test_codec_server import KEY, as_json, originals_and_sealed
from tests.conftest import make_settings
from tests.web.helpers import assert_problem
from tests.web.test_auth import JwksServer

UI = "http://localhost:8233"


@pytest.fixture
def codec_settings():
    """With the key that sealed the payloads (tests/codec/test_codec_server.py's)."""
    return make_settings(codec_keys={"k1": base64.b64encode(KEY).decode()}, codec_key_id="k1",
                         codec_cors_origins=[UI])


async def post(app, path: str, body: dict, headers: dict[str, str],
               client: tuple[str, int] = ("127.0.0.1", 50000)) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=client),
                                 base_url="http://codec") as http:
        return await http.post(path, json=body, headers=headers)


def leaks_nothing(answer: httpx.Response, originals) -> None:
    assert_problem(answer, 401)
    assert "payloads" not in answer.json()
    for original in originals:
        if original.data:  # None is b"" in a payload
            assert original.data not in answer.content
            assert base64.b64encode(original.data) not in answer.content
    assert b"Jo Tran" not in answer.content and b"harbourside" not in answer.content


async def test_the_dev_ui_decodes_only_at_its_secret_path(config, codec_settings):
    """The endpoint `tempodesk dev` gives its Web UI holds a secret made at start; without
    it (the codec server's port found by anything on this machine, with the UI's Origin)
    the answer is 401 and holds nothing of the payloads."""
    originals, sealed = await originals_and_sealed()
    with socket.socket() as codec_socket:
        codec_socket.bind(("127.0.0.1", 0))
        secret, endpoint = dev_stack.local_ui_codec(codec_socket)
        port = codec_socket.getsockname()[1]
        next_start = dev_stack.local_ui_codec(codec_socket)[0]
    assert endpoint == f"http://127.0.0.1:{port}/{LOCAL_UI_PREFIX}/{secret}"
    assert len(secret) >= 40 and secret != next_start  # made at each start
    app = create_codec_app(codec_settings, config, local_ui_secret=secret)
    path = endpoint.removeprefix(f"http://127.0.0.1:{port}")
    ui = {"Origin": UI}

    for refused_path in ("/decode", f"/{LOCAL_UI_PREFIX}/decode",
                         f"/{LOCAL_UI_PREFIX}/{secret[:-1]}x/decode", f"{path}x/decode",
                         f"/other{path}/decode"):
        leaks_nothing(await post(app, refused_path, as_json(sealed), ui), originals)
    # The secret alone is not enough: from the UI's origin, on this machine, no credential.
    leaks_nothing(await post(app, f"{path}/decode", as_json(sealed),
                             {"Origin": "http://evil.example"}), originals)
    leaks_nothing(await post(app, f"{path}/decode", as_json(sealed), ui,
                             client=("10.0.0.7", 5000)), originals)
    decoded = await post(app, f"{path}/decode", as_json(sealed), ui)
    assert decoded.status_code == 200, decoded.text
    assert decoded.json() == as_json(originals)
    # `tempodesk codec-server` has no such path at all: a staff credential, always.
    deployed = create_codec_app(codec_settings, config)
    leaks_nothing(await post(deployed, f"{path}/decode", as_json(sealed), ui), originals)


@pytest.fixture
def idp():
    return JwksServer()


async def test_the_web_ui_decodes_for_staff_signed_in_with_oidc(config, codec_settings, idp):
    """Production: the Temporal UI signed in with OIDC passes its user's access token
    (TEMPORAL_CODEC_PASS_ACCESS_TOKEN=true). MSP staff serving every client (client claim
    '*', role agent or admin) decode; a client's user, another role or a bad token do not."""
    settings = codec_settings.model_copy(update={
        "oidc_issuer": "https://idp.test", "oidc_audience": "tempodesk",
        "oidc_jwks_url": idp.url})
    app = create_codec_app(settings, config)
    originals, sealed = await originals_and_sealed()

    def bearer(**claims) -> dict[str, str]:
        return {"Origin": UI, "Authorization": f"Bearer {idp.token(**claims)}"}

    for role in ("agent", "admin"):
        decoded = await post(app, "/api/decode", as_json(sealed),
                             bearer(tempodesk_client="*", tempodesk_role=role))
        assert decoded.status_code == 200, decoded.text
        assert decoded.json() == as_json(originals)
    belton = config.clients[0].id
    for claims, status in (({"tempodesk_client": belton, "tempodesk_role": "admin"}, 403),
                           ({"tempodesk_client": "*", "tempodesk_role": "requester"}, 403),
                           ({"tempodesk_client": "*", "aud": "another-app"}, 401),
                           ({"tempodesk_client": "*", "exp": 1}, 401)):
        refused = await post(app, "/api/decode", as_json(sealed), bearer(**claims))
        assert_problem(refused, status)
        assert "payloads" not in refused.json()
    forged = idp.token(key=JwksServer().key, tempodesk_client="*")
    refused = await post(app, "/api/decode", as_json(sealed),
                         {"Origin": UI, "Authorization": f"Bearer {forged}"})
    assert_problem(refused, 401)

