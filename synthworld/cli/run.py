"""`synthworld scenarios` and `synthworld run`: list the scenarios installed and run one."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import click
from rich import box
from rich.markup import escape
from rich.table import Table

from abm.events import EVENT_FORMATS
from populations.config import read_toml
from populations.errors import ConfigError, closest_hint
from populations.output import (
    check_destination,
)
from synthworld.cli.app import cli, execution, execution_options, out_console, progress_bar

# ------------------------------------------------------------------------------- scenarios


def _load(name: str) -> Any:
    """`abm.registry.load_scenario`, with a scenario that fails to import as a one-line error."""
    from abm.registry import load_scenario

    try:
        return load_scenario(name)
    except ImportError as exc:
        msg = (
            f"scenario `{name}` cannot be imported: {exc}. Hint: reinstall the package that "
            "provides it (run with --debug for the traceback)."
        )
        raise ConfigError(msg) from exc


def _show_value(value: Any) -> str:
    """A parameter value as it would be typed after --set (TOML)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_show_value(v) for v in value) + "]"
    if isinstance(value, str):
        return json.dumps(value)
    return str(value)


@cli.command()
@click.argument("name", required=False)
@click.option(
    "--params",
    "params_of",
    metavar="NAME",
    default=None,
    help="Show the parameters of scenario NAME (the same as `synthworld scenarios NAME`).",
)
def scenarios(name: str | None, params_of: str | None) -> None:
    """List the installed scenarios, or the parameters of one.

    Without NAME: one line per scenario (its name and what it simulates). With NAME: its
    parameters, with their defaults, units, allowed values and meaning. Change them with
    `synthworld run NAME --set KEY=VALUE` or a TOML file given to `--config`.

    Scenarios are Python packages registered under the entry point group
    `synthworld.scenarios`; installing such a package makes it appear here.

    \b
    Examples:
      synthworld scenarios
      synthworld scenarios outbreak
      synthworld scenarios --params outbreak
    """
    from abm.registry import available_scenarios

    if name is not None and params_of is not None and name != params_of:
        msg = f"two scenario names given: `{name}` and --params `{params_of}`; give one."
        raise click.UsageError(msg)
    chosen = params_of or name
    if chosen is not None:
        _print_params(_load(chosen))
        return
    found = available_scenarios()
    if not found:
        out_console.print(
            "No scenario is installed. Hint: install a package that registers one under the "
            "entry point group `synthworld.scenarios`."
        )
        return
    out_console.print("Installed scenarios:")
    table = Table(box=box.SIMPLE_HEAD)
    table.add_column("name", no_wrap=True)
    table.add_column("summary")
    for key in sorted(found):
        try:
            summary = _load(key).summary
        except Exception as exc:  # one broken plugin must not hide the others
            summary = f"[red]cannot be loaded: {escape(str(exc))}[/]"
        else:
            summary = escape(summary)
        table.add_row(escape(key), summary)
    out_console.print(table)
    out_console.print(
        "Parameters of one: `synthworld scenarios NAME`. Run one: `synthworld run NAME`.",
        soft_wrap=True,
        highlight=False,
    )


def _print_params(scenario: Any) -> None:
    from abm.params import describe_params

    out_console.print(
        f"Parameters of `{scenario.name}`: {scenario.summary}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    rows = [
        {
            "name": row["name"],
            "default": _show_value(row["default"]),
            "unit": str(row["unit"]),
            "allowed": row["allowed"],
            "help": str(row["help"]),
        }
        for row in describe_params(scenario.parameters)
    ]
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    # Long defaults (lists) fold; the help column takes the rest of the line.
    table.add_column("name", overflow="fold")
    table.add_column("default", max_width=20, overflow="fold")
    table.add_column("unit", max_width=14)
    table.add_column("allowed", max_width=14)
    table.add_column("help")
    for r in rows:
        table.add_row(*(escape(r[c]) for c in ("name", "default", "unit", "allowed", "help")))
    out_console.print(table)
    out_console.print(
        f"Change one with `synthworld run {scenario.name} --set NAME=VALUE` (or in a TOML file "
        f"given to --config); --steps sets `{scenario.steps}`.",
        soft_wrap=True,
        highlight=False,
        markup=False,
    )
    extras = []
    if scenario.presets:
        extras.append("presets (--preset): " + ", ".join(sorted(scenario.presets)))
    if scenario.exports:
        extras.append("extra formats (--format): " + ", ".join(sorted(scenario.exports)))
    for line in extras:
        out_console.print(line[0].upper() + line[1:] + ".", soft_wrap=True, markup=False)


