"""The `synthworld` command: one module per command, all registered on the group in `app`.

A mistake in the user's input prints one line, ``error: ...``, and exits with code 2; a bug
prints one line too and exits with 1. ``--debug`` shows the traceback instead.
"""

from synthworld.cli import (  # noqa: F401 - importing registers the commands
    experiments,
    populate,
    privacy,
    rare,
    report,
    run,
)
from synthworld.cli.app import cli, main

__all__ = ["cli", "main"]
