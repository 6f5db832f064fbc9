"""The `synthworld` command (click for parsing, rich for tables and progress bars).

A mistake in the user's input prints one line, ``error: ...``, and exits with code 2; a bug
prints one line too and exits with 1. ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
import numpy as np
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from abm.events import EVENT_FORMATS
from populations.demo import demo_config_path
from populations.errors import ConfigError, SynthworldError
from populations.output import (
    FORMATS,
    check_destination,
    package_version,
    parameters_sha256,
    write_folder,
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


def _progress() -> Progress:
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


@cli.command()
@click.argument("config", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("population"),
    show_default=True,
    help="Folder to write the population into (must be new or empty).",
)
@click.option("--seed", type=int, default=42, show_default=True, help="Root random seed.")
@click.option(
    "--replicates",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Draw N independent populations from one fit (folders replicate-001 ...).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="parquet",
    show_default=True,
    help="File format of the persons and households tables.",
)
@click.option(
    "--integerise",
    type=click.Choice(["exact", "trs"]),
    default=None,
    help="How fractional weights become whole units: `exact` meets household-level (or, "
    "without households, all consistent) integer marginals exactly; `trs` only the totals. "
    "[default: from the config, else exact]",
)
@click.option(
    "--tol",
    type=float,
    default=None,
    help="Max relative error of the fit. [default: from the config, else 1e-6]",
)
@click.option(
    "--max-iter",
    type=click.IntRange(min=1),
    default=None,
    help="Iteration cap. [default: from the config, else 2000]",
)
@click.option(
    "--rescale",
    is_flag=True,
    default=None,
    help="Scale marginals whose totals disagree to the first marginal's totals, instead of "
    "stopping.",
)
@click.option(
    "--prior",
    type=float,
    default=None,
    help="Count added to every cell of the starting table (persons-only fits), so categories "
    "missing from the seed sample can be filled.",
)
@click.option("--overwrite", is_flag=True, help="Replace the results already in --out.")
def populate(
    config: Path | None,
    out: Path,
    seed: int,
    replicates: int,
    fmt: str,
    integerise: str | None,
    tol: float | None,
    max_iter: int | None,
    rescale: bool | None,  # noqa: FBT001 - a click flag
    prior: float | None,
    overwrite: bool,  # noqa: FBT001 - a click flag
) -> None:
    """Build a synthetic population from survey marginals.

    CONFIG is a TOML file naming the marginals (tidy CSV or Parquet: one column per dimension
    and a `count` column), the seed sample and settings; see docs/populations.md. Without
    CONFIG the embedded demo city (48 zones, about 100,000 persons) is used.

    Writes to --out: persons and households tables, fit_report.json, fit.png (synthetic against
    target counts) and manifest.json (version, seed, parameters, input and output hashes).
    The same --seed gives byte-identical tables.

    \b
    Examples:
      synthworld populate --out demo-population
      synthworld populate my_city.toml --out my-population --seed 7 --replicates 5
    """
    from populations.config import load_config
    from populations.output import write_frame
    from populations.report import plot_fit
    from populations.synthesis import PopulationSynthesizer, load_inputs

    check_destination(out, overwrite=overwrite)
    config_path = config or demo_config_path()
    cfg = load_config(config_path)
    inputs = load_inputs(cfg)
    synth = PopulationSynthesizer.from_config(
        cfg, tol=tol, max_iter=max_iter, rescale=rescale, integerise=integerise, prior=prior
    )
    params = {**synth.fit_config.__dict__, "replicates": replicates, "format": fmt}
    with _progress() as progress:
        task = progress.add_task("Fitting", total=synth.fit_config.max_iter, status="")

        def on_iteration(i: int, error: float) -> None:
            progress.update(task, completed=i, status=f"iteration {i}, max error {error:.2e}")

        def on_polish(done: int, total: int) -> None:
            progress.update(
                task,
                description="Polishing",
                completed=done,
                total=total,
                status=f"{done}/{total} zones",
            )

        synth.fit(inputs, callback=on_iteration, on_polish=on_polish)
        progress.update(task, visible=False)
        sampling = progress.add_task("Sampling", total=replicates, status="")
        streams = np.random.SeedSequence(seed).spawn(replicates)
        reports: list[dict[str, Any]] = []

        def fill(folder: Path) -> dict[str, Any]:
            rows: dict[str, Any] = {}
            for k, stream in enumerate(streams):
                sub = folder if replicates == 1 else folder / f"replicate-{k + 1:03d}"
                sub.mkdir(exist_ok=True)
                prefix = "" if replicates == 1 else sub.name + "/"
                pop = synth.sample(rng=np.random.default_rng(stream))
                for name, frame in (("households", pop.households), ("persons", pop.persons)):
                    if frame is not None:
                        path = write_frame(frame, sub / name, fmt)
                        rows[prefix + path.name] = frame.height
                report = synth.report(pop)
                report.write_json(sub / "fit_report.json")
                if k == 0:
                    plot_fit(
                        pop.households,
                        pop.persons,
                        synth.marginals_,
                        sub / "fit.png",
                        geography=inputs.geography,
                    )
                reports.append(report.to_dict())
                progress.update(sampling, advance=1, status=f"{k + 1}/{replicates}")
            return rows

        manifest = {
            "synthworld": package_version(),
            "command": "populate",
            "config": str(config_path) if config else "demo",
            "seed": seed,
            "parameters": params,
            "parameters_sha256": parameters_sha256(params),
            "inputs": inputs.hashes,
            "fit": _fit_summary(synth),
        }
        write_folder(out, fill, overwrite=overwrite, manifest=manifest)
    _print_report(synth, reports[0], out)


def _fit_summary(synth: Any) -> dict[str, Any]:
    f = synth.fitter_
    return {
        "status": f.status_.value,
        "iterations": f.n_iter_,
        "max_rel_error_fitted": f.fit_errors_,
        "polished_zones": len(getattr(f, "polished_zones_", [])),
    }


def _print_report(synth: Any, report: dict[str, Any], out: Path) -> None:
    fit, pop = report["fit"], report["population"]
    who = f"{pop['households']:,} households, " if pop["households"] is not None else ""
    zones = f" in {pop['zones']} zones" if pop["zones"] else ""
    status = fit["status"]
    colour = "green" if status == "converged" else "yellow"
    out_console.print(
        f"Fitted by {fit['method']}: [{colour}]{status}[/] after {fit['iterations']} iterations "
        f"({fit['seconds']:.1f} s). Synthetic population: {who}{pop['persons']:,} persons{zones}."
    )
    polished = getattr(synth.fitter_, "polished_zones_", [])
    if polished:
        out_console.print(
            f"Raking stalled in {len(polished)} zone(s); their weights were polished to meet every "
            "marginal exactly by linear programming."
        )
    table = Table(
        title="Fit of the synthetic population to each marginal",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    # Names never wrap or shorten; the numeric headers may wrap on a narrow terminal.
    table.add_column("marginal", no_wrap=True)
    table.add_column("level", no_wrap=True)
    for col in ("cells", "target", "TAE", "SRMSE", "max rel err", "exact"):
        table.add_column(col, justify="right")
    for m in report["marginals"]:
        table.add_row(
            m["name"],
            m["level"],
            f"{m['cells']:,}",
            f"{m['target_total']:,.0f}",
            f"{m['tae']:,.0f}",
            f"{m['srmse']:.4f}",
            f"{m['max_rel_error']:.3f}",
            "yes" if m["exact"] else "no",
        )
    out_console.print(table)
    out_console.print(f"Wrote {out}/ (fit_report.json, fit.png, manifest.json).", soft_wrap=True)


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
    type=click.Choice(EVENT_FORMATS),
    default="parquet",
    show_default=True,
    help="File format of the event log (KPIs are always Parquet).",
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
def run(
    name: str,
    seed: int,
    steps: int | None,
    config: Path | None,
    overrides: tuple[str, ...],
    out: Path | None,
    fmt: str,
    overwrite: bool,  # noqa: FBT001 - a click flag
    replicates: int,
    processes: int,
) -> None:
    """Run the scenario NAME and write its event log, KPIs and manifest.

    Parameters start at the scenario's defaults (see `synthworld scenarios NAME`), then take
    the values in the --config TOML file, then each --set KEY=VALUE, then --steps.

    Writes to --out: the event log (events.parquet, .csv or .jsonl: one row per event), the
    KPIs per step (kpis.parquet) and manifest.json (version, seed, parameters, rows and sha256
    of each file). Files appear only when the run has finished; an interrupted run leaves
    nothing behind. The same --seed and parameters give byte-identical files.

    With --replicates N (N > 1), replicate k runs with the streams Streams(seed).replicate(k)
    and --out holds one shard per replicate: events/shard=0000k/, kpis/shard=0000k/,
    manifests/shard=0000k.json and replicates.json listing them all; the files are the same
    whatever --processes.

    \b
    Examples:
      synthworld scenarios                       # which scenarios are installed
      synthworld run outbreak                    # defaults, seed 42, into run-outbreak/
      synthworld run outbreak --steps 30 --set beta_community=0.03 --out try-1
      synthworld run outbreak --config my.toml --seed 7 --format csv --out try-2
      synthworld run outbreak --replicates 20 --processes 0 --out many   # all cores
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
    params = read_params(scenario.parameters, toml=config, overrides=sets)
    check_destination(out, overwrite=overwrite)  # before the model is built
    total = scenario.steps_in(params)
    if replicates > 1:
        _run_replicates(scenario, params, seed, replicates, processes, out, fmt, overwrite)
        return
    model = scenario.build(params, seed=seed, out=out, fmt=fmt, overwrite=overwrite)
    if not isinstance(model, SynthModel):
        msg = (
            f"scenario `{name}`: build() returned a {type(model).__name__}, not a SynthModel. "
            "Hint: return the model (an abm.model.SynthModel subclass)."
        )
        raise ConfigError(msg)
    with model, _progress() as progress:
        task = progress.add_task(f"Running {name}", total=total, status="")

        def on_step(done: int, of: int) -> None:
            progress.update(task, completed=done, total=of, status=f"step {done}/{of}")

        model.run(total, progress=on_step)
    # Leaving the `with` block closed the model: its files are now in place.
    _print_run(name, seed, model.clock.step, out)


def _run_replicates(
    scenario: Any,
    params: Any,
    seed: int,
    n: int,
    processes: int,
    out: Path,
    fmt: str,
    overwrite: bool,  # noqa: FBT001
) -> None:
    from abm.replicates import MANIFEST, all_cores, run_replicates

    workers = min(all_cores() if processes == 0 else processes, n)
    with _progress() as progress:
        task = progress.add_task(f"Running {scenario.name}", total=n, status="")

        def on_replicate(done: int, of: int) -> None:
            progress.update(task, completed=done, total=of, status=f"replicate {done}/{of}")

        manifest = run_replicates(
            scenario,
            params,
            seed=seed,
            n=n,
            out=out,
            fmt=fmt,
            processes=workers,
            overwrite=overwrite,
            progress=on_replicate,
        )
    shards = manifest["shards"]
    steps = {s["steps"] for s in shards}
    ran = f"{steps.pop()} steps" if len(steps) == 1 else f"up to {max(steps)} steps"
    out_console.print(
        f"Ran {n} replicates of `{scenario.name}` for {ran} (seed {seed}, "
        f"{workers} process{'es' if workers > 1 else ''}): {manifest['rows']:,} events.",
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
