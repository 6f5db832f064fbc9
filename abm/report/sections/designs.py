"""Sections of sweeps and sensitivity analyses: where each outcome is lowest and highest and how it
moves with each parameter, the design, the outcome at each point, and sensitivity indices."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl
from scipy import stats

from abm.report import plots, summaries, wording
from abm.report.html import Markup, Section, paragraph, table, tag
from abm.report.sections.common import (
    Context,
    choose,
    confidence_of,
    embed,
    headline_list,
    headline_outcomes,
    show,
)

# --------------------------------------------------------------------------- sweeps


def _point_means(results: pl.DataFrame, outcome: str) -> pl.DataFrame:
    rows = results.filter(pl.col("outcome") == outcome)
    out = []
    for (point,), g in rows.group_by("point", maintain_order=True):
        mean, lo, hi = summaries.t_interval(g["value"].to_numpy(), 0.95)
        out.append({"point": point, "mean": mean, "low": lo, "high": hi, "n": g.height})
    return pl.DataFrame(
        out,
        schema={
            "point": rows.schema["point"],
            "mean": pl.Float64,
            "low": pl.Float64,
            "high": pl.Float64,
            "n": pl.Int64,
        },
    )


def _parameters(design: pl.DataFrame) -> list[str]:
    return [c for c in design.columns if c != "point"]


def _at(design_row: Mapping[str, Any], params: Sequence[str]) -> str:
    return ", ".join(f"{p} = {show(design_row[p])}" for p in params)


def _sweep_sentences(
    ctx: Context, design: pl.DataFrame, means: pl.DataFrame, outcome: str
) -> list[tuple[str, bool]]:
    params = _parameters(design)
    joined = means.join(design, on="point", how="inner").filter(pl.col("mean").is_not_nan())
    if joined.height == 0:
        return []
    label = ctx.outcome(outcome)
    lo_row = joined.sort("mean").row(0, named=True)
    hi_row = joined.sort("mean", descending=True).row(0, named=True)

    def val(r: Mapping[str, Any]) -> str:
        if math.isfinite(r["low"]) and math.isfinite(r["high"]) and r["high"] > r["low"]:
            m, a, b = wording.fmt_interval(r["mean"], r["low"], r["high"])
            return f"{m} (95% interval {a} to {b})"
        return wording.fmt_value(round(r["mean"], 4))

    text = label[:1].upper() + label[1:]
    if lo_row["mean"] == hi_row["mean"]:
        return [
            (f"{text} is {val(lo_row)} at every one of the {joined.height} design points.", False)
        ]
    items = [
        (
            f"{text} is lowest at {_at(lo_row, params)}: {val(lo_row)}; and highest at "
            f"{_at(hi_row, params)}: {val(hi_row)}, over the {joined.height} design points.",
            True,
        )
    ]
    if joined.height >= 4:
        trends = []
        for p in params:
            x = joined[p]
            y = joined["mean"].to_numpy()
            if not x.dtype.is_numeric() or x.n_unique() < 3 or np.ptp(y) == 0:
                continue
            res = stats.spearmanr(x.to_numpy(), y)
            rho, pval = float(res.statistic), float(res.pvalue)
            if not math.isfinite(rho):
                continue
            if pval < 0.05 and abs(rho) >= 0.3:
                trends.append(
                    f"{'rises' if rho > 0 else 'falls'} with {p} (rank correlation {rho:.2f})"
                )
            else:
                trends.append(f"shows no clear trend with {p} (rank correlation {rho:.2f})")
        if trends:
            items.append((f"{text} " + "; ".join(trends) + ".", True))
    return items


def _sweep_figures(
    ctx: Context, design: pl.DataFrame, results: pl.DataFrame, chosen: Sequence[str]
) -> Section:
    params = _parameters(design)
    section = Section("design-points", "Outcome at each design point")
    n = int(results.group_by("point").agg(pl.col("replicate").n_unique())["replicate"].max() or 0)
    spread = "with its 95% interval over the replicates" if n > 1 else "(one run per point)"
    figs = []
    for outcome in chosen:
        means = _point_means(results, outcome).join(design, on="point", how="inner")
        fig = plots.sweep_points(means, outcome_title=ctx.outcome(outcome), parameters=params)
        figs.append(
            embed(
                fig,
                f"{outcome} against " + ", ".join(params),
                (
                    f"{ctx.outcome(outcome)[:1].upper() + ctx.outcome(outcome)[1:]}: each dot is a "
                    f"design point's mean {spread}, against each varied parameter."
                ),
            )
        )
    shown = 6
    section.add(*figs[:shown])
    if len(figs) > shown:
        section.add(
            tag("details", tag("summary", f"{len(figs) - shown} more outcomes"), *figs[shown:])
        )
    return section


def _design_table(
    ctx: Context, design: pl.DataFrame, results: pl.DataFrame, chosen: Sequence[str]
) -> Markup:
    params = _parameters(design)
    shown = list(chosen[:4])
    means = design
    for outcome in shown:
        m = _point_means(results, outcome).select("point", pl.col("mean").alias(outcome))
        means = means.join(m, on="point", how="left")
    rows = [
        (
            r["point"],
            *(show(r[p]) for p in params),
            *(wording.fmt_value(round(r[o], 3)) if r[o] is not None else "" for o in shown),
        )
        for r in means.sort("point").iter_rows(named=True)
    ]
    headers = ["point", *params, *(ctx.outcome(o) for o in shown)]
    table_html = table(
        headers,
        rows,
        numeric=tuple(range(len(params) + 1, len(headers))),
        caption="The design, with the mean outcome at each point.",
    )
    if len(rows) > 25:
        return tag("details", tag("summary", f"The design: {len(rows)} points"), table_html)
    return table_html


def sweep_sections(ctx: Context) -> list[Section]:
    design, results = ctx.folder.tables["design"], ctx.folder.tables["results"]
    available = results["outcome"].unique(maintain_order=True).to_list()
    chosen = choose(ctx, available, "sweep")
    if ctx.outcomes is None:
        chosen = headline_outcomes(available)
    headline = Section("headline", "Headline")
    items: list[tuple[str, bool]] = []
    for outcome in chosen:
        items += _sweep_sentences(ctx, design, _point_means(results, outcome), outcome)
    headline.add(headline_list(items))
    headline.add(
        paragraph(
            "Each design point was run with the same replicate seeds; a point's value is the mean "
            "over its replicates, with a 95% interval for that mean. A rank correlation near +1 or "
            "\u22121 means the outcome moves steadily with the parameter across the design.",
            class_="note",
        )
    )
    headline.add(_design_table(ctx, design, results, chosen))
    return [headline, _sweep_figures(ctx, design, results, chosen)]


# --------------------------------------------------------------------------- sensitivity


def _index_kind(name: str) -> str:
    key = name.lower().replace("*", "_star").replace("-", "_")
    if key in ("s1", "first", "first_order"):
        return "first"
    if key in ("st", "total", "total_order"):
        return "total"
    if key in ("mu_star", "mustar"):
        return "mu_star"
    return "other"


def _pm(value: float, conf: float | None, level: str) -> str:
    if conf is not None and math.isfinite(conf) and conf > 0:
        m, a, b = wording.fmt_interval(value, value - conf, value + conf)
        return f"{m} ({level} interval {a} to {b})"
    return wording.fmt_value(round(value, 3))


def _sensitivity_sentences(
    ctx: Context, rows: pl.DataFrame, outcome: str, level: str
) -> list[tuple[str, bool]]:
    """Which parameter matters most for `outcome`, by the total (or first-order) Sobol index
    or Morris mu*; any other index as a ranking. Pairwise ``S2`` rows name the strongest
    interaction."""
    label = ctx.outcome(outcome)
    pairs = rows.filter(pl.col("index") == "S2", pl.col("value").is_not_null())
    rows = rows.filter(pl.col("index") != "S2")
    if rows["value"].is_null().all():
        return [
            (
                f"{label[:1].upper() + label[1:]} did not vary over the runs, so no parameter "
                "drives it (it has no sensitivity indices).",
                False,
            )
        ]
    rows = rows.filter(pl.col("value").is_not_null())
    kinds = {i: _index_kind(i) for i in rows["index"].unique(maintain_order=True).to_list()}
    by_kind = {v: k for k, v in kinds.items()}

    def ranked(index: str) -> list[dict[str, Any]]:
        r = rows.filter(pl.col("index") == index).sort("value", descending=True)
        return list(r.iter_rows(named=True))

    out: list[tuple[str, bool]] = []
    if "total" in by_kind or "first" in by_kind:
        total = "total" in by_kind
        order = ranked(by_kind["total" if total else "first"])
        top = order[0]
        text = (
            f"For {label}, {top['parameter']} matters most: its "
            f"{'total-order' if total else 'first-order'} Sobol index is "
            f"{_pm(top['value'], top['conf'], level)}, so it accounts for about "
            f"{wording.fmt_percent(max(top['value'], 0))} of the outcome's variance"
            + (" with its interactions." if total else " on its own.")
        )
        if total and "first" in by_kind:
            first = {r["parameter"]: r for r in ranked(by_kind["first"])}
            f = first.get(top["parameter"])
            if f is not None:
                text += (
                    f" On its own (first-order index) it accounts for "
                    f"{wording.fmt_percent(max(f['value'], 0))}."
                )
        out.append((text, True))
        if len(order) > 1:
            rest = ", ".join(
                f"{r['parameter']} ({wording.fmt_value(round(r['value'], 3))})" for r in order[1:]
            )
            out.append((f"The others, by the same index: {rest}.", True))
        small = [r["parameter"] for r in order if r["value"] + (r["conf"] or 0) < 0.05]
        if small:
            out.append(
                (
                    "Hardly matter (index below 0.05 even at the top of its interval): "
                    + ", ".join(small)
                    + ".",
                    False,
                )
            )
        if pairs.height:
            p = pairs.sort("value", descending=True).row(0, named=True)
            a, _, b = p["parameter"].partition(",")
            out.append(
                (
                    f"The strongest interaction is between {a} and {b}: second-order index "
                    f"{_pm(p['value'], p['conf'], level)}.",
                    True,
                )
            )
        return out
    if "mu_star" in by_kind:
        order = ranked(by_kind["mu_star"])
        top = order[0]
        out.append(
            (
                f"For {label}, {top['parameter']} has the largest effect: its mean absolute "
                f"elementary effect (Morris \u03bc*) is {_pm(top['value'], top['conf'], level)}.",
                True,
            )
        )
        if len(order) > 1:
            rest = ", ".join(
                f"{r['parameter']} ({wording.fmt_value(round(r['value'], 4))})" for r in order[1:]
            )
            out.append((f"Then, by \u03bc*: {rest}.", True))
        return out
    for index in kinds:
        out.append(
            (
                f"For {label}, ranked by {index}: "
                + ", ".join(
                    f"{r['parameter']} ({_pm(r['value'], r['conf'], level)})" for r in ranked(index)
                )
                + ".",
                True,
            )
        )
    return out


def sensitivity_sections(ctx: Context) -> list[Section]:
    indices = ctx.folder.tables["indices"]
    if "conf" not in indices.columns:
        indices = indices.with_columns(pl.lit(None, pl.Float64).alias("conf"))
    level = f"{confidence_of(ctx) * 100:g}%"
    available = indices["outcome"].unique(maintain_order=True).to_list()
    chosen = choose(ctx, available, "sensitivity analysis")
    if ctx.outcomes is None:
        chosen = headline_outcomes(available)
    singles = indices.filter(pl.col("index") != "S2")
    params = singles["parameter"].unique(maintain_order=True).to_list()
    headline = Section("headline", "Headline")
    items: list[tuple[str, bool]] = []
    for outcome in chosen:
        rows = indices.filter(pl.col("outcome") == outcome)
        items += _sensitivity_sentences(ctx, rows, outcome, level)
    headline.add(headline_list(items))
    kinds = {_index_kind(i) for i in indices["index"].unique().to_list()}
    notes = []
    if kinds & {"first", "total"}:
        notes.append(
            "Sobol indices split an outcome's variance over the parameters: the first-order "
            "index is the share a parameter explains alone, the total-order index adds its "
            "interactions."
        )
    if "mu_star" in kinds:
        notes.append(
            "Morris \u03bc* is the mean absolute change of the outcome per step in a "
            "parameter; \u03c3, their spread, is large for a parameter that acts non-linearly "
            "or through interactions."
        )
    if indices["conf"].is_not_null().any():
        notes.append(f"The intervals are the analysis's {level} confidence intervals (bootstrap).")
    if notes:
        headline.add(paragraph(" ".join(notes), class_="note"))
    figs = Section("indices", "Sensitivity indices")
    for outcome in chosen:
        rows = singles.filter(pl.col("outcome") == outcome, pl.col("value").is_not_null())
        if rows.height == 0:
            continue
        names = rows["index"].unique(maintain_order=True).to_list()
        fig = plots.index_bars(
            rows, outcome_title=ctx.outcome(outcome), index_names=names, parameters=params
        )
        figs.add(
            embed(
                fig,
                f"Sensitivity indices of {outcome}",
                (
                    f"{', '.join(names)} of {ctx.outcome(outcome)} per parameter; the "
                    f"whiskers are the indices' {level} confidence intervals, where there are."
                ),
            )
        )
    sections = [headline, figs] if figs.body else [headline]
    design, results = ctx.folder.tables.get("design"), ctx.folder.tables.get("results")
    if design is not None and results is not None:
        shown = [o for o in chosen if o in set(results["outcome"].to_list())]
        if shown:
            sections.append(_sweep_figures(ctx, design, results, shown))
    return sections
