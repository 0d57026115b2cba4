"""A merge whose duplicate's files cannot be marked for the survivor (the store does not
answer) is refused with 503 and nothing is merged: before, the duplicate was merged and
ended at once, and its release deleted the files the survivor never listed (review)."""

from __future__ import annotations

from activities.file_store import FileStoreUnavailable
from tests.web.test_files import open_ticket, png, upload


async def test_a_merge_the_store_cannot_follow_is_refused(files_desk, monkeypatch):
    desk = files_desk
    older = await open_ticket(desk)
    assert (await upload(desk, older, "from-the-duplicate.png", png(8, seed=51))
            ).status_code == 201
    newer = await open_ticket(desk)

    async def store_down(*args, **kwargs):
        raise FileStoreUnavailable("the store did not answer")

    monkeypatch.setattr(desk.state.files, "hold", store_down)
    agent = desk.as_("belton", "agent")
    merged = await desk.http.post(f"/v1/tickets/{older}/merge", json={"survivor": newer},
                                  headers=agent)
    assert merged.status_code == 503, merged.text
    assert int(merged.headers["Retry-After"]) >= 1
    view = (await desk.http.get(f"/v1/tickets/{older}", headers=agent)).json()
    assert view["status"] not in ("resolved", "closed") and view.get("merged_into") is None
    assert [a["name"] for a in view["attachments"]] == ["from-the-duplicate.png"]
