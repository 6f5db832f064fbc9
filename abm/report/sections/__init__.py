"""The sections of a report, per kind of results folder.

Every report has, in order: what was run; the headline in plain words with its uncertainty;
the kind's figures (time series with bands, bars by zone or another group, sweep and
sensitivity plots); the assumptions (parameters, and a what-if's policies); the manifest.
`build_sections` picks them for an `abm.report.folders.ResultFolder`: `common` holds what every
kind has, `runs`, `whatif` and `designs` the kinds' own sections.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from abm.report.folders import ResultFolder
from abm.report.html import Markup, Section, esc, tag
from abm.report.sections.common import (
    Context,
    assumptions,
    make_context,
    manifest_section,
    policy_names,
    replicate_count,
    what_was_run,
)
from abm.report.sections.designs import sensitivity_sections, sweep_sections
from abm.report.sections.runs import run_sections
from abm.report.sections.whatif import whatif_sections
from populations.output import package_version

__all__ = ["Context", "build_sections"]


_TITLES = {
    "run": "Simulation run",
    "replicates": "Simulation runs",
    "whatif": "What-if comparison",
    "sweep": "Parameter sweep",
    "sensitivity": "Sensitivity analysis",
}


def _lede(ctx: Context) -> str:
    f = ctx.folder
    span = f" over {ctx.steps.count:,} {ctx.steps.plural}" if ctx.steps.count else ""
    scenario = f"the {f.scenario} scenario" if f.scenario else "a scenario"
    n = replicate_count(ctx)
    if f.kind == "run":
        return f"One run of {scenario}{span}."
    if f.kind == "replicates":
        return f"{n} replicate runs of {scenario}{span}."
    if f.kind == "whatif":
        k = len(policy_names(ctx))
        return (
            f"{k} polic{'ies' if k > 1 else 'y'} compared with the baseline of {scenario}"
            f"{span}, on {n} paired runs each."
        )
    points = ctx.folder.tables.get("design")
    count = f" at {points.height} design points" if points is not None else ""
    what = "Sweep" if f.kind == "sweep" else "Sensitivity analysis"
    return f"{what} of {scenario}{span}{count}."


def build_sections(
    folder: ResultFolder,
    *,
    labels: Mapping[str, str] | None = None,
    outcomes: Sequence[str] | None = None,
    title: str | None = None,
    now: datetime | None = None,
) -> tuple[str, str, list[Section], Markup]:
    """The page's title, lede, sections and footer for `folder`."""
    ctx = make_context(folder, labels=labels, outcomes=outcomes)
    now = now or datetime.now(UTC)
    body = {
        "run": run_sections,
        "replicates": run_sections,
        "whatif": whatif_sections,
        "sweep": sweep_sections,
        "sensitivity": sensitivity_sections,
    }[folder.kind](ctx)
    sections = [what_was_run(ctx, now=now), *body, assumptions(ctx), manifest_section(ctx)]
    heading = _TITLES[folder.kind] + (f": {folder.scenario}" if folder.scenario else "")
    footer = Markup(
        esc(f"Made by synthworld {package_version()} on {now.strftime('%Y-%m-%d %H:%M UTC')} from ")
        + tag("code", str(folder.path))
        + esc(" with ")
        + tag("code", "synthworld report")
        + esc(".")
    )
    return title or heading, _lede(ctx), sections, footer
