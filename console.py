"""Where the `tempodesk` commands write: ``out`` (stdout) and ``err`` (stderr), rich consoles
shared by the commands (commands/), the dev stack (dev_stack.py) and the composition root
(composition.py)."""

from __future__ import annotations

import os
import sys

from rich.console import Console


def console(stderr: bool = False) -> Console:
    """Piped output (no terminal, no COLUMNS) is not cut to 80 columns: ids stay whole."""
    stream = sys.stderr if stderr else sys.stdout
    wide = not stream.isatty() and "COLUMNS" not in os.environ
    return Console(stderr=stderr, width=200 if wide else None)


out = console()
err = console(stderr=True)
