"""`tempodesk codec-server`: the Web UI's remote codec, for MSP staff only."""

from __future__ import annotations

import base64
import os
from collections.abc import AsyncIterator

import httpx
import pytest
from google.protobuf.json_format import MessageToDict
from temporalio.contrib.pydantic import pydantic_data_converter

from api.codec_server import MAX_PAYLOADS, create_codec_app
from domain.tickets import Contact
from payload_codec import EncryptionCodec
from tests.conftest import make_settings
from tests.web.helpers import assert_problem

KEY = os.urandom(32)
UI = "http://localhost:8233"
STAFF_AGENT = {"Authorization": "Bearer td_msp_agent_demo"}
STAFF_ADMIN = {"Authorization": "Bearer td_msp_admin_demo"}


@pytest.fixture
async def codec_http(config) -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(codec_keys={"k1": base64.b64encode(KEY).decode()},
                             codec_key_id="k1")
    app = create_codec_app(settings, config)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://codec") as http:
        yield http


def as_json(payloads) -> dict:
    return {"payloads": [MessageToDict(p) for p in payloads]}


async def originals_and_sealed():
    originals = pydantic_data_converter.payload_converter.to_payloads([
        Contact(name="Jo Tran", email="jo.tran@harbourside.example", phone="+61 400 123 456"),
        "a plain string", None])
    return originals, await EncryptionCodec({"k1": KEY}, "k1").encode(originals)


async def test_decode_needs_a_staff_credential(codec_http):
    originals, sealed = await originals_and_sealed()
    body = as_json(sealed)
    none = await codec_http.post("/decode", json=body)
    assert assert_problem(none, 401)["detail"].startswith("no credential")
    assert none.headers["www-authenticate"].startswith("Bearer")
    bad = await codec_http.post("/decode", json=body, headers={"Authorization": "Bearer nope"})
    assert_problem(bad, 401)
    for key in ("td_belton_requester_demo", "td_belton_hr_demo"):
        refused = await codec_http.post("/decode", json=body,
                                        headers={"Authorization": f"Bearer {key}"})
        assert "may not payloads.codec" in assert_problem(refused, 403)["detail"]
    clients_agent = await codec_http.post("/decode", json=body, headers={
        "Authorization": "Bearer td_belton_agent_demo"})  # a role of staff, but a client's key
    assert "not a client's" in assert_problem(clients_agent, 403)["detail"]
    some_clients = await codec_http.post("/decode", json=body, headers={
        "Authorization": "Bearer td_msp_belton_agent_demo"})
    assert "every client" in assert_problem(some_clients, 403)["detail"]

    decoded = await codec_http.post("/decode", json=body,
                                    headers={**STAFF_AGENT, "X-Namespace": "default"})
    assert decoded.status_code == 200, decoded.text
    assert decoded.json() == as_json(originals)


async def test_encode_then_decode_round_trip(codec_http):
    originals, _ = await originals_and_sealed()
    encoded = await codec_http.post("/encode", json=as_json(originals), headers=STAFF_ADMIN)
    assert encoded.status_code == 200, encoded.text
    sealed = encoded.json()["payloads"]
    assert len(sealed) == len(originals)
    assert all(base64.b64decode(p["metadata"]["encoding"]) == b"binary/encrypted"
               for p in sealed)
    assert b"Jo Tran" not in str(sealed).encode()
    # Any prefix: only the last path segment names the operation.
    decoded = await codec_http.post("/namespaces/default/decode", json={"payloads": sealed},
                                    headers=STAFF_ADMIN)
    assert decoded.json() == as_json(originals)
    empty = await codec_http.post("/decode", json={"payloads": []}, headers=STAFF_ADMIN)
    assert empty.json() == {"payloads": []}


async def test_unencrypted_payloads_come_back_as_they_are(codec_http):
    originals, _ = await originals_and_sealed()
    decoded = await codec_http.post("/decode", json=as_json(originals), headers=STAFF_AGENT)
    assert decoded.json() == as_json(originals)


async def test_bad_requests_are_problems(codec_http):
    unknown = EncryptionCodec({"retired": os.urandom(32)}, "retired")
    [old] = await unknown.encode((await originals_and_sealed())[0][:1])
    stale = await codec_http.post("/decode", json=as_json([old]), headers=STAFF_AGENT)
    detail = assert_problem(stale, 422)["detail"]
    assert "'retired'" in detail and "TEMPODESK_CODEC_KEYS" in detail
    not_proto = await codec_http.post("/decode", json={"payloads": [{"dat": "eA=="}]},
                                      headers=STAFF_AGENT)
    assert assert_problem(not_proto, 422)["errors"][0]["field"] == "payloads[0]"
    too_many = await codec_http.post("/decode", headers=STAFF_AGENT,
                                     json={"payloads": [{}] * (MAX_PAYLOADS + 1)})
    assert_problem(too_many, 422)
    huge = await codec_http.post("/decode", headers=STAFF_AGENT, json={
        "payloads": [{"data": base64.b64encode(os.urandom(7 * 1024 * 1024)).decode()}]})
    assert_problem(huge, 413)


async def test_the_web_ui_origin_may_call_with_its_headers(codec_http):
    preflight = await codec_http.options("/decode", headers={
        "Origin": UI, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-namespace,authorization"})
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == UI
    allowed = preflight.headers["access-control-allow-headers"].lower()
    assert {"content-type", "x-namespace", "authorization"} <= set(allowed.split(", "))
    refused = await codec_http.post("/decode", json={"payloads": []}, headers={"Origin": UI})
    assert refused.status_code == 401  # the UI sees the answer, not a CORS failure
    assert refused.headers["access-control-allow-origin"] == UI
    elsewhere = await codec_http.options("/decode", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in elsewhere.headers


def test_no_keys_no_codec_server(config):
    with pytest.raises(ValueError, match="TEMPODESK_CODEC_KEYS"):
        create_codec_app(make_settings(), config)

