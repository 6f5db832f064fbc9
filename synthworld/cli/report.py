"""`synthworld report` and `synthworld validate`: an HTML report of results, and fidelity checks
of generated data against reference statistics."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import IO, Any

import click
from rich import box
from rich.markup import escape
from rich.table import Table

from populations.errors import ConfigError
from synthworld.cli.app import cli, err_console, out_console, progress_bar

# ------------------------------------------------------------------------------- report


def _labels(pairs: tuple[str, ...]) -> dict[str, str]:
    labels: dict[str, str] = {}
    for pair in pairs:
        name, sep, words = pair.partition("=")
        if not sep or not name.strip() or not words.strip():
            msg = f"--label expects NAME=WORDS, got `{pair}`. Hint: --label D=deaths"
            raise ConfigError(msg)
        labels[name.strip()] = words.strip()
    return labels


@cli.command(short_help="Write an HTML report of a run or an experiment.")
@click.argument("run_dir", metavar="RUN_DIR", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="The HTML file to write. [default: RUN_DIR/report.html]",
)
@click.option("--overwrite", is_flag=True, help="Replace --out if it exists.")
@click.option(
    "-l",
    "--label",
    "labels",
    metavar="NAME=WORDS",
    multiple=True,
    help="Words for a KPI or an outcome in sentences and figures (repeatable), "
    "e.g. --label D=deaths.",
)
@click.option(
    "--outcome",
    "outcomes",
    metavar="NAME",
    multiple=True,
    help="Report this outcome (repeatable, in this order), e.g. new_infections_sum or D_last "
    "(a run also has NAME_peak). [default: each KPI by its natural measure]",
)
@click.option("--title", default=None, help="The page title. [default: the kind and scenario]")
def report(
    run_dir: Path,
    out: Path | None,
    overwrite: bool,  # noqa: FBT001 - a click flag
    labels: tuple[str, ...],
    outcomes: tuple[str, ...],
    title: str | None,
) -> None:
    """Write one self-contained HTML file that reads without code: what was run, the headline
    in plain words with its uncertainty, time series with bands, bars by zone, the assumptions
    and the manifest.

    RUN_DIR is a folder written by `synthworld run` (one run, or --replicates N),
    `synthworld whatif`, `synthworld sweep` or `synthworld sensitivity`. The page has its
    figures and styles inside it and fetches nothing, so it can be mailed or archived as it is.

    Outcomes are named as the experiments name them: NAME_sum is a KPI summed over the run,
    NAME_last its value at the end; KPIs named new_... are counts per step, so their sum is a
    total.

    \b
    Examples:
      synthworld run outbreak --out run1 && synthworld report run1
      synthworld report run1 --out run1.html --label D=deaths --label H="in hospital"
      synthworld report vaccination --outcome new_infections_sum --outcome D_last
    """
    from abm.report import write_report

    with progress_bar() as progress:
        progress.add_task("Writing the report", total=None, status="")
        target = write_report(
            run_dir,
            out,
            overwrite=overwrite,
            labels=_labels(labels),
            outcomes=list(outcomes) or None,
            title=title,
        )
    page = target.read_text(encoding="utf-8")
    figures = page.count('<img src="data:image/png')
    out_console.print(
        f"Wrote {target} ({target.stat().st_size / 1e6:.1f} MB, {figures} figure"
        f"{'s' * (figures != 1)}), the report of {run_dir}. Open it in a web browser.",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


# ------------------------------------------------------------------------------- validate


class ChecksFailed(click.ClickException):
    """Some checks did not pass: exit code 1 and one line naming them (not a user error)."""

    exit_code = 1

    def show(self, file: IO[Any] | None = None) -> None:
        err_console.print(self.message, markup=False, highlight=False, soft_wrap=True)


def _number(value: float | None) -> str:
    if value is None:
        return "n/a"
    if math.isinf(value):
        return "inf"
    return f"{value:.4g}"


@cli.command(short_help="Check generated data against reference statistics.")
@click.argument("output", metavar="OUTPUT", type=click.Path(path_type=Path))
@click.option(
    "-r",
    "--reference",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The reference statistics: a TOML file of [[check]] tables (see docs/reports.md).",
)
@click.option(
    "--json",
    "json_file",
    metavar="FILE",
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    default=None,
    help="Also write every check's result as JSON to FILE ('-': to standard output, instead "
    "of the table).",
)
def validate(output: Path, reference: Path, json_file: Path | None) -> None:
    """Compare generated data with reference statistics: per check a statistic, its threshold
    and pass or fail.

    OUTPUT is a Parquet, CSV or JSON Lines file, or a folder of them: a population from
    `synthworld populate` (tables `persons` and `households`), a run from `synthworld run`
    (tables `events` and `kpis`; shards of replicates are read as one table). A check names
    the table it reads by its file name.

    Checks (kinds): `frequencies` of a column or columns against counts or shares (SRMSE or
    total variation distance), `distribution` of a numeric column against quantiles or a
    reference sample (Kolmogorov-Smirnov), `correlation` of two columns (absolute
    difference), `rate` of a true/false column or of given values (absolute difference or
    z-score). A check passes when its statistic is at most its threshold.

    Exit code: 0 when every check passes, 1 when some fail (a line names them), 2 for bad input
    (an unknown column, an unreadable file, a malformed reference).

    \b
    Examples:
      synthworld populate --out riverton
      synthworld validate riverton --reference examples/demo-reference.toml
      synthworld validate riverton -r examples/demo-reference.toml --json checks.json
      synthworld validate run1/events.parquet -r my-log-reference.toml --json -
    """
    from abm.validate import read_reference
    from abm.validate import validate as run_checks

    ref = read_reference(reference)
    with progress_bar() as progress:
        task = progress.add_task("Checking", total=len(ref.checks), status="")

        def on_check(done: int, total: int) -> None:
            progress.update(task, completed=done, status=f"check {done}/{total}")

        result = run_checks(output, ref, progress=on_check)
    data = result.to_dict()
    if json_file is not None:
        text = json.dumps(data, indent=2, allow_nan=False) + "\n"
        if str(json_file) == "-":
            sys.stdout.write(text)
        else:
            json_file.parent.mkdir(parents=True, exist_ok=True)
            json_file.write_text(text, encoding="utf-8")
    if json_file is None or str(json_file) != "-":
        _print_checks(result, reference)
    failed = result.failed
    if failed:
        names = "; ".join(
            f"`{r.name}` ({r.statistic} {_number(r.value)} > {_number(r.threshold)})"
            if r.value is not None
            else f"`{r.name}` ({r.note or 'no value'})"
            for r in failed
        )
        msg = f"validation failed: {len(failed)} of {len(result.results)} checks: {names}."
        raise ChecksFailed(msg)


def _print_checks(result: Any, reference: Path) -> None:
    title = f" ({result.title})" if result.title else ""
    out_console.print(
        f"Checked {result.output} against {reference}{title}:",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("check", ratio=3, overflow="fold")
    table.add_column("data", ratio=4, overflow="fold")
    table.add_column("statistic", no_wrap=True)
    table.add_column("value", justify="right", no_wrap=True)
    table.add_column("limit", justify="right", no_wrap=True)
    table.add_column("result", no_wrap=True)
    for r in result.results:
        verdict = "[green]pass[/]" if r.passed else "[bold red]FAIL[/]"
        value = _number(r.value) + (f" ({r.note})" if r.note else "")
        table.add_row(
            escape(r.name),
            escape(f"{r.table}: {r.described}"),
            r.statistic,
            escape(value),
            _number(r.threshold),
            verdict,
        )
    out_console.print(table)
    if result.passed:
        out_console.print(f"All {len(result.results)} checks passed.")
