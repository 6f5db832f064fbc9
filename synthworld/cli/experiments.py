"""`synthworld whatif`, `synthworld sweep` and `synthworld sensitivity`: experiments on a scenario.

Each command runs a scenario many times (`abm.experiments`), shows a progress bar and a summary
table, and writes a resumable folder (`abm.experiments.store`): rerun the same command after an
interruption and it skips the runs already finished.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import polars as pl
from rich import box
from rich.markup import escape
from rich.table import Table

from populations.errors import ConfigError, closest_hint
from synthworld.cli.app import cli, execution, execution_options, out_console, progress_bar
from synthworld.cli.run import _load

# ------------------------------------------------------------------------------- shared


def _baseline_options(replicates: int, minimum: int) -> Callable[[Callable], Callable]:
    """The options every experiment takes: baseline parameters, seeds, runs and output."""

    def decorate(func: Callable) -> Callable:
        options = [
            click.option(
                "--seed",
                type=click.IntRange(min=0),
                default=42,
                show_default=True,
                help="Root random seed: the same seed and arguments give the same results.",
            ),
            click.option(
                "--steps",
                type=click.IntRange(min=1),
                default=None,
                help="Steps to simulate per run (sets the scenario's steps parameter). "
                "[default: the scenario's]",
            ),
            click.option(
                "-c",
                "--config",
                type=click.Path(dir_okay=False, path_type=Path),
                default=None,
                help="TOML file of baseline parameter values.",
            ),
            click.option(
                "-s",
                "--set",
                "overrides",
                metavar="KEY=VALUE",
                multiple=True,
                help="Set one baseline parameter, after --config (repeatable; dotted keys).",
            ),
            click.option(
                "--replicates",
                type=click.IntRange(min=minimum),
                default=replicates,
                show_default=True,
                help="Runs per arm or point, each with its own seed.",
            ),
            click.option(
                "--processes",
                type=click.IntRange(min=0),
                default=1,
                show_default=True,
                help="Worker processes (0: every core). The results do not depend on it.",
            ),
            click.option(
                "--independent",
                is_flag=True,
                help="Give each arm or point its own seeds instead of common random numbers.",
            ),
            click.option(
                "--outcome",
                "outcomes",
                metavar="NAME",
                multiple=True,
                help="Outcome to show in the summary (repeatable); all are in the files.",
            ),
            click.option(
                "-o",
                "--out",
                type=click.Path(file_okay=False, path_type=Path),
                default=None,
                help="Folder for the results (new, or this same experiment to resume it). "
                "[default: COMMAND-NAME]",
            ),
            click.option(
                "--overwrite",
                is_flag=True,
                help="Replace what --out holds (the old folder goes once the new one is done).",
            ),
        ]
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


def _baseline(scenario: Any, config: Path | None, overrides: tuple[str, ...], steps: int | None):
    from abm.params import read_params

    sets = list(overrides)
    if steps is not None:
        sets.append(f"{scenario.steps}={steps}")
    return read_params(scenario.parameters, toml=config, overrides=sets)


class _Progress:
    """A progress bar over runs: ``callback(done, total)``."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.bar = progress_bar()
        self.task: Any = None
        self.first: int | None = None

    def __enter__(self) -> _Progress:
        self.bar.__enter__()
        self.task = self.bar.add_task(self.what, total=None, status="")
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.__exit__(*exc)

    def __call__(self, done: int, total: int) -> None:
        if self.first is None:
            self.first = done
        reused = f" ({self.first} reused)" if self.first else ""
        self.bar.update(
            self.task, completed=done, total=total, status=f"run {done}/{total}{reused}"
        )


def _n(count: int, word: str) -> str:
    """``1 replicate``, ``3 replicates``."""
    return f"{count} {word}{'' if count == 1 else 's'}"


def _say(text: str) -> None:
    out_console.print(text, markup=False, highlight=False, soft_wrap=True)


