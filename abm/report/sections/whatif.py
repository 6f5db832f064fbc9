"""Sections of a what-if comparison: each policy's effects in plain words, the table and chart of
effects, the arms over time and their paired differences, and differences by zone."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from abm.report import plots, summaries, wording
from abm.report.folders import BASELINE
from abm.report.html import Markup, Section, paragraph, table, tag
from abm.report.sections.common import (
    Context,
    choose,
    confidence_of,
    embed,
    headline_list,
    headline_outcomes,
    policy_changes,
    policy_names,
    show,
)
from abm.report.sections.runs import group_sections, series_section


def _effect_order(rows: pl.DataFrame) -> pl.DataFrame:
    """Clear effects first, the largest relative change first; then the rest."""
    return rows.with_columns(
        ((pl.col("ci_low") > 0) | (pl.col("ci_high") < 0)).alias("clear"),
        (pl.col("diff_mean") / pl.col("baseline_mean")).abs().fill_nan(0).alias("rel"),
    ).sort(["clear", "rel"], descending=[True, True], nulls_last=True)


def _unchanged(row: Mapping[str, Any]) -> bool:
    return row["diff_mean"] == 0 and row["ci_low"] == 0 and row["ci_high"] == 0


def _whatif_headline(ctx: Context, chosen: Sequence[str]) -> Section:
    comparisons = ctx.folder.tables["comparisons"]
    confidence = confidence_of(ctx)
    level = f"{confidence * 100:g}%"
    crn = ctx.folder.manifest.get("common_random_numbers")
    section = Section("headline", "Headline")
    for policy in policy_names(ctx):
        rows = _effect_order(
            comparisons.filter(pl.col("policy") == policy, pl.col("outcome").is_in(list(chosen)))
        )
        changes = policy_changes(ctx, policy)
        section.add(tag("h3", f"Policy \u201c{policy}\u201d"))
        if changes:
            section.add(
                paragraph(
                    "Changes from the baseline: "
                    + "; ".join(f"{k} from {show(b)} to {show(v)}" for k, b, v in changes)
                    + "."
                )
            )
        subject = f"The policy \u201c{policy}\u201d"
        items: list[tuple[str, bool]] = []
        unclear: list[str] = []
        same: list[str] = []
        for row in rows.iter_rows(named=True):
            label = ctx.outcome(row["outcome"])
            if _unchanged(row):
                same.append(label)
            elif row["clear"] or ctx.outcomes is not None or len(chosen) <= 4:
                items.append(
                    (wording.effect_sentence(subject, label, row, confidence), bool(row["clear"]))
                )
            else:
                unclear.append(label)
        if unclear:
            items.append(
                (
                    f"{subject} has no clear effect ({level} intervals include no change) "
                    "on: " + "; ".join(unclear) + ".",
                    False,
                )
            )
        if same and len(same) == rows.height:
            why = (
                " (as it must when a policy equals the baseline under common random numbers)"
                if crn
                else ""
            )
            items.append(
                (
                    f"{subject} changes none of the outcomes: each of its runs gave the "
                    f"same results as its baseline run{why}.",
                    False,
                )
            )
        elif same:
            items.append(
                (
                    f"{subject} leaves these unchanged in every paired run: "
                    + "; ".join(same)
                    + ".",
                    False,
                )
            )
        section.add(headline_list(items))
    n = int(comparisons["n"].max() or 0)
    section.add(
        paragraph(
            f"Each effect is the mean difference between a policy run and its baseline run over "
            f"{n} pairs, with a {level} interval: the range that holds the true average effect "
            "with that confidence. \u201cNo clear effect\u201d means the interval includes zero: "
            "the runs cannot tell the policy from chance.",
            class_="note",
        )
    )
    return section


def _comparison_table(ctx: Context, chosen: Sequence[str]) -> Section:
    comparisons = ctx.folder.tables["comparisons"]
    level = f"{confidence_of(ctx) * 100:g}%"
    rows = []
    for policy in policy_names(ctx):
        for row in comparisons.filter(pl.col("policy") == policy).iter_rows(named=True):
            if row["outcome"] not in chosen:
                continue
            mean, lo, hi = wording.fmt_interval(row["diff_mean"], row["ci_low"], row["ci_high"])
            verdict = (
                "no clear effect"
                if row["ci_low"] <= 0 <= row["ci_high"]
                else ("increase" if row["diff_mean"] > 0 else "reduction")
            )
            if row["diff_mean"] == 0 and row["ci_low"] == row["ci_high"]:
                verdict = "unchanged"
            rows.append(
                (
                    policy,
                    ctx.outcome(row["outcome"]),
                    wording.fmt_value(round(row["baseline_mean"], 2)),
                    wording.fmt_value(round(row["policy_mean"], 2)),
                    mean,
                    f"{lo} to {hi}",
                    verdict,
                )
            )
    section = Section("comparisons", "Effects")
    every = table(
        ["policy", "outcome", "baseline", "policy", "difference", f"{level} interval", "verdict"],
        rows,
        numeric=(2, 3, 4),
        caption="Means over the paired runs; difference = policy \u2212 baseline.",
    )
    if len(rows) > 16:
        every = tag("details", tag("summary", f"All {len(rows)} comparisons"), every)
    section.add(every)
    return section


def _forest(ctx: Context, chosen: Sequence[str]) -> Markup | None:
    comparisons = ctx.folder.tables["comparisons"].filter(
        pl.col("outcome").is_in(list(chosen)), pl.col("baseline_mean") != 0
    )
    if comparisons.height == 0:
        return None
    scale = 100 / pl.col("baseline_mean").abs()
    effects = comparisons.select(
        "policy",
        pl.col("outcome").replace_strict({o: ctx.outcome(o) for o in chosen}),
        (pl.col("diff_mean") * scale).alias("mean"),
        (pl.col("ci_low") * scale).alias("low"),
        (pl.col("ci_high") * scale).alias("high"),
    )
    outcomes = [ctx.outcome(o) for o in chosen if o in set(comparisons["outcome"].to_list())]
    fig = plots.effect_bars(
        effects,
        outcomes=outcomes,
        policies=policy_names(ctx),
        xlabel="change from the baseline, in % of the baseline mean",
    )
    level = f"{confidence_of(ctx) * 100:g}%"
    return embed(
        fig,
        "Relative change of each outcome per policy",
        (
            f"Each bar is a policy's mean change in percent of the baseline mean, the whiskers its "
            f"{level} interval; whiskers that cross zero mean no clear effect."
        ),
    )


def _whatif_series(ctx: Context, names: Sequence[str]) -> list[Section]:
    kpis = ctx.folder.kpis
    if kpis is None or kpis.height == 0:
        return []
    section = series_section(ctx, kpis, names)
    whole = summaries.whole_run(kpis).filter(pl.col("name").is_in(list(names)))
    diffs = summaries.paired(
        whole, ["name", "step"], baseline=BASELINE, confidence=confidence_of(ctx)
    )
    if diffs.height:
        fig = plots.difference_series(
            diffs,
            titles={k: ctx.kpi(k) for k in names},
            policies=policy_names(ctx),
            xlabel=ctx.steps.unit,
        )
        section.add(
            embed(
                fig,
                "Difference from the baseline over time",
                (
                    f"Change from the baseline per {ctx.steps.unit}: each line is a policy's mean "
                    f"paired difference, the band its {confidence_of(ctx) * 100:g}% interval."
                ),
            )
        )
    return [section, *group_sections(ctx, kpis, names)]


def whatif_sections(ctx: Context) -> list[Section]:
    comparisons = ctx.folder.tables["comparisons"]
    available = comparisons["outcome"].unique(maintain_order=True).to_list()
    chosen = choose(ctx, available, "what-if")
    headline = chosen if ctx.outcomes is not None else headline_outcomes(available)
    names = [o.rsplit("_", 1)[0] for o in headline if o.endswith(("_sum", "_last"))]
    kpis = ctx.folder.kpis
    if kpis is not None:
        present = set(kpis["name"].unique().to_list())
        names = list(dict.fromkeys(n for n in names if n in present)) or sorted(present)
    table = _comparison_table(ctx, chosen)
    forest = _forest(ctx, headline)
    if forest is not None:
        table.body.insert(0, forest)
    return [_whatif_headline(ctx, headline), table, *_whatif_series(ctx, names)]