@cli.command(short_help="Run a scenario: event log, KPIs and manifest.")
@click.argument("name")
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=42,
    show_default=True,
    help="Root random seed: the same seed and parameters give identical files.",
)
@click.option(
    "--steps",
    type=int,
    default=None,
    help="Number of steps to simulate (sets the scenario's steps parameter). "
    "[default: the scenario's]",
)
@click.option(
    "-c",
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="TOML file of parameter values (keys as listed by `synthworld scenarios NAME`).",
)
@click.option(
    "-s",
    "--set",
    "overrides",
    metavar="KEY=VALUE",
    multiple=True,
    help="Set one parameter, after --config (repeatable; dotted keys for nested tables).",
)
@click.option(
    "-o",
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder to write the results into (must be new or empty). [default: run-NAME]",
)
@click.option(
    "--format",
    "fmt",
    default="parquet",
    show_default=True,
    help="File format of the event log: " + ", ".join(EVENT_FORMATS) + ", or a layout the "
    "scenario exports (fraud: paysim, amlworld, samld; transport: matsim), written beside "
    "the Parquet log; `synthworld scenarios NAME` lists them. "
    "KPIs are always Parquet.",
)
@click.option(
    "--preset",
    default=None,
    help="A named set of parameter values the scenario provides (e.g. fraud: paysim), "
    "applied before --config and --set.",
)
@click.option("--overwrite", is_flag=True, help="Replace the results already in --out.")
@click.option(
    "--replicates",
    type=int,
    default=1,
    show_default=True,
    help="Number of replicates: with more than 1, --out holds one shard per replicate.",
)
@click.option(
    "--processes",
    type=int,
    default=1,
    show_default=True,
    help="Worker processes for the replicates (0: every core). The files do not depend on it.",
)
@execution_options
@click.option(
    "--resume",
    is_flag=True,
    help="Finish the replicates a killed run of the same command left unfinished (those it "
    "finished are kept), instead of starting again.",
)
def run(
    name: str,
    seed: int,
    steps: int | None,
    config: Path | None,
    overrides: tuple[str, ...],
    out: Path | None,
    fmt: str,
    preset: str | None,
    overwrite: bool,  # noqa: FBT001 - a click flag
    replicates: int,
    processes: int,
    scheduler: str | None,
    workers: int | None,
    resume: bool,  # noqa: FBT001 - a click flag
) -> None:
    """Run the scenario NAME and write its event log, KPIs and manifest.

    Parameters start at the scenario's defaults (see `synthworld scenarios NAME`), then take
    the values of the --preset, then of the --config TOML file, then each --set KEY=VALUE,
    then --steps.

    Writes to --out: the event log (events.parquet, .csv or .jsonl: one row per event), the
    KPIs per step (kpis.parquet) and manifest.json (version, seed, parameters, rows and sha256
    of each file). Files appear only when the run has finished; an interrupted run leaves
    nothing behind. The same --seed and parameters give byte-identical files.

    With --replicates N (N > 1), replicate k runs with the streams Streams(seed).replicate(k)
    and --out holds one shard per replicate: events/shard=0000k/, kpis/shard=0000k/,
    manifests/shard=0000k.json and replicates.json listing them all; the files are the same
    whatever --processes, and on a Dask cluster (--scheduler, --workers). A run that was killed
    is finished by the same command with --resume, keeping the replicates it had done.

    \b
    Examples:
      synthworld scenarios                       # which scenarios are installed
      synthworld run outbreak                    # defaults, seed 42, into run-outbreak/
      synthworld run outbreak --steps 30 --set beta_community=0.03 --out try-1
      synthworld run outbreak --config my.toml --seed 7 --format csv --out try-2
      synthworld run outbreak --replicates 20 --processes 0 --out many   # all cores
      synthworld run fraud --replicates 8 --workers 2 --out big          # local Dask cluster
      synthworld run fraud --preset paysim --format paysim --out paysim-like
    """
    from abm.model import SynthModel
    from abm.params import read_params

    scenario = _load(name)
    out = out if out is not None else Path(f"run-{name}")
    sets = list(overrides)
    if steps is not None:
        sets.append(f"{scenario.steps}={steps}")
    if replicates < 1:
        msg = f"--replicates must be at least 1, got {replicates}."
        raise ConfigError(msg)
    if processes < 0:
        msg = f"--processes must be 0 (every core) or more, got {processes}."
        raise ConfigError(msg)
    export = None
    if fmt not in EVENT_FORMATS:
        if fmt not in scenario.exports:
            msg = f"unknown format `{fmt}` for scenario `{name}`. " + closest_hint(
                fmt, [*EVENT_FORMATS, *scenario.exports]
            )
            raise ConfigError(msg)
        export, fmt = scenario.exports[fmt], "parquet"
    values: dict[str, Any] = {}
    if preset is not None:
        values = read_toml(scenario.preset(preset), what=f"preset `{preset}`")
    if config is not None:
        values = _merge(values, read_toml(config, what="parameter file"))
    params = read_params(scenario.parameters, toml=values or None, overrides=sets)
    if replicates == 1 and (scheduler or workers or resume):
        msg = (
            "--scheduler, --workers and --resume are for runs of several replicates (shards). "
            "Hint: add --replicates N with N > 1."
        )
        raise ConfigError(msg)
    check_destination(out, overwrite=overwrite)  # before the model is built
    total = scenario.steps_in(params)
    if replicates > 1:
        where = execution(processes, scheduler, workers)
        _run_replicates(scenario, params, seed, replicates, where, out, fmt, overwrite, resume)
        if export is not None:
            _export(export, out)
        return
    model = scenario.build(params, seed=seed, out=out, fmt=fmt, overwrite=overwrite)
    if not isinstance(model, SynthModel):
        msg = (
            f"scenario `{name}`: build() returned a {type(model).__name__}, not a SynthModel. "
            "Hint: return the model (an abm.model.SynthModel subclass)."
        )
        raise ConfigError(msg)
    with model, progress_bar() as progress:
        task = progress.add_task(f"Running {name}", total=total, status="")

        def on_step(done: int, of: int) -> None:
            progress.update(task, completed=done, total=of, status=f"step {done}/{of}")

        model.run(total, progress=on_step)
    # Leaving the `with` block closed the model: its files are now in place.
    if export is not None:
        _export(export, out)
    _print_run(name, seed, model.clock.step, out)