def _runs_line(total: int, executed: int, out: Path) -> str:
    if executed == total:
        return _n(total, "run")
    return f"{_n(total, 'run')}, {total - executed} of them finished before and reused from {out}/"


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):  # 4 significant digits, whole numbers from 10,000 on
        return f"{value:,.0f}" if abs(value) >= 1e4 else f"{value:,.4g}"
    return str(value)


def _choose(found: list[str], asked: tuple[str, ...], out: Path) -> list[str]:
    """The outcomes asked for, each checked against those the runs gave."""
    for name in asked:
        if name not in found:
            msg = (
                f"unknown outcome `{name}` (the results are in {out}/). {closest_hint(name, found)}"
            )
            raise ConfigError(msg)
    return list(dict.fromkeys(asked))


def _most_varying(results: pl.DataFrame, k: int) -> list[str]:
    """The `k` outcomes whose means per point vary most relative to their size."""
    spread = (
        results.group_by("point", "outcome")
        .agg(pl.col("value").mean())
        .group_by("outcome")
        .agg(
            (pl.col("value").std(ddof=0) / (pl.col("value").abs().mean() + 1e-12)).alias("cv"),
        )
        .fill_null(0.0)
        .sort(["cv", "outcome"], descending=[True, False])
    )
    return spread["outcome"].head(k).to_list()


def _wrote(out: Path, files: list[str]) -> None:
    _say(f"Wrote {out}/: {', '.join(files)} (and runs/, one file per run, for resuming).")


# ------------------------------------------------------------------------------- whatif


def _describe(changes: Any) -> str:
    """A policy's changes as people typed them: ``a.b=1, c=2`` (or ``no change``)."""
    from abm.experiments.changes import flatten

    items = [str(c) for c in changes] if isinstance(changes, list) else [
        f"{k}={v}" for k, v in flatten(changes)
    ]  # fmt: skip
    return ", ".join(items) if items else "no change"


def _parse_policy(text: str) -> tuple[str, list[str]]:
    from abm.experiments.designs import split_items

    name, sep, rest = text.partition("=")
    name = name.strip()
    if not sep or not name:
        msg = (
            f"--policy `{text}`: expected NAME=KEY=VALUE[,KEY=VALUE...]. "
            "Hint: --policy vaccinate=vaccination.coverage=0.6,vaccination.start_day=10"
        )
        raise ConfigError(msg)
    changes = [item for item in split_items(rest) if item] if rest.strip() else []
    for item in changes:
        if "=" not in item:
            msg = (
                f"--policy `{text}`: `{item}` is not KEY=VALUE. "
                f"Hint: --policy {name}=vaccination.coverage=0.6"
            )
            raise ConfigError(msg)
    return name, changes


def _policies(policy: tuple[str, ...], policy_file: Path | None) -> dict[str, Any]:
    from populations.config import read_toml

    found: dict[str, Any] = {}
    if policy_file is not None:
        data = read_toml(policy_file, what="policy file")
        for name, table in data.items():
            if not isinstance(table, dict):
                msg = (
                    f"policy file `{policy_file}`: `{name}` must be a table of parameter "
                    f"changes, found {table!r}. Hint: [{name}] then KEY = VALUE lines."
                )
                raise ConfigError(msg)
            found[name] = table
    for text in policy:
        name, changes = _parse_policy(text)
        if name in found:
            msg = f"policy `{name}` is given twice. Hint: give each policy a different name."
            raise ConfigError(msg)
        found[name] = changes
    if not found:
        msg = (
            "whatif needs at least one policy. Hint: --policy vaccinate=vaccination.coverage=0.6 "
            "or --policy-file policies.toml"
        )
        raise ConfigError(msg)
    return found


