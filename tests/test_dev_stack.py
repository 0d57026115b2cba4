"""dev_stack.py: `tempodesk dev`'s stand-ins stop together. A part that cannot start (here
the mailbox, its port taken) ends the command with status 2 and stops the parts started
before it, rather than leaving them serving until the process exits."""

from __future__ import annotations

import pytest
import typer

import dev_stack
from provider_sandbox import ProviderServer
from tests.conftest import make_settings
from tests.peers import RefusingPort


def test_a_part_that_cannot_start_stops_those_started_before(monkeypatch, tmp_path, capsys):
    stopped: list[str] = []
    stop = ProviderServer.__exit__

    def recorded_stop(self: ProviderServer, *exc) -> None:
        stopped.append(self.base)
        stop(self, *exc)

    monkeypatch.setattr(ProviderServer, "__exit__", recorded_stop)
    taken = RefusingPort()
    try:
        settings = make_settings(data_dir=tmp_path, mailbox_port=taken.port,
                                 s3_bucket="files-elsewhere")  # no local S3 for this test
        with pytest.raises(typer.Exit) as ended, dev_stack.running(settings):
            pytest.fail("the stack started with its mailbox port taken")
    finally:
        taken.release()
    assert ended.value.exit_code == 2
    said = capsys.readouterr()
    assert f"cannot listen on 127.0.0.1:{taken.port}" in said.err
    [sandbox] = [line for line in said.out.splitlines() if "Provider sandbox" in line]
    assert stopped == [sandbox.split()[2].removesuffix("/calls")]
    assert not (tmp_path / "temporal.db").exists()  # the dev server was never started
