"""`make run` shows every e-mail: the real `tempodesk dev` mails into its local mailbox, whose
page lists each message with its links clickable; a director's approval link found there
approves the quote. The operators' CLI reads the codec key that stack encrypts with, and a
payload it cannot decrypt is one line, not a traceback.

On the session's shared dev stack (tests/conftest.py shared_dev: a start is the slow part),
on free ports with its own data directory (tests/devrun.py)."""

from __future__ import annotations

import base64
import json
import re
import secrets
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from html import unescape
from pathlib import Path

import httpx
import pytest

from api.pages import PAGE_POLICY
from tests.devrun import BIN, DevRun
from tests.peers import RefusingPort
from tests.web.helpers import incident_body

DIRECTOR = "mia.chen@harbourside.example"  # belton's director (tempodesk.yaml)
DESK = "servicedesk@belton.example"  # belton's desk mailbox
AGENT = {"Authorization": "Bearer td_belton_agent_demo"}
QUOTE = {"title": "Client portal: matter status page",
         "lines": [{"description": "Development", "quantity": "8", "unit_price": "150"}]}


@pytest.fixture(scope="module")
def dev(shared_dev: DevRun) -> DevRun:
    assert f"Mailbox      {shared_dev.mailbox} " in shared_dev.printed, shared_dev.printed
    return shared_dev


def mailbox_page(run: DevRun) -> list[dict]:
    """The mailbox page (a real GET), read back into its messages: subject, to, links."""
    page = httpx.get(f"{run.mailbox}/", timeout=10)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    messages = []
    for article in page.text.split("<article>")[1:]:
        messages.append({
            "subject": unescape(re.search(r"<h2>(.*?)</h2>", article).group(1)),
            "to": unescape(re.search(r"<dt>To</dt><dd>(.*?)</dd>", article).group(1)),
            "links": [unescape(h) for h in re.findall(r'<a href="([^"]+)">', article)]})
    return messages


def named_in(url: str) -> str:
    """Whom a signed link names (its token's payload, domain/tokens.py)."""
    payload = url.split("token=", 1)[1].split(".", 1)[0]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))[
        "director"]