def _merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """`update` over `base`, table by table (a preset's table keeps the keys a file leaves)."""
    merged = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _export(export: Any, out: Path) -> None:
    with progress_bar() as progress:
        progress.add_task("Writing the export", total=None, status="")
        files = export(out)
    for rel, rows in files.items():
        out_console.print(
            f"Exported {out / rel} ({rows:,} rows).", markup=False, highlight=False, soft_wrap=True
        )


def _run_replicates(
    scenario: Any,
    params: Any,
    seed: int,
    n: int,
    where: Any,
    out: Path,
    fmt: str,
    overwrite: bool,  # noqa: FBT001
    resume: bool,  # noqa: FBT001
) -> None:
    from abm.replicates import MANIFEST, run_replicates

    ran_on: list[str] = []
    announce = where.on_open

    def opened(backend: Any) -> None:
        ran_on.append(backend.describe())
        if announce is not None:
            announce(backend)

    where = dataclasses.replace(where, on_open=opened)
    with progress_bar() as progress:
        task = progress.add_task(f"Running {scenario.name}", total=n, status="")

        started = time.perf_counter()

        def on_replicate(done: int, of: int, *, rows: int) -> None:
            rate = rows / max(time.perf_counter() - started, 1e-9)
            progress.update(
                task,
                completed=done,
                total=of,
                status=f"replicate {done}/{of}, {rows:,} rows, {rate:,.0f} rows/s",
            )

        manifest = run_replicates(
            scenario,
            params,
            seed=seed,
            n=n,
            out=out,
            fmt=fmt,
            execution=where,
            overwrite=overwrite,
            resume=resume,
            progress=on_replicate,
        )
    shards = manifest["shards"]
    steps = {s["steps"] for s in shards}
    ran = f"{steps.pop()} steps" if len(steps) == 1 else f"up to {max(steps)} steps"
    out_console.print(
        f"Ran {n} replicates of `{scenario.name}` for {ran} (seed {seed}, on "
        f"{ran_on[0] if ran_on else 'this process'}): {manifest['rows']:,} events.",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    out_console.print(
        f"Wrote {out}/ (one shard per replicate; {MANIFEST} lists them):",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    table = Table(box=box.SIMPLE_HEAD)
    table.add_column("replicate", justify="right")
    table.add_column("steps", justify="right")
    table.add_column("events", justify="right")
    table.add_column("event file", no_wrap=True)
    for s in shards:
        rows = "" if s["rows"] is None else f"{s['rows']:,}"
        table.add_row(str(s["shard"]), str(s["steps"]), rows, escape(str(s["events"])))
    out_console.print(table)


def _print_run(name: str, seed: int, steps_done: int, out: Path) -> None:
    import polars as pl

    manifest: dict[str, Any] = {}
    manifest_file = out / "manifest.json"
    if manifest_file.is_file():
        manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
    events = manifest.get("rows")
    what = f": {events:,} events" if isinstance(events, int) else ""
    out_console.print(
        f"Ran `{name}` for {steps_done} steps (seed {seed}){what}.",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    if not out.is_dir():
        out_console.print("The scenario wrote no files.")
        return
    outputs = manifest.get("outputs", {})
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    out_console.print(f"Wrote {out}/:", markup=False, highlight=False, soft_wrap=True)
    table = Table(box=box.SIMPLE_HEAD)
    table.add_column("file", no_wrap=True)
    table.add_column("rows", justify="right")
    for rel in files:
        rows = outputs.get(rel, {}).get("rows")
        table.add_row(escape(rel), "" if rows is None else f"{rows:,}")
    out_console.print(table)
    kpi_file = out / manifest.get("kpis", "kpis.parquet")
    if not kpi_file.is_file():
        return
    kpis = pl.read_parquet(kpi_file)
    if kpis.height == 0:
        return
    last = kpis.filter(pl.col("step") == pl.col("step").max())
    groups = [c for c in kpis.columns if c not in ("step", "name", "value")]
    if groups:  # headline first: the whole-run rows (no group), then the rest is in the file
        whole = last.filter(pl.all_horizontal(pl.col(g).is_null() for g in groups))
        if whole.height:
            last, groups = whole.drop(groups), []
    out_console.print(f"KPIs at the last step recorded (step {last['step'][0]}):")
    table = Table(box=box.SIMPLE_HEAD)
    table.add_column("name", no_wrap=True)
    for g in groups:
        table.add_column(g, no_wrap=True)
    table.add_column("value", justify="right")
    shown = 20
    for row in last.head(shown).iter_rows(named=True):
        table.add_row(
            escape(row["name"]),
            *(escape("" if row[g] is None else str(row[g])) for g in groups),
            f"{row['value']:,.6g}",
        )
    out_console.print(table)
    rest = kpis.filter(pl.col("step") == pl.col("step").max()).height - min(last.height, shown)
    if rest > 0:
        out_console.print(f"... and {rest} more rows (by group) in {kpi_file}.")
