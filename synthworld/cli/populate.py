"""`synthworld populate`: a synthetic population from marginals (and a seed sample)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import click
import numpy as np
from rich import box
from rich.table import Table

from populations.config import PROTECTIONS
from populations.demo import demo_config_path
from populations.output import (
    FORMATS,
    check_destination,
    package_version,
    parameters_sha256,
    write_folder,
)
from synthworld.cli.app import cli, out_console, progress_bar
from synthworld.cli.privacy import print_disclosure


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
@click.option(
    "--protect",
    type=click.Choice(PROTECTIONS),
    multiple=True,
    help="Turn on a disclosure protection (repeat for more): `uniques` exchanges attributes of "
    "persons who replicate a seed sample unique, `merge` merges small categories, `top-code` "
    "caps age and income; `all` does all three. Settings come from the config's [privacy] "
    "table; see docs/privacy.md. [default: as the config says, else none]",
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
    protect: tuple[str, ...],
    overwrite: bool,  # noqa: FBT001 - a click flag
) -> None:
    """Build a synthetic population from survey marginals.

    CONFIG is a TOML file naming the marginals (tidy CSV or Parquet: one column per dimension
    and a `count` column), the seed sample and settings; see docs/populations.md. Without
    CONFIG the embedded demo city (48 zones, about 100,000 persons) is used.

    Writes to --out: persons and households tables, fit_report.json, fit.png (synthetic against
    target counts) and manifest.json (version, seed, parameters, input and output hashes).
    The same --seed gives byte-identical tables.

    With a seed sample, the report also measures the disclosure risk of the population against
    it (replicated sample uniques, identical records, k-anonymity, distance to the closest seed
    record; `synthworld privacy` gives more). --protect lowers that risk, and the report then
    shows the fit and the risk before and after protection.

    \b
    Examples:
      synthworld populate --out demo-population
      synthworld populate my_city.toml --out my-population --seed 7 --replicates 5
      synthworld populate --out safer-population --protect uniques --protect merge
    """
    from populations.config import load_config
    from populations.output import write_frame
    from populations.protection import merge_marginal
    from populations.report import plot_fit
    from populations.synthesis import PopulationSynthesizer, load_inputs

    check_destination(out, overwrite=overwrite)
    config_path = config or demo_config_path()
    cfg = load_config(config_path)
    inputs = load_inputs(cfg)
    synth = PopulationSynthesizer.from_config(
        cfg,
        protect=protect,
        tol=tol,
        max_iter=max_iter,
        rescale=rescale,
        integerise=integerise,
        prior=prior,
    )
    params = {**synth.fit_config.__dict__, "replicates": replicates, "format": fmt}
    protected = synth.privacy is not None and synth.privacy.protects
    if protected:
        params["privacy"] = asdict(synth.privacy)
    with progress_bar() as progress:
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
                rng = np.random.default_rng(stream)
                pop = raw = synth.sample(rng=rng, protect=False)
                record = None
                if protected:
                    progress.update(sampling, status=f"{k + 1}/{replicates}: protecting")
                    pop, record = synth.protect(raw, rng=rng)
                for name, frame in (("households", pop.households), ("persons", pop.persons)):
                    if frame is not None:
                        path = write_frame(frame, sub / name, fmt)
                        rows[prefix + path.name] = frame.height
                progress.update(sampling, status=f"{k + 1}/{replicates}: disclosure risk")
                report = synth.report(
                    pop,
                    unprotected=raw if protected else None,
                    protection=record,
                    disclosure=synth.seed_records_ is not None,
                )
                report.write_json(sub / "fit_report.json")
                if k == 0:
                    merges = record.merged_categories if record is not None else {}
                    plot_fit(
                        pop.households,
                        pop.persons,
                        [merge_marginal(m, merges) for m in synth.marginals_],
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
    privacy = report.get("privacy", {})
    if "protection" in privacy:
        _print_protection(privacy, report["marginals"])
    if "disclosure" in privacy:
        print_disclosure(privacy["disclosure"], privacy.get("disclosure_before"))
    out_console.print(f"Wrote {out}/ (fit_report.json, fit.png, manifest.json).", soft_wrap=True)


def _print_protection(privacy: dict[str, Any], after: list[dict[str, Any]]) -> None:
    """What the protections did, and the fit before and after."""
    record = privacy["protection"]
    for column, mapping in record["merged_categories"].items():
        groups: dict[str, list[str]] = {}
        for old, new in mapping.items():
            groups.setdefault(new, []).append(old)
        merged = "; ".join(f"{' + '.join(olds)} -> {new}" for new, olds in groups.items())
        out_console.print(f"Merged small categories of `{column}`: {merged}.", soft_wrap=True)
    for column, t in record["top_coded"].items():
        out_console.print(
            f"Top-coded `{column}` at {t['cap']:,.6g}: {t['values']:,} values lowered.",
            soft_wrap=True,
        )
    res = record.get("resampled_uniques")
    if res:
        ex = res["exchanges"]
        where = ", ".join(f"{n:,} {kind}" for kind, n in ex.items()) or "none"
        colour = "green" if res["unresolved"] == 0 else "yellow"
        out_console.print(
            f"Resampled sample uniques: {res['persons_matching_seed_uniques']:,} persons matched a "
            f"seed unique; exchanges by where the partner was ({where}); "
            f"{res['persons_with_copied_attributes_changed']:,} persons have copied attributes "
            f"changed; [{colour}]{res['unresolved']:,} unresolved[/].",
            soft_wrap=True,
        )
    table = Table(
        title=f"Fit before and after protection (tolerance: SRMSE may rise by "
        f"{privacy['fit_tolerance']:g})",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    table.add_column("marginal", no_wrap=True)
    for col in ("SRMSE before", "after", "TAE before", "after"):
        table.add_column(col, justify="right")
    for b, a in zip(privacy["fit_before"], after, strict=True):
        table.add_row(
            b["name"],
            f"{b['srmse']:.4f}",
            f"{a['srmse']:.4f}",
            f"{b['tae']:,.0f}",
            f"{a['tae']:,.0f}",
        )
    out_console.print(table)
    if not privacy["within_tolerance"]:
        out_console.print(
            "[yellow]warning:[/] protection raised the SRMSE of a marginal by more than the "
            "tolerance; see fit_report.json (privacy.fit_before) and docs/privacy.md."
        )