@cli.command(short_help="Compare policies with a baseline, paired (common random numbers).")
@click.argument("name")
@click.option(
    "-p",
    "--policy",
    metavar="NAME=KEY=VALUE[,KEY=VALUE]",
    multiple=True,
    help="A policy: a name and the parameters it changes from the baseline (repeatable).",
)
@click.option(
    "--policy-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="TOML file with one table of parameter changes per policy.",
)
@click.option(
    "--confidence",
    type=click.FloatRange(min=0, max=1, min_open=True, max_open=True),
    default=0.95,
    show_default=True,
    help="Level of the confidence intervals.",
)
@_baseline_options(replicates=10, minimum=2)
@execution_options
def whatif(
    name: str,
    policy: tuple[str, ...],
    policy_file: Path | None,
    confidence: float,
    seed: int,
    steps: int | None,
    config: Path | None,
    overrides: tuple[str, ...],
    replicates: int,
    processes: int,
    scheduler: str | None,
    workers: int | None,
    independent: bool,  # noqa: FBT001 - a click flag
    outcomes: tuple[str, ...],
    out: Path | None,
    overwrite: bool,  # noqa: FBT001 - a click flag
) -> None:
    """Compare policies with the baseline of scenario NAME: what each one changes, and how sure.

    Runs the baseline (the scenario's parameters, after --config, --set and --steps) and every
    policy --replicates times. Replicate k of every arm uses the same seed and keyed random
    draws (common random numbers), so the difference policy - baseline of replicate k is the
    policy's effect on the same people, with little noise; --independent gives each policy its
    own seeds instead, for comparison. Outcomes are, per KPI, its value at the last step
    (NAME_last) and its sum over steps (NAME_sum), e.g. new_infections_sum.

    The summary gives per policy and outcome the baseline and policy means, the mean paired
    difference and its confidence interval: an interval that does not include 0 is an effect
    the replicates can tell from chance.

    A policy is NAME=KEY=VALUE[,KEY=VALUE...] with the parameter names of `synthworld
    scenarios NAME`, or a table in a TOML --policy-file:

    \b
      [vaccinate]
      vaccination.coverage = 0.6
      vaccination.start_day = 10

    Writes to --out: comparisons.parquet (one row per policy and outcome), replicates.parquet
    (arm, replicate, seed, outcome, value), kpis.parquet (every run's KPI time series) and
    manifest.json. Each finished run is saved at once: rerun the same command to resume an
    interrupted experiment.

    \b
    Examples:
      synthworld whatif outbreak --steps 60 --policy vaccinate=vaccination.coverage=0.6
      synthworld whatif outbreak --policy close=school_closure.end_day=40 \\
          --policy mask=contact_reduction.community=0.7 --replicates 20 --processes 0
      synthworld whatif outbreak --policy-file policies.toml --outcome D_last --out study
    """
    from abm.experiments import what_if

    scenario = _load(name)
    out = out if out is not None else Path(f"whatif-{name}")
    base = _baseline(scenario, config, overrides, steps)
    found = _policies(policy, policy_file)
    with _Progress(f"Comparing policies on {name}") as progress:
        result = what_if(
            scenario, base, found, seed=seed, n=replicates, processes=processes,
            execution=execution(processes, scheduler, workers),
            common_random_numbers=not independent, confidence=confidence, out=out,
            overwrite=overwrite, progress=progress,
        )  # fmt: skip
    total = (len(found) + 1) * replicates
    pairing = "independent seeds" if independent else "common random numbers"
    _say(
        f"Compared {len(found)} polic{'ies' if len(found) > 1 else 'y'} with the baseline of "
        f"`{name}` over {_n(replicates, 'replicate')} (seed {seed}, {pairing}): "
        f"{_runs_line(total, result.executed, out)}."
    )
    frame = result.to_frame()
    available = frame["outcome"].unique(maintain_order=True).to_list()
    chosen = _choose(available, outcomes, out) or available
    for policy_name, changes in found.items():
        table = Table(box=box.SIMPLE_HEAD, title_justify="left", title=escape(
            f"{policy_name}: {_describe(changes)}"))  # fmt: skip
        table.add_column("outcome", no_wrap=True)
        for column in ("baseline", "policy", "difference", f"{confidence:.0%} CI"):
            table.add_column(column, justify="right", no_wrap=True)
        rows = frame.filter(pl.col("policy") == policy_name, pl.col("outcome").is_in(chosen))
        for row in rows.iter_rows(named=True):
            table.add_row(
                escape(row["outcome"]), _fmt(row["baseline_mean"]), _fmt(row["policy_mean"]),
                _fmt(row["diff_mean"]), f"[{_fmt(row['ci_low'])}, {_fmt(row['ci_high'])}]",
            )  # fmt: skip
        out_console.print(table)
    _say(
        "difference: policy - baseline, mean over paired replicates; an interval that does "
        "not include 0 is an effect the replicates can tell from chance."
    )
    _wrote(out, ["comparisons.parquet", "replicates.parquet", "kpis.parquet", "manifest.json"])


