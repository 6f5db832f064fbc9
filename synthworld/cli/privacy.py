"""`synthworld privacy`: what a synthetic population reveals about the seed sample behind it.

Exit codes: 0 when every threshold given holds (or none is given), 1 when a threshold fails
(``privacy check failed: ...``, after the report is printed and written), 2 for bad input (a
missing file or column, labels that differ between the tables, an empty table), as for every
command.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Any

import click
import polars as pl
from rich import box
from rich.table import Table

from populations.errors import ConfigError
from synthworld.cli.app import cli, out_console, progress_bar

__all__ = ["PrivacyCheckFailed", "print_disclosure", "read_population", "read_seed_sample"]


class PrivacyCheckFailed(click.ClickException):
    """A threshold the user set does not hold: not a usage error, so exit code 1."""

    exit_code = 1

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"privacy check failed: {self.message}", file=file, err=file is None)


def _table(folder: Path, name: str) -> Path | None:
    for suffix in (".parquet", ".csv"):
        if (folder / f"{name}{suffix}").is_file():
            return folder / f"{name}{suffix}"
    return None


def read_population(folder: Path) -> tuple[pl.DataFrame, pl.DataFrame | None, dict[str, Any]]:
    """Persons, households (or None) and the fit report's privacy section of a population."""
    from populations.marginals import read_table

    persons = _table(folder, "persons")
    if persons is None:
        replicates = sorted(p.name for p in folder.glob("replicate-*") if p.is_dir())
        if replicates:
            msg = (
                f"population folder `{folder}` holds {len(replicates)} replicates, not one "
                f"population. Hint: give one of them, e.g. `{folder / replicates[0]}`."
            )
        else:
            msg = (
                f"population folder `{folder}`: expected a persons table (persons.parquet or "
                "persons.csv), found none. Hint: give a folder written by `synthworld populate`."
            )
        raise ConfigError(msg)
    households = _table(folder, "households")
    report = folder / "fit_report.json"
    privacy: dict[str, Any] = {}
    if report.is_file():
        try:
            privacy = json.loads(report.read_text(encoding="utf-8")).get("privacy", {})
        except (json.JSONDecodeError, AttributeError) as exc:
            msg = f"`{report}` is not a fit report written by `synthworld populate`: {exc}"
            raise ConfigError(msg) from exc
    return (
        read_table(persons),
        None if households is None else read_table(households),
        privacy,
    )


def read_seed_sample(source: str, households: Path | None = None) -> pl.DataFrame:
    """Seed records (persons with their household's columns) from a population configuration
    (``.toml``: its ``[seed]``), a persons table with an optional households table, or the
    word ``demo`` (the embedded demo city's seed sample)."""
    from populations.config import load_config
    from populations.demo import demo_config_path
    from populations.marginals import read_table
    from populations.privacy import records
    from populations.seed import SeedSample

    path = demo_config_path() if source == "demo" else Path(source)
    if not path.is_file():
        msg = (
            f"seed sample `{source}` does not exist. Hint: give the population's configuration "
            "(.toml), the seed persons table (.csv or .parquet), or `demo`."
        )
        raise ConfigError(msg)
    household_id = "household_id"
    if path.suffix.lower() == ".toml":
        if households is not None:
            msg = (
                "--seed-households goes with a persons table; a configuration file already "
                "names the seed households."
            )
            raise ConfigError(msg)
        seed = load_config(path).seed
        if seed is None:
            msg = f"configuration `{path}` has no [seed] table, so no seed sample to compare with"
            raise ConfigError(msg)
        persons_path, households, household_id = seed.persons, seed.households, seed.household_id
    else:
        persons_path = path
    persons = read_table(persons_path)
    if households is None:
        return persons
    sample = SeedSample.from_frames(
        read_table(households),
        persons,
        household_id=household_id,
        source=(str(households), str(persons_path)),
    )
    return records(sample.persons, sample.households, household_id=household_id)


def _split(values: tuple[str, ...]) -> list[str] | None:
    names = [v.strip() for value in values for v in value.split(",") if v.strip()]
    return names or None


