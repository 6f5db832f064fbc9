"""Sections of runs (one or replicates), also used for a what-if's KPIs: the headline of each KPI
over the run, time series with bands, and bars by each group column (zone, age band...)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from abm.report import plots, summaries, wording
from abm.report.folders import BASELINE
from abm.report.html import Markup, Section, paragraph, table, tag
from abm.report.sections.common import (
    MAX_CATEGORIES,
    Context,
    choose,
    confidence_of,
    embed,
    headline_list,
    policy_names,
)


def _run_headline(ctx: Context, kpis: pl.DataFrame) -> tuple[Section, list[str]]:
    whole = summaries.whole_run(kpis)
    outcomes = summaries.run_outcomes(whole)
    names = whole["name"].unique(maintain_order=True).to_list()
    last_step = int(whole["step"].max())
    first_step = int(whole["step"].min())
    available = [f"{n}_{s}" for n in names for s in ("last", "sum", "peak")]
    chosen = choose(ctx, available, "run")
    if ctx.outcomes is None:  # each KPI by its measure, and a peak where there is one
        chosen = []
        for name in names:
            chosen.append(f"{name}_{summaries.measure(name)}")
            rows = outcomes.filter(pl.col("name") == name)
            inside = rows.filter(
                pl.col("peak_step").is_between(first_step + 1, last_step - 1),
                pl.col("peak") > pl.col("last"),
            )
            if summaries.measure(name) == "last" and inside.height * 2 > rows.height:
                chosen.append(f"{name}_peak")
    n = int(whole["replicate"].n_unique())
    items = []
    for outcome in chosen:
        kpi, stat = outcome.rsplit("_", 1)
        rows = outcomes.filter(pl.col("name") == kpi)
        if stat == "peak":
            label = f"the peak of {ctx.kpi(kpi)}"
            text = wording.spread_sentence(label, rows["peak"].to_list())
            days = rows["peak_step"].to_numpy()
            when = (
                f" It came on {ctx.steps.at(int(days[0]))}."
                if n == 1
                else f" It came around {ctx.steps.at(int(np.median(days)))} (median of the runs)."
            )
            items.append((text + when, True))
        else:
            values = rows[stat].to_numpy()
            ci = summaries.t_interval(values, 0.95)[1:] if n >= 2 else None
            items.append((wording.spread_sentence(ctx.outcome(outcome), values, mean_ci=ci), True))
    section = Section("headline", "Headline")
    section.add(headline_list(items))
    note = (
        "One run: the numbers are what this run produced. Run replicates (synthworld run "
        "--replicates N) to see how much they vary by chance."
        if n == 1
        else '"On average" is the mean over the runs, with a 95% interval for that mean; the '
        "spread of the runs shows what a single run could give."
    )
    if not ctx.labels:
        note += " KPIs can be named in words with synthworld report --label NAME=WORDS."
    section.add(paragraph(note, class_="note"))
    kpi_names = list(dict.fromkeys(o.rsplit("_", 1)[0] for o in chosen))
    return section, kpi_names


def _kpi_table(ctx: Context, kpis: pl.DataFrame, names: Sequence[str]) -> Markup:
    outcomes = summaries.run_outcomes(summaries.whole_run(kpis), by=("arm", "replicate"))
    agg = outcomes.group_by("name").agg(
        pl.col("last").mean(),
        pl.col("sum").mean(),
        pl.col("peak").mean(),
        pl.col("peak_step").median(),
    )
    rows = []
    for name in names:
        r = agg.filter(pl.col("name") == name)
        if r.height == 0:
            continue
        r0 = r.row(0, named=True)
        rows.append(
            (
                Markup(tag("code", name)) if name not in ctx.labels else ctx.kpi(name),
                wording.fmt_value(round(r0["last"], 2)),
                wording.fmt_value(round(r0["peak"], 2)),
                ctx.steps.at(int(r0["peak_step"])),
                wording.fmt_value(round(r0["sum"], 2)),
            )
        )
    n = int(outcomes["replicate"].n_unique())
    caption = "Each KPI over the run" + (f" (means over {n} runs)" if n > 1 else "") + "."
    return table(
        ["KPI", "at the end", "peak", "peak on", f"summed over {ctx.steps.span()}"],
        rows,
        numeric=(1, 2, 4),
        caption=caption,
    )


def series_section(ctx: Context, kpis: pl.DataFrame, names: Sequence[str]) -> Section:
    whole = summaries.whole_run(kpis).filter(pl.col("name").is_in(list(names)))
    n = int(whole["replicate"].n_unique()) if whole.height else 0
    arms = whole["arm"].unique(maintain_order=True).to_list()
    if BASELINE in arms:
        arms = [BASELINE, *(a for a in arms if a != BASELINE)]
    fig = plots.time_series(
        summaries.bands(whole),
        titles={k: ctx.kpi(k) for k in names},
        arms=arms,
        xlabel=ctx.steps.unit,
    )
    what = (
        "each arm's mean over its runs"
        if len(arms) > 1
        else ("the mean over the runs" if n > 1 else "the run")
    )
    caption = f"Each KPI per {ctx.steps.unit}: the line is {what}; {summaries.band_rule(n)}."
    section = Section("time-series", "Over time")
    section.add(embed(fig, "Time series of " + ", ".join(names), caption))
    return section


def _group_measures(rows: pl.DataFrame) -> pl.DataFrame:
    """Per arm, replicate, KPI and category: the KPI's measure (sum for new_*, else last)."""
    per = summaries.run_outcomes(rows, by=("arm", "replicate", "category"))
    return per.with_columns(
        pl.when(pl.col("name").str.starts_with("new_"))
        .then(pl.col("sum"))
        .otherwise(pl.col("last"))
        .alias("value")
    )


