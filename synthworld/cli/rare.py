"""`synthworld rare`: the probability that a scenario's KPI crosses a threshold, with a CI.

The run is resumable: every finished batch is recorded in ``OUT/manifest.json`` (and its
per-run rows in ``OUT/batches/``) as soon as it ends, so a rerun with the same arguments and
``--out`` skips those batches and gives the result an uninterrupted run would have given. The
arguments that define the batches (scenario, parameters, seed, KPI, statistic, threshold,
method, batch size or particles) must match; the stopping rule (--target, --max-runs,
--max-batches, --confidence...) may change, e.g. to tighten a finished estimate.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import click
from rich import box
from rich.markup import escape
from rich.table import Table

from populations.errors import ConfigError, OutputExistsError
from populations.output import check_destination, package_version, parameters_sha256
from synthworld.cli.app import cli, out_console, progress_bar

METHODS = ("monte-carlo", "splitting")
MANIFEST = "manifest.json"
RESULT = "rare.json"
RUNS = "runs.parquet"
BATCHES = "batches"
# The manifest keys that define the batches: a rerun must repeat them to resume.
IDENTITY = ("scenario", "parameters", "seed", "kpi", "stat", "threshold", "method", "design")


@cli.command(short_help="Probability that a KPI crosses a threshold, with a CI.")
@click.argument("name")
@click.option("--kpi", required=True, help="The KPI to watch, e.g. H (people in hospital).")
@click.option(
    "--threshold",
    type=float,
    required=True,
    help="The level the KPI must reach (>=); for 'more than 500' of a count, give 501.",
)
@click.option(
    "--stat",
    type=click.Choice(["max", "sum"]),
    default="max",
    show_default=True,
    help="max: the KPI at some step reaches the threshold (a peak); sum: its total does.",
)
@click.option(
    "--method",
    type=click.Choice(METHODS),
    default="monte-carlo",
    show_default=True,
    help="monte-carlo: independent runs, a binomial interval; splitting: adaptive multilevel "
    "splitting, for small probabilities.",
)
@click.option(
    "--target",
    type=click.FloatRange(min=0, min_open=True),
    default=0.1,
    show_default=True,
    help="Stop when the relative error (standard error / estimate) is at most this.",
)
@click.option(
    "--confidence",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=0.95,
    show_default=True,
    help="Coverage of the confidence interval.",
)
@click.option(
    "--interval",
    type=click.Choice(["wilson", "clopper-pearson"]),
    default="wilson",
    show_default=True,
    help="Monte Carlo's binomial interval (Clopper-Pearson is wider, never below the level).",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="Monte Carlo runs per batch: the stopping rule is checked, and progress saved, after "
    "each.",
)
@click.option(
    "--max-runs",
    type=click.IntRange(min=1),
    default=10_000,
    show_default=True,
    help="Monte Carlo's budget of runs.",
)
@click.option(
    "--particles",
    type=click.IntRange(min=2),
    default=50,
    show_default=True,
    help="Splitting particles per batch (each batch is one independent estimate).",
)
@click.option(
    "--min-batches",
    type=click.IntRange(min=2),
    default=20,
    show_default=True,
    help="Splitting batches before the target is checked (their spread gives the error).",
)
@click.option(
    "--max-batches",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="Splitting's budget of batches.",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=42,
    show_default=True,
    help="Root random seed: the same seed and arguments give the same estimate.",
)
@click.option(
    "--steps",
    type=click.IntRange(min=1),
    default=None,
    help="The horizon: steps per run (sets the scenario's steps parameter). "
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
    help="Folder for the results; rerun with the same --out to resume. [default: rare-NAME]",
)
@click.option(
    "--overwrite", is_flag=True, help="Start afresh, deleting the results already in --out."
)
def rare(
    name: str,
    kpi: str,
    threshold: float,
    stat: str,
    method: str,
    target: float,
    confidence: float,
    interval: str,
    batch_size: int,
    max_runs: int,
    particles: int,
    min_batches: int,
    max_batches: int,
    seed: int,
    steps: int | None,
    config: Path | None,
    overrides: tuple[str, ...],
    out: Path | None,
    overwrite: bool,  # noqa: FBT001 - a click flag
) -> None:
    """Estimate the probability that KPI --kpi of scenario NAME reaches --threshold.

    The event is "the KPI reaches the threshold at some step of the run" (--stat max, e.g.
    at least 450 people in hospital at once) or "its total over the run does" (--stat sum,
    e.g. at least 70,000 infections in all). The runner stops when the relative error
    (standard error / estimate) is at most --target, or when its budget is spent.

    \b
    Methods:
      monte-carlo  independent runs (run k is replicate k of `synthworld run --replicates`);
                   the share that reach the threshold, with a Wilson or Clopper-Pearson
                   interval. It needs about (1 - p) / (p * target^2) runs: 10,000 for p = 0.01
                   at 10%. With no hit it gives an upper bound only.
      splitting    adaptive multilevel splitting: the runs that get closest to the threshold
                   are copied where they first passed a level and continued with fresh
                   randomness. Far fewer runs for small p; each batch of --particles gives one
                   unbiased estimate, their spread the standard error (a Student-t CI
                   corrected for their skewness).

    Writes to --out: rare.json (the estimate, standard error, interval, cost and why it
    stopped), runs.parquet (Monte Carlo: per run its seed index `run`, the KPI's best value
    `max_score`, `hit` and `steps`; splitting: per batch its estimate and cost) and
    manifest.json (arguments, parameters and every finished batch). The run is resumable:
    rerun the same command to continue after an interruption, or with a smaller --target or
    a larger budget to refine a finished estimate.

    \b
    Examples:
      synthworld rare outbreak --kpi H --threshold 450
      synthworld rare outbreak --kpi H --threshold 450 --method splitting --particles 20
      synthworld rare outbreak --kpi new_infections --stat sum --threshold 70000 --steps 120
      synthworld rare outbreak --kpi H --threshold 30 --steps 40 --set beta_community=0.01 \\
        --target 0.2 --out try-1      # run again to resume
    """
    from abm.params import params_to_dict, read_params
    from abm.rare import crude_monte_carlo, multilevel_splitting, scenario_event
    from synthworld.cli.run import _load

    scenario = _load(name)
    out = out if out is not None else Path(f"rare-{name}")
    sets = list(overrides)
    if steps is not None:
        sets.append(f"{scenario.steps}={steps}")
    params = read_params(scenario.parameters, toml=config, overrides=sets)
    params_data = params_to_dict(params)
    if not math.isfinite(threshold):
        msg = f"--threshold must be a finite number, got {threshold}."
        raise ConfigError(msg)
    design: dict[str, Any] = (
        {"batch_size": batch_size} if method == "monte-carlo" else {"particles": particles, "k": 1}
    )
    identity = {
        "scenario": scenario.name,
        "parameters": params_data,
        "seed": seed,
        "kpi": kpi,
        "stat": stat,
        "threshold": threshold,
        "method": method,
        "design": design,
    }
    stopping = {
        "target_rel_error": target,
        "confidence": confidence,
        **(
            {"interval": interval, "max_runs": max_runs}
            if method == "monte-carlo"
            else {"min_batches": min_batches, "max_batches": max_batches}
        ),
    }
    event = scenario_event(scenario, params, kpi=kpi, threshold=threshold, stat=stat)
    finished = _resumable(out, identity, overwrite=overwrite)
    manifest = {
        "synthworld": package_version(),
        "kind": "rare",
        **identity,
        "parameters_sha256": parameters_sha256(params_data),
        "horizon": event.horizon,
        "event": event.label,
        "seeds": (
            "run k: numpy.random.SeedSequence(seed, spawn_key=(k,)), i.e. "
            "abm.rng.Streams(seed).replicate(k)"
            if method == "monte-carlo"
            else "batch b: particle i built from SeedSequence(seed, spawn_key=(b, 0, i)), "
            "path c drawn from (b, 1, c), survivors chosen from (b, 2)"
        ),
        "stopping": stopping,
        "batches": finished,
        "finished": False,
    }
    resumed = len(finished)
    # Nothing is written (and with --overwrite nothing deleted) before the first batch has
    # finished: a misspelt KPI or a failing model leaves --out as it was.
    started = {"writing": bool(finished)}

    def start_writing() -> None:
        if started["writing"]:
            return
        if overwrite:
            _clear(out)
        out.mkdir(parents=True, exist_ok=True)
        started["writing"] = True

    with progress_bar() as progress:
        if method == "monte-carlo":
            done_before = sum(r["runs"] for r in finished)
            task = progress.add_task(
                f"Monte Carlo on {name}", total=max_runs, completed=done_before, status=""
            )
        else:
            task = progress.add_task(
                f"Splitting on {name}", total=max_batches, completed=resumed, status=""
            )

        def on_batch(record: dict[str, Any], rows: Any, result: Any) -> None:
            start_writing()
            part = out / BATCHES / f"batch-{record['batch']:05d}.parquet"
            part.parent.mkdir(exist_ok=True)
            _write_parquet(part, rows)
            manifest["batches"].append(record)
            _write_json(out / MANIFEST, manifest)
            rel = result.rel_error
            status = f"p {_fmt(result.estimate)} · RE {_fmt(rel)} → {target:g}"
            if method == "monte-carlo":
                status += f" · {result.details['hits']:,} hits"
                progress.update(task, completed=result.runs, status=status)
            else:
                progress.update(task, completed=result.batches, status=status)

        def on_run(done: int) -> None:
            if method == "monte-carlo":
                progress.update(task, completed=done_before + done)

        if method == "monte-carlo":
            result = crude_monte_carlo(
                event,
                seed=seed,
                target_rel_error=target,
                confidence=confidence,
                interval=interval,
                batch_size=batch_size,
                max_runs=max_runs,
                finished=finished,
                on_batch=on_batch,
                progress=on_run,
            )
        else:
            result = multilevel_splitting(
                event,
                seed=seed,
                particles=particles,
                target_rel_error=target,
                confidence=confidence,
                min_batches=min_batches,
                max_batches=max_batches,
                finished=finished,
                on_batch=on_batch,
            )
    # The result may use fewer batches than the manifest holds (a smaller budget than before).
    start_writing()
    used = manifest["batches"][: result.batches]
    rows = _combine(out, result.batches)
    _write_parquet(out / RUNS, rows)
    summary = {
        "scenario": scenario.name,
        "event": event.label,
        "kpi": kpi,
        "stat": stat,
        "horizon": event.horizon,
        "seed": seed,
        **result.to_dict(),
    }
    _write_json(out / RESULT, summary)
    manifest.update(batches=used, finished=True, result=summary)
    _write_json(out / MANIFEST, manifest)
    _print_result(name, event, result, seed, resumed, out, rows.height)


# ------------------------------------------------------------------------------- the folder


def _resumable(out: Path, identity: dict[str, Any], *, overwrite: bool) -> list[dict[str, Any]]:
    """The finished batches in `out` to resume from (none for a new folder or --overwrite).

    Refuses a folder holding something else (unless --overwrite) or a rare-event run with
    other arguments.
    """
    manifest_file = out / MANIFEST
    if overwrite or not manifest_file.is_file():
        check_destination(out, overwrite=overwrite)
        return []
    try:
        old = json.loads(manifest_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        msg = f"`{manifest_file}` cannot be read ({exc}). Hint: choose another --out."
        raise OutputExistsError(msg) from None
    if not isinstance(old, dict) or old.get("kind") != "rare":
        check_destination(out, overwrite=False)
        return []
    batches = old.get("batches") or []
    if not batches:
        return []  # nothing finished: start afresh whatever the arguments were
    for key in IDENTITY:
        if old.get(key) != identity[key]:
            msg = (
                f"`{out}` holds a rare-event run with another {key} ({_show(old.get(key))}, "
                f"now {_show(identity[key])}), so it cannot be resumed. Hint: repeat its "
                "arguments to resume it, choose another --out, or pass --overwrite to start "
                "afresh."
            )
            raise OutputExistsError(msg)
    return [dict(b) for b in batches]


def _show(value: Any) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 60 else text[:57] + "..."


def _clear(out: Path) -> None:
    """Delete what --overwrite replaces (after the arguments were checked)."""
    if not out.is_dir():
        return
    for child in out.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


def _write_json(path: Path, data: Any) -> None:
    """Write JSON to a temporary file and rename it, so a crash never leaves half a file."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(json.dumps(data, indent=2, allow_nan=False) + "\n")
    os.replace(tmp, path)


