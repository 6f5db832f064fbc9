"""The `synthworld` command group and its entry point (click for parsing, rich for output).

A mistake in the user's input prints one line, ``error: ...``, and exits with code 2; a bug
prints one line too and exits with 1. ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import sys
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from populations.errors import SynthworldError
from populations.output import (
    package_version,
)

err_console = Console(stderr=True)
out_console = Console()


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_version(), prog_name="synthworld")
@click.option("--debug", is_flag=True, help="Show the full traceback when something fails.")
def cli(debug: bool) -> None:  # noqa: FBT001 - a click flag
    """synthworld: synthetic populations, agent-based simulations and labelled event logs.

    Start with `synthworld populate`, which builds a synthetic population of households and
    persons for the embedded demo city (or your own data, described in a TOML file).
    `synthworld scenarios` lists the simulations installed and `synthworld run NAME` runs one.
    Each command has its own --help.
    """


def progress_bar() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=not err_console.is_terminal,
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the command, turning errors into one line and an exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    if debug:  # accepted anywhere on the line, e.g. after the command's own options
        args = ["--debug", *(a for a in args if a != "--debug")]
    try:
        cli.main(args=args, prog_name="synthworld", standalone_mode=False)
    except click.exceptions.Abort:
        err_console.print("aborted")
        return 130
    except click.exceptions.ClickException as exc:
        if debug:
            raise
        exc.show(file=sys.stderr)
        return exc.exit_code
    except SynthworldError as exc:
        if debug:
            raise
        err_console.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        return 2
    except Exception as exc:  # a bug: say so in one line
        if debug:
            raise
        err_console.print(
            f"internal error: {type(exc).__name__}: {exc}. Run again with --debug for the "
            "traceback, and please report it.",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())


def execution_options(func: Any) -> Any:
    """``--scheduler`` and ``--workers``: run on a Dask cluster instead of local processes."""
    func = click.option(
        "--workers",
        type=click.IntRange(min=1),
        default=None,
        help="Start a local Dask cluster of this many worker processes and run there "
        "(needs the `dask` extra).",
    )(func)
    return click.option(
        "--scheduler",
        metavar="tcp://HOST:PORT",
        default=None,
        help="Run on the Dask cluster whose scheduler is at this address (needs the `dask` "
        "extra). The results do not depend on where they run.",
    )(func)


def execution(processes: int, scheduler: str | None, workers: int | None) -> Any:
    """The `abm.execution.Execution` the options ask for; it says where the work runs."""
    from abm.execution import Execution

    def announce(backend: Any) -> None:
        if backend.kind == "dask":
            err_console.print(
                f"Running on {backend.describe()}.", markup=False, highlight=False, soft_wrap=True
            )

    return Execution(processes=processes, scheduler=scheduler, workers=workers, on_open=announce)
