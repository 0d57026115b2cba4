"""What the desk records of a file (domain/attachments.py): keys paired with their parser,
names fit for a header, types from the bytes, and the limits' refusals."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.attachments import (
    Attachment,
    Channel,
    FileLimits,
    object_key,
    parse_object_key,
    refusal,
    safe_name,
    served_type,
    sniff,
)

SHA = "ab" * 32


def held(size: int, sha: str = SHA) -> Attachment:
    return Attachment(sha256=sha, name="a", content_type="image/png", size=size, by="x",
                      at=datetime.now(UTC), channel=Channel.API)


def test_keys_and_their_parser_are_a_pair():
    assert parse_object_key(object_key("belton", SHA)) == ("belton", SHA)
    for bad in ("belton", f"belton/{SHA}/x", f"../{SHA}", f"belton/{SHA[:-1]}", f"B/{SHA}"):
        with pytest.raises(ValueError):
            parse_object_key(bad)
    with pytest.raises(ValueError):
        object_key("../other", SHA)


@pytest.mark.parametrize(("given", "kept"), [
    ("../../etc/passwd", "passwd"), ("C:\\Users\\jo\\shot.png", "shot.png"),
    ('a"b\r\n.png', "a_b_.png"), ("", "file"), ("...", "file"), ("x" * 500, "x" * 200),
    ("\u202egpj.exe", "gpj.exe"), ("invoice\u2066\u200f.pdf\u2069.exe", "invoice_.pdf_.exe"),
    ("a\x85b.txt", "a_b.txt")])
def test_names_lose_paths_quotes_and_control_characters(given, kept):
    assert safe_name(given) == kept


@pytest.mark.parametrize(("head", "found"), [
    (b"\x89PNG\r\n\x1a\n" + b"\0" * 20, "image/png"),
    (b"%PDF-1.7\n", "application/pdf"),
    (b"\xff\xd8\xff\xe0\0\x10JFIF", "image/jpeg"),
    (b"2026-12-06 ERROR disk full\n", "text/plain"),
    (b"caf\xc3", "text/plain"),  # a character cut at the end of the sniffed bytes
    (b"\0\1\2\3binary", "application/octet-stream"),
    (b"", "application/octet-stream")])
def test_the_type_comes_from_the_bytes(head, found):
    assert sniff(head) == found


def test_pages_and_scripts_are_served_as_plain_bytes():
    for active in ("text/html", "image/svg+xml", "application/xhtml+xml", "text/javascript"):
        assert served_type(active) == "application/octet-stream"
    assert served_type("image/png") == "image/png"


def test_limits_refuse_by_size_count_and_total_but_never_a_file_already_held():
    limits = FileLimits(max_file_bytes=10_000, max_files_per_ticket=2, max_ticket_bytes=15_000)
    assert refusal([], 10_001, limits).limit == "max_file_bytes"
    assert refusal([held(1), held(1, "cd" * 32)], 1, limits).limit == "max_files_per_ticket"
    assert refusal([held(9_000)], 9_000, limits).limit == "max_ticket_bytes"
    assert refusal([held(9_000)], 9_000, limits, sha256=SHA) is None
    assert refusal([held(1)], None, limits) is None