def _write_parquet(path: Path, frame: Any) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        frame.write_parquet(tmp, compression="zstd")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _combine(out: Path, batches: int) -> Any:
    import polars as pl

    parts = [out / BATCHES / f"batch-{b:05d}.parquet" for b in range(batches)]
    missing = [p for p in parts if not p.is_file()]
    if missing:
        msg = (
            f"`{missing[0]}` is missing, though the manifest lists its batch. Hint: rerun with "
            "--overwrite to start afresh."
        )
        raise OutputExistsError(msg)
    return pl.concat([pl.read_parquet(p) for p in parts], how="vertical")


# ------------------------------------------------------------------------------- the summary


def _fmt(value: float) -> str:
    return f"{value:.3g}" if math.isfinite(value) else "n/a"


def _print_result(
    name: str, event: Any, result: Any, seed: int, resumed: int, out: Path, rows: int
) -> None:
    method = "Monte Carlo" if result.method == "monte-carlo" else "splitting"
    out_console.print(
        f"P({event.label} within {event.horizon} steps of `{name}`), seed {seed}, by {method}:",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    table = Table(box=box.SIMPLE_HEAD, show_header=False)
    table.add_column("what", no_wrap=True)
    table.add_column("value")
    pct = f"{result.confidence:.0%}"
    table.add_row("estimate", _fmt(result.estimate))
    table.add_row(
        "standard error",
        f"{_fmt(result.stderr)} (relative error {_fmt(result.rel_error)}, target "
        f"{result.target_rel_error:g})",
    )
    table.add_row(f"{pct} interval", f"{_fmt(result.ci_low)} .. {_fmt(result.ci_high)}")
    if result.method == "monte-carlo":
        table.add_row("hits", f"{result.details['hits']:,} of {result.runs:,} runs")
    else:
        table.add_row("particles", f"{result.details['particles']} per batch")
    cost = f"{result.runs:,} runs, {result.model_steps:,} steps, {result.batches} batches"
    if resumed:
        cost += f" ({min(resumed, result.batches)} resumed from --out)"
    table.add_row("cost", cost)
    table.add_row("stopped", escape(result.stop_reason))
    out_console.print(table)
    if not result.converged:
        budget = "--max-runs" if result.method == "monte-carlo" else "--max-batches"
        out_console.print(
            f"The target relative error was not reached: raise {budget} and rerun with the "
            "same --out to continue.",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    out_console.print(
        f"Wrote {out}/: {RESULT} (the result), {RUNS} ({rows:,} rows), {MANIFEST} (arguments "
        "and finished batches, for resuming).",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