def poll(probe, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := probe():
            return found
        time.sleep(0.5)
    raise AssertionError(f"not found within {timeout:g} s")


def test_the_directors_approval_link_is_in_the_local_mailbox(dev: DevRun):
    issued = httpx.post(f"{dev.base}/v1/quotes", json=QUOTE, headers=AGENT, timeout=10)
    assert issued.status_code == 201, issued.text
    quote = issued.json()["ticket_id"]

    def mails_about_quote() -> list[dict]:
        about = [m for m in mailbox_page(dev) if f"[{quote}]" in m["subject"]]
        directors = [m for m in about if DIRECTOR in m["to"]]
        return about if directors and any(DESK in m["to"] for m in about) else []

    mails = poll(mails_about_quote)
    [to_director] = [m for m in mails if DIRECTOR in m["to"]]
    [review] = [u for u in to_director["links"] if f"/v1/quotes/{quote}/review?token=" in u]
    # The link leads to this stack's own API, whatever port it was given.
    assert review.startswith(f"{dev.base}/"), review
    # A signed link reaches only the person it names: each director has their own mail,
    # and the desk's copy carries no link.
    for mail in mails:
        for url in (u for u in mail["links"] if "token=" in u):
            assert named_in(url) == mail["to"], mail
    assert not [u for m in mails if DESK in m["to"] for u in m["links"] if "token=" in u]

    followed = httpx.get(review, timeout=10)
    assert followed.status_code == 200 and 'value="approve"' in followed.text
    token = unescape(re.search(r'name="token" value="([^"]+)"', followed.text).group(1))
    approved = httpx.post(f"{dev.base}/v1/quotes/{quote}/review", timeout=10,
                          data={"token": token, "decision": "approve"})
    assert approved.status_code == 200, approved.text
    view = httpx.get(f"{dev.base}/v1/tickets/{quote}", headers=AGENT, timeout=10).json()
    assert view["quote_state"] == "approved" and view["decision"]["channel"] == "link"
    assert view["notices_sent"] >= 1 and view["notices_unsent"] == 0


def test_the_mailbox_page_is_a_page_like_ours(dev: DevRun):
    page = httpx.get(f"{dev.mailbox}/", timeout=10)
    assert page.headers["content-security-policy"] == PAGE_POLICY
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["x-content-type-options"] == "nosniff"
    # A subject is the client's text: shown escaped, never as markup.
    made = httpx.post(f"{dev.base}/v1/incidents", timeout=10, headers={
        "Authorization": "Bearer td_belton_requester_demo"},
        json=incident_body(subject="Printer <b>jammed</b> & <script>x()</script>"))
    assert made.status_code == 201, made.text
    ticket = made.json()["ticket_id"]

    def page_with_the_ticket() -> str | None:
        text = httpx.get(f"{dev.mailbox}/", timeout=10).text
        return text if f"[{ticket}]" in text else None

    html = poll(page_with_the_ticket)
    assert "Printer &lt;b&gt;jammed&lt;/b&gt; &amp; &lt;script&gt;" in html
    assert "<script>" not in html
    listed = httpx.get(f"{dev.mailbox}/messages", timeout=10).json()["messages"]
    assert any(f"[{ticket}]" in m["subject"] for m in listed)
    assert httpx.get(f"{dev.mailbox}/elsewhere", timeout=10).status_code == 404
    # A web page whose name was rebound to 127.0.0.1 (DNS rebinding) reads nothing.
    for path in ("/", "/messages"):
        rebound = httpx.get(f"{dev.mailbox}{path}", headers={"Host": "attacker.example"},
                            timeout=10)
        assert rebound.status_code == 421 and "[" not in rebound.text, rebound.text
    local = dev.mailbox.replace("127.0.0.1", "localhost")
    assert httpx.get(f"{local}/messages", timeout=10).status_code == 200


def tickets(run: DevRun, *args: str, **env: str) -> subprocess.CompletedProcess:
    """`tempodesk tickets ...` as an operator runs it beside `make run`: no codec key in the
    environment (DevRun sets none), the stack's data directory."""
    return subprocess.run([str(BIN / "tempodesk"), "tickets", *args], capture_output=True,
                          text=True, timeout=60, env={**run.env, "COLUMNS": "200", **env})


def test_tickets_show_reads_what_the_dev_stack_encrypted(dev: DevRun, tmp_path: Path):
    made = httpx.post(f"{dev.base}/v1/incidents", json=incident_body(), timeout=10,
                      headers={"Authorization": "Bearer td_belton_requester_demo"})
    assert made.status_code == 201, made.text
    incident = made.json()["ticket_id"]
    quote = httpx.post(f"{dev.base}/v1/quotes", json=QUOTE, headers=AGENT,
                       timeout=10).json()["ticket_id"]

    shown = tickets(dev, "show", incident)
    assert shown.returncode == 0, shown.stderr
    assert "Whole office cannot send e-mail" in shown.stdout
    as_json = tickets(dev, "show", quote, "-o", "json")
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout)["title"] == QUOTE["title"]

    # What cannot be decrypted is said in one line, with the fix: never a traceback.
    other_key = base64.b64encode(secrets.token_bytes(32)).decode()
    failures = {
        "no key": ({"TEMPODESK_DATA_DIR": str(tmp_path)}, "no codec key is set"),
        "a wrong key": ({"TEMPODESK_CODEC_KEYS": json.dumps({"dev": other_key}),
                         "TEMPODESK_CODEC_KEY_ID": "dev"}, "fails authentication"),
        "another id": ({"TEMPODESK_CODEC_KEYS": json.dumps({"2026-01": other_key}),
                        "TEMPODESK_CODEC_KEY_ID": "2026-01"}, "key id 'dev'"),
    }
    refusing = RefusingPort()  # bound, never listening: no Temporal answers there
    failures["no Temporal"] = ({"TEMPODESK_TEMPORAL_ADDRESS": f"127.0.0.1:{refusing.port}"},
                               "cannot reach Temporal")
    try:
        with ThreadPoolExecutor(len(failures)) as pool:  # four CLI starts side by side
            ran = {case: pool.submit(tickets, dev, "show", incident, **env)
                   for case, (env, _) in failures.items()}
        for case, (_, said) in failures.items():
            failed = ran[case].result()
            assert failed.returncode == 1, (case, failed.stdout, failed.stderr)
            assert said in failed.stderr, (case, failed.stderr)
            assert len(failed.stderr.strip().splitlines()) == 1, (case, failed.stderr)
            assert "Traceback" not in failed.stderr + failed.stdout
    finally:
        refusing.release()
