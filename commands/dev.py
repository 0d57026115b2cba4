"""`tempodesk dev`: the whole desk on one machine (dev_stack.py), served as in production
(composition.py)."""

from __future__ import annotations

import contextlib

import composition
import dev_stack
from commands.common import config_or_exit, run, settings_or_exit, setup_logging


def dev() -> None:
    """Embedded Temporal dev server (persisted in .data/) + worker + API + codec server +
    inbound SMTP, stopped by Ctrl-C."""
    setup_logging()
    settings = dev_stack.dev_settings(settings_or_exit())
    config = config_or_exit(settings.config_path)
    with dev_stack.running(settings) as stack, contextlib.suppress(KeyboardInterrupt):
        run(composition.serve(stack.settings, config, run_worker=True, run_api=True,
                              server=stack.server, codec_socket=stack.codec_socket,
                              codec_secret=stack.codec_secret, banner=stack.banner(),
                              take_mail=True))