# ------------------------------------------------------------------------------- sweep


def _vary_option(func: Callable) -> Callable:
    return click.option(
        "-v",
        "--vary",
        metavar="KEY=LOW:HIGH|KEY=V1,V2",
        multiple=True,
        required=True,
        help="A parameter to vary: a range LOW:HIGH or a list of values (repeatable).",
    )(func)


@cli.command(short_help="Run a scenario over a grid, random or Latin hypercube design.")
@click.argument("name")
@_vary_option
@click.option(
    "--design",
    "kind",
    type=click.Choice(["grid", "random", "lhs"]),
    default="grid",
    show_default=True,
    help="grid: every combination; random: uniform points; lhs: Latin hypercube.",
)
@click.option(
    "--points",
    type=click.IntRange(min=1),
    default=None,
    help="random/lhs: number of points [default: 10]; grid: levels per LOW:HIGH range "
    "[default: 3].",
)
@_baseline_options(replicates=3, minimum=1)
@execution_options
def sweep(
    name: str,
    vary: tuple[str, ...],
    kind: str,
    points: int | None,
    seed: int,
    steps: int | None,
    config: Path | None,
    overrides: tuple[str, ...],
    replicates: int,
    processes: int,
    scheduler: str | None,
    workers: int | None,
    independent: bool,  # noqa: FBT001 - a click flag
    outcomes: tuple[str, ...],
    out: Path | None,
    overwrite: bool,  # noqa: FBT001 - a click flag
) -> None:
    """Run scenario NAME at every point of a design over its parameters, with replicates.

    Each --vary is a parameter (dotted names as in --set) and a range LOW:HIGH of numbers or a
    list of values V1,V2,... The --design decides the points: grid takes every combination of
    the lists' values and --points evenly spaced levels of each range (whole numbers for an
    integer parameter); random draws --points uniform points; lhs draws a Latin hypercube of
    --points points (each range cut into --points strata, one point in each). The baseline
    (--config, --set, --steps) holds every other parameter.

    Replicate r of every point uses the same seed (common random numbers), so differences
    between points come from the parameters; --independent gives each point its own seeds.
    The summary shows per point the mean of a few outcomes with their confidence intervals
    (--outcome chooses them; by default those that vary most across points).

    Writes to --out: design.parquet (point, one column per parameter), results.parquet (point,
    replicate, seed, outcome, value) and manifest.json. Rerun the same command to resume an
    interrupted sweep.

    \b
    Examples:
      synthworld sweep outbreak --vary beta_community=0.01:0.04 --steps 60
      synthworld sweep outbreak --vary vaccination.coverage=0,0.3,0.6 \\
          --vary vaccination.priority=oldest,random --replicates 10 --processes 0
      synthworld sweep outbreak --vary beta_community=0.01:0.04 --vary days=30:90 \\
          --design lhs --points 40 --outcome D_last --out lhs-study
    """
    from abm.experiments import factors, make_design
    from abm.experiments import sweep as run_sweep

    scenario = _load(name)
    out = out if out is not None else Path(f"sweep-{name}")
    base = _baseline(scenario, config, overrides, steps)
    found = factors(list(vary), scenario.parameters, base)
    if kind == "grid":
        design = make_design("grid", found, levels=points or 3, seed=seed)
    else:
        design = make_design(kind, found, points=points or 10, seed=seed)
    with _Progress(f"Sweeping {name}") as progress:
        result = run_sweep(
            scenario, design, seed=seed, replicates=replicates, baseline=base,
            processes=processes, common_random_numbers=not independent, out=out,
            execution=execution(processes, scheduler, workers),
            overwrite=overwrite, progress=progress,
        )  # fmt: skip
    total = design.points * replicates
    _say(
        f"Ran `{name}` at {design.points} points ({kind} design over "
        f"{', '.join(design.names)}) x {_n(replicates, 'replicate')} (seed {seed}): "
        f"{_runs_line(total, result.executed, out)}."
    )
    available = result.results["outcome"].unique(maintain_order=True).to_list()
    chosen = _choose(available, outcomes, out) or _most_varying(result.results, 3)
    summary = result.summary()
    table = Table(box=box.SIMPLE_HEAD)
    table.add_column("point", justify="right")
    for column in design.names:
        table.add_column(escape(column), justify="right")
    for outcome in chosen:
        table.add_column(f"{escape(outcome)}\nmean (interval)", justify="right")
    shown = 20
    by_point = {(r["point"], r["outcome"]): r for r in summary.iter_rows(named=True)}
    for row in design.frame.head(shown).iter_rows(named=True):
        cells = [str(row["point"]), *(_fmt(row[c]) for c in design.names)]
        for outcome in chosen:
            s = by_point.get((row["point"], outcome))
            interval = (
                ""
                if s is None or s["n"] < 2
                else (f" ({_fmt(s['ci_low'])} to {_fmt(s['ci_high'])})")
            )
            cells.append("-" if s is None else _fmt(s["mean"]) + interval)
        table.add_row(*(escape(c) for c in cells))
    out_console.print(table)
    if design.points > shown:
        _say(f"... and {design.points - shown} more points in {out}/results.parquet.")
    _wrote(out, ["design.parquet", "results.parquet", "manifest.json"])