@cli.command()
@click.argument("pop_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--seed-sample",
    "seed_sample",
    metavar="FILE",
    required=True,
    help="The seed sample the population was built from: the population's configuration "
    "(.toml), the seed persons table (.csv or .parquet), or `demo` for the demo city's.",
)
@click.option(
    "--seed-households",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Seed households table, joined to a persons table given to --seed-sample on "
    "`household_id` (household columns such as hh_size become usable).",
)
@click.option(
    "--qi",
    "qis",
    multiple=True,
    metavar="NAME",
    help="A quasi-identifier (repeat, or separate with commas). `household_size` and "
    "`X_band` (a numeric column X in quintile bands) are derived when missing. [default: as "
    "the population was protected on, else the first of each present in both tables: "
    "age_band|age, sex|gender, zone|district, hh_size|household_size, employment, "
    "income_band]",
)
@click.option(
    "--max-replicated-uniques",
    type=click.IntRange(min=0),
    default=None,
    metavar="N",
    help="Fail (exit 1) if more than N seed uniques reappear in the population.",
)
@click.option(
    "--min-k",
    type=click.IntRange(min=1),
    default=None,
    metavar="K",
    help="Fail (exit 1) if some combination of quasi-identifiers is shared by fewer than K "
    "synthetic records (k-anonymity). Also the k of the `classes smaller than k` figure "
    "[default there: 5].",
)
@click.option(
    "--max-identical-share",
    type=click.FloatRange(min=0, max=1),
    default=None,
    metavar="X",
    help="Fail (exit 1) if more than this share of synthetic records equal a seed record.",
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    metavar="FILE",
    help="Also write the report (and the checks) as JSON to FILE.",
)
def privacy(
    pop_dir: Path,
    seed_sample: str,
    seed_households: Path | None,
    qis: tuple[str, ...],
    max_replicated_uniques: int | None,
    min_k: int | None,
    max_identical_share: float | None,
    json_path: Path | None,
) -> None:
    """Measure the disclosure risk of a synthetic population against its seed sample.

    POP_DIR is a folder written by `synthworld populate` (persons, and households if any).
    Records are persons with their household's columns. The report gives: the share of
    synthetic records identical to a seed record on the quasi-identifiers; replicated sample
    uniques (seed records unique on them whose combination reappears); the Gower distance from
    each synthetic record to the closest seed record, against the seed records' distances to
    each other; and the k-anonymity of the population. It is not differential privacy; see
    docs/privacy.md for what each number means and what it does not guarantee.

    Exit code 0 when every threshold holds, 1 when one fails (`privacy check failed: ...`),
    2 for bad input.

    \b
    Examples:
      synthworld privacy demo-population --seed-sample demo
      synthworld privacy my-population --seed-sample my_city.toml --qi age_band,sex,zone
      synthworld privacy my-population --seed-sample persons.csv \\
          --seed-households households.csv --max-replicated-uniques 0 --min-k 3 --json risk.json
    """
    from populations.privacy import Thresholds, disclosure_risk, records

    with progress_bar() as progress:
        task = progress.add_task("Reading", total=None, status="")
        persons, households, previous = read_population(pop_dir)
        seed = read_seed_sample(seed_sample, seed_households)
        progress.update(task, description="Measuring", status="disclosure risk")
        requested = _split(qis)
        if requested is None:
            requested = previous.get("disclosure", {}).get("quasi_identifiers")
        merged = previous.get("protection", {}).get("merged_categories") or None
        report = disclosure_risk(
            records(persons, households), seed, requested, k=min_k or 5, merged=merged
        )
    thresholds = Thresholds(
        max_replicated_uniques=max_replicated_uniques,
        min_k=min_k,
        max_identical_share=max_identical_share,
    )
    checks = report.checks(thresholds)
    print_report(report.to_dict())
    for check in checks:
        mark = "[green]pass[/]" if check.passed else "[red]FAIL[/]"
        out_console.print(f"{mark}  {check.message}", soft_wrap=True)
    if json_path is not None:
        data = report.to_dict()
        data["checks"] = [
            {"name": c.name, "value": c.value, "limit": c.limit, "passed": c.passed} for c in checks
        ]
        try:
            json_path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        except OSError as exc:
            msg = f"cannot write --json `{json_path}`: {exc.strerror or exc}"
            raise ConfigError(msg) from exc
        out_console.print(f"Wrote {json_path}.", soft_wrap=True)
    failed = [c for c in checks if not c.passed]
    if failed:
        raise PrivacyCheckFailed("; ".join(c.message for c in failed))


def print_report(risk: dict[str, Any]) -> None:
    """The full report: the disclosure table, then the distance distributions."""
    print_disclosure(risk)
    dcr = risk["distance_to_closest_record"]
    table = Table(
        title="Gower distance to the closest record (0: identical on every quasi-identifier)",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    table.add_column("from", no_wrap=True)
    for col in ("at 0", "5%", "25%", "median", "mean"):
        table.add_column(col, justify="right")
    for label, d in (
        ("synthetic to closest seed", dcr["synthetic_to_seed"]),
        ("seed to closest other seed", dcr["seed_to_seed"]),
    ):
        if d["share_zero"] is None:
            table.add_row(label, *["n/a"] * 5)
            continue
        table.add_row(
            label,
            f"{d['share_zero']:.1%}",
            *(f"{d[k]:.3f}" for k in ("p05", "p25", "median", "mean")),
        )
    out_console.print(table)
    for name, how in risk["derived"].items():
        out_console.print(f"`{name}` is derived: {how}.", soft_wrap=True)


def print_disclosure(risk: dict[str, Any], before: dict[str, Any] | None = None) -> None:
    """The disclosure-risk figures as a table (one column, or before and after protection)."""
    qis = ", ".join(risk["quasi_identifiers"])
    records = risk["records"]
    table = Table(
        title=f"Disclosure risk of {records['synthetic']:,} synthetic against "
        f"{records['seed']:,} seed records (quasi-identifiers: {qis})",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    table.add_column("measure", no_wrap=True)
    if before is not None:
        table.add_column("before protection", justify="right")
    table.add_column("value" if before is None else "after", justify="right")
    for label, fmt in _ROWS:
        cells = [fmt(r) for r in ((before, risk) if before is not None else (risk,))]
        table.add_row(label(risk) if callable(label) else label, *cells)
    out_console.print(table)


def _number(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"


_ROWS: list[tuple[Any, Any]] = [
    ("synthetic records identical to a seed record", lambda r: f"{r['identical']['share']:.1%}"),
    (
        "seed uniques replicated (of all seed uniques)",
        lambda r: (
            f"{r['sample_uniques']['replicated']:,} of {r['sample_uniques']['seed_uniques']:,}"
        ),
    ),
    (
        "smallest class of synthetic records (k)",
        lambda r: f"{r['k_anonymity']['min_class_size']:,}",
    ),
    (
        lambda r: f"synthetic records in classes smaller than {r['k_anonymity']['k']}",
        lambda r: f"{r['k_anonymity']['share_below_k']:.1%}",
    ),
    (
        "mean distance to the closest seed record",
        lambda r: _number(r["distance_to_closest_record"]["synthetic_to_seed"]["mean"]),
    ),
    (
        "  (seed records to each other)",
        lambda r: _number(r["distance_to_closest_record"]["seed_to_seed"]["mean"]),
    ),
]
