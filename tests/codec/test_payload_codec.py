"""The payload codec: AES-256-GCM per payload, keys named by id so they rotate."""

from __future__ import annotations

import base64
import json
import os

import pytest
from pydantic import ValidationError
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DefaultFailureConverterWithEncodedAttributes

from domain.offboarding import ExitForm
from payload_codec import ENCODING, KEY_ID, CodecError, EncryptionCodec, UnknownKeyError
from temporal_client import data_converter
from tests.conftest import make_settings

OLD, NEW = os.urandom(32), os.urandom(32)


def b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


def plain(text: str = "Jo Tran, +61 400 123 456") -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(text).encode())


async def test_round_trip_keeps_metadata_and_data():
    codec = EncryptionCodec({"k1": OLD}, "k1")
    original = plain()
    [sealed] = await codec.encode([original])
    assert sealed.metadata["encoding"] == ENCODING
    assert sealed.metadata[KEY_ID] == b"k1"
    assert b"Jo Tran" not in sealed.SerializeToString()
    assert await codec.decode([sealed]) == [original]


async def test_each_payload_gets_its_own_nonce():
    codec = EncryptionCodec({"k1": OLD}, "k1")
    first, second = await codec.encode([plain(), plain()])
    assert first.data[:12] != second.data[:12] and first.data != second.data


async def test_rotation_new_id_encrypts_old_id_still_decrypts():
    before = EncryptionCodec({"2026-01": OLD}, "2026-01")
    [old_payload] = await before.encode([plain("old")])
    after = EncryptionCodec({"2026-01": OLD, "2026-07": NEW}, "2026-07")
    [new_payload] = await after.encode([plain("new")])
    assert new_payload.metadata[KEY_ID] == b"2026-07"
    assert await after.decode([old_payload, new_payload]) == [plain("old"), plain("new")]


async def test_unknown_key_id_names_the_id_and_the_setting():
    [sealed] = await EncryptionCodec({"retired": OLD}, "retired").encode([plain()])
    with pytest.raises(UnknownKeyError) as caught:
        await EncryptionCodec({"current": NEW}, "current").decode([sealed])
    assert "'retired'" in str(caught.value) and "TEMPODESK_CODEC_KEYS" in str(caught.value)


async def test_tampered_ciphertext_or_relabelled_key_fails():
    codec = EncryptionCodec({"a": OLD, "b": NEW}, "a")
    [sealed] = await codec.encode([plain()])
    flipped = bytearray(sealed.data)
    flipped[20] ^= 0x01
    tampered = Payload(metadata=dict(sealed.metadata), data=bytes(flipped))
    with pytest.raises(CodecError, match="fails authentication"):
        await codec.decode([tampered])
    relabelled = Payload(metadata={**sealed.metadata, KEY_ID: b"b"}, data=sealed.data)
    with pytest.raises(CodecError, match="fails authentication"):
        await codec.decode([relabelled])
    truncated = Payload(metadata=dict(sealed.metadata), data=sealed.data[:5])
    with pytest.raises(CodecError, match="truncated"):
        await codec.decode([truncated])


async def test_unencrypted_payloads_pass_through_untouched():
    codec = EncryptionCodec({"k1": OLD}, "k1")
    untouched = [plain(), Payload(metadata={"encoding": b"binary/null"})]
    assert await codec.decode(untouched) == untouched


def test_settings_read_keys_from_json_env(monkeypatch):
    monkeypatch.setenv("TEMPODESK_CODEC_KEYS", json.dumps({"2026-01": b64(OLD),
                                                           "2026-07": b64(NEW)}))
    monkeypatch.setenv("TEMPODESK_CODEC_KEY_ID", "2026-07")
    settings = make_settings()
    assert settings.codec_key_bytes == {"2026-01": OLD, "2026-07": NEW}
    assert b64(NEW) not in repr(settings)  # keys are secrets: never in a repr or a log


@pytest.mark.parametrize(("values", "says"), [
    ({"codec_keys": {"k": b64(OLD)}, "codec_key_id": "other"}, "TEMPODESK_CODEC_KEY_ID 'other'"),
    ({"codec_keys": {"k": b64(OLD)}}, "TEMPODESK_CODEC_KEY_ID is not"),
    ({"codec_key_id": "k"}, "(none set)"),
    ({"codec_keys": {"k": b64(OLD[:16])}, "codec_key_id": "k"}, "decodes to 16 bytes"),
    ({"codec_keys": {"k": "not base64!"}, "codec_key_id": "k"}, "is not base64"),
    ({"codec_keys": {"bad id": b64(OLD)}, "codec_key_id": "bad id"}, "must be 1-64"),
])
def test_settings_refuse_unusable_keys_and_say_what_to_do(values, says):
    with pytest.raises(ValidationError) as caught:
        make_settings(**values)
    assert says in str(caught.value)


async def test_data_converter_encrypts_only_with_keys():
    assert data_converter(make_settings(codec_keys={}, codec_key_id=None)) is (
        pydantic_data_converter)
    converter = data_converter(make_settings(codec_keys={"k": b64(OLD)}, codec_key_id="k"))
    assert isinstance(converter.payload_codec, EncryptionCodec)
    assert converter.failure_converter_class is DefaultFailureConverterWithEncodedAttributes
    form = ExitForm.model_validate({
        "employee": {"name": "Jo Tran", "email": "jo.tran@harbourside.example"},
        "user_principal_name": "jo.tran@harbourside.example", "last_working_day": "2026-12-04"})
    [payload] = await converter.encode([form])
    assert b"Jo Tran" not in payload.SerializeToString()
    assert await converter.decode([payload], [ExitForm]) == [form]