# ------------------------------------------------------------------------------- sensitivity


@cli.command(short_help="Sobol or Morris sensitivity of a scenario's outcomes (SALib).")
@click.argument("name")
@_vary_option
@click.option(
    "--method",
    type=click.Choice(["sobol", "morris"]),
    default="sobol",
    show_default=True,
    help="sobol: variance shares S1, ST; morris: elementary effects mu_star, sigma (cheaper).",
)
@click.option(
    "--samples",
    type=click.IntRange(min=2),
    default=None,
    help="sobol: base samples N, a power of two [default: 64] (N x (params + 2) runs); "
    "morris: trajectories [default: 10] (N x (params + 1) runs).",
)
@click.option(
    "--second-order",
    is_flag=True,
    help="sobol: also the pairwise interaction indices S2 (about twice the runs).",
)
@click.option(
    "--levels",
    type=click.IntRange(min=2),
    default=4,
    show_default=True,
    help="morris: levels of the sampling grid.",
)
@click.option(
    "--confidence",
    type=click.FloatRange(min=0, max=1, min_open=True, max_open=True),
    default=0.95,
    show_default=True,
    help="Level of the bootstrap confidence intervals.",
)
@_baseline_options(replicates=1, minimum=1)
@execution_options
def sensitivity(
    name: str,
    vary: tuple[str, ...],
    method: str,
    samples: int | None,
    second_order: bool,  # noqa: FBT001 - a click flag
    levels: int,
    confidence: float,
    seed: int,
    steps: int | None,
    config: Path | None,
    overrides: tuple[str, ...],
    replicates: int,
    processes: int,
    scheduler: str | None,
    workers: int | None,
    independent: bool,  # noqa: FBT001 - a click flag
    outcomes: tuple[str, ...],
    out: Path | None,
    overwrite: bool,  # noqa: FBT001 - a click flag
) -> None:
    """Which parameters of scenario NAME drive its outcomes: Sobol or Morris indices.

    Each --vary is a parameter and its range LOW:HIGH. Samples of the ranges come from SALib
    (Saltelli's Sobol' sequence, or Morris trajectories); the scenario runs at each
    (--replicates times, averaged; common random numbers across samples unless --independent)
    and SALib computes the indices of every outcome, each with the half-width of its bootstrap
    confidence interval:

    \b
      S1       share of the outcome's variance due to the parameter alone
      ST       share due to it alone and in interactions (ST - S1: interactions)
      mu_star  mean absolute effect of moving it across its range (a ranking)
      sigma    spread of those effects (non-linear effects or interactions)

    Writes to --out: design.parquet (the samples), results.parquet (point, replicate, seed,
    outcome, value), indices.parquet (parameter, outcome, index, value, conf) and
    manifest.json. Rerun the same command to resume an interrupted analysis.

    \b
    Examples:
      synthworld sensitivity outbreak --vary beta_community=0.01:0.04 \\
          --vary vaccination.coverage=0:0.8 --method morris --samples 10 --steps 60
      synthworld sensitivity outbreak --vary beta_household=0.03:0.09 \\
          --vary beta_school=0.01:0.05 --samples 128 --processes 0 --outcome D_last
    """
    from abm.experiments import factors
    from abm.experiments import sensitivity as run_sensitivity

    scenario = _load(name)
    out = out if out is not None else Path(f"sensitivity-{name}")
    base = _baseline(scenario, config, overrides, steps)
    found = factors(list(vary), scenario.parameters, base)
    samples = samples if samples is not None else (64 if method == "sobol" else 10)
    with _Progress(f"Sensitivity of {name}") as progress:
        result = run_sensitivity(
            scenario, found, method=method, samples=samples, seed=seed, replicates=replicates,
            baseline=base, processes=processes, common_random_numbers=not independent,
            execution=execution(processes, scheduler, workers),
            confidence=confidence, second_order=second_order, levels=levels, out=out,
            overwrite=overwrite, progress=progress,
        )  # fmt: skip
    points = result.design.height
    _say(
        f"{method.capitalize()} sensitivity of `{name}` to {', '.join(f.name for f in found)}: "
        f"{points} samples x {_n(replicates, 'replicate')} (seed {seed}): "
        f"{_runs_line(points * replicates, result.executed, out)}."
    )
    indices = result.indices
    available = indices["outcome"].unique(maintain_order=True).to_list()
    chosen = _choose(available, outcomes, out) or _most_varying(result.results, 3)
    shown = ("S1", "ST") if method == "sobol" else ("mu_star", "sigma")
    table = Table(box=box.SIMPLE_HEAD)
    table.add_column("outcome", no_wrap=True)
    table.add_column("parameter", no_wrap=True)
    for index in shown:
        table.add_column(f"{index} (+/-)", justify="right")
    cells = {(r["outcome"], r["parameter"], r["index"]): r for r in indices.iter_rows(named=True)}
    for outcome in chosen:
        for f in found:
            row = [outcome, f.name]
            for index in shown:
                r = cells.get((outcome, f.name, index))
                if r is None or r["value"] is None:
                    row.append("- (no variation)" if method == "sobol" else "-")
                else:
                    conf = "" if r["conf"] is None else f" +/- {_fmt(r['conf'])}"
                    row.append(_fmt(r["value"]) + conf)
            table.add_row(*(escape(c) for c in row))
    out_console.print(table)
    _wrote(out, ["design.parquet", "results.parquet", "indices.parquet", "manifest.json"])
