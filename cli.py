"""`tempodesk`: run the desk (dev, worker, api), check config, preview SLAs, read tickets."""

from __future__ import annotations

import contextlib
import logging
import os
import sys

import typer

from commands import config, dev, reports, roles, sla, tickets

# The entry point only assembles: each command group lives in commands/, what the running
# commands build in composition.py, the dev stack in dev_stack.py.
app = typer.Typer(help=__doc__, no_args_is_help=True, add_completion=False)
app.add_typer(config.app, name="config")
app.add_typer(sla.app, name="sla")
app.add_typer(tickets.app, name="tickets")
app.add_typer(reports.app, name="reports")
app.command("dev")(dev.dev)
app.command("codec-server")(roles.codec_server_command)
app.command("worker")(roles.worker_command)
app.command("api")(roles.api_command)
app.command("smtp")(roles.smtp_command)


def main() -> None:
    """The `tempodesk` console script: the commands, then an exit that skips the
    interpreter's teardown. A process that held a Temporal client can abort there (SIGABRT,
    "Fatal Python error: PyGILState_Release": the SDK's Rust threads outlive the interpreter,
    temporalio/sdk-python#300; seen on `tempodesk smtp` stopping on a loaded machine). By
    then the command has finished and shut its servers and workers down; only the exit
    status and what is still buffered are left to hand over."""
    try:
        app()
        code: object = 0
    except SystemExit as done:
        code = done.code
    if isinstance(code, str):  # sys.exit("message"): said on stderr, status 1
        print(code, file=sys.stderr)
        code = 1
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe or stream
            stream.flush()
    os._exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