def _bar_titles(ctx: Context, names: Sequence[str]) -> dict[str, str]:
    return {k: ctx.outcome(f"{k}_{summaries.measure(k)}") for k in names}


def group_sections(ctx: Context, kpis: pl.DataFrame, names: Sequence[str]) -> list[Section]:
    sections = []
    for group in ctx.folder.group_columns:
        cats = summaries.categories(kpis, group)
        if not cats or len(cats) > MAX_CATEGORIES:
            continue
        rows = summaries.by_group(kpis, group).filter(pl.col("name").is_in(list(names)))
        if rows.height == 0:
            continue
        measures = _group_measures(rows)
        present = [k for k in names if k in set(measures["name"].to_list())]
        titles = _bar_titles(ctx, present)
        section = Section(f"by-{group}", f"By {group.replace('_', ' ')}")
        arms = measures["arm"].unique().to_list()
        if len(arms) > 1 and BASELINE in arms:  # a what-if: the policies' paired differences
            diffs = summaries.paired(
                measures, ["name", "category"], baseline=BASELINE, confidence=confidence_of(ctx)
            )
            policies = [p for p in policy_names(ctx) if p in set(diffs["policy"].to_list())]
            fig = plots.group_bars(
                diffs.rename({"policy": "series"}),
                group=group,
                categories=cats,
                titles=titles,
                series=policies,
                zero_line=True,
            )
            caption = (
                f"Change from the baseline by {group}: each bar is a policy's mean paired "
                f"difference, with its {confidence_of(ctx) * 100:g}% interval."
            )
        else:
            n = int(measures["replicate"].n_unique())
            b = summaries.bands(
                measures.select("arm", "replicate", "name", "category", "value"),
                by=("arm", "name", "category"),
            ).rename({"arm": "series"})
            fig = plots.group_bars(
                b, group=group, categories=cats, titles=titles, series=[BASELINE]
            )
            spread = (
                ""
                if n == 1
                else f" Bars are means over {n} runs; the whiskers span "
                + ("the middle 90% of the runs." if n >= 10 else "the runs, lowest to highest.")
            )
            caption = (
                f"Each KPI by {group}: counts per {ctx.steps.unit} (new_...) are summed over "
                f"the run, levels are read at its end.{spread}"
            )
        section.add(embed(fig, f"Bar charts by {group} of " + ", ".join(present), caption))
        sections.append(section)
    return sections


def run_sections(ctx: Context) -> list[Section]:
    kpis = ctx.folder.kpis
    if kpis is None or kpis.height == 0:
        section = Section("headline", "Headline")
        section.add(
            paragraph(
                "This run recorded no KPIs, so there is nothing to summarise. The event log is "
                "described in the manifest below.",
                class_="note",
            )
        )
        return [section]
    headline, names = _run_headline(ctx, kpis)
    headline.add(_kpi_table(ctx, kpis, names))
    return [headline, series_section(ctx, kpis, names), *group_sections(ctx, kpis, names)]
