"""The report's figures, drawn with matplotlib and embedded as base64 PNG.

Every function takes tidy, already summarised data (`abm.report.sections` prepares it) and
returns a `matplotlib.figure.Figure`; `to_data_uri` turns it into a ``data:image/png`` URI, so
the report is one file with no network fetches. Figures are built with the object API
(``Figure()``, no pyplot), so nothing global is touched and no window can open, and PNGs carry no
timestamp.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Mapping, Sequence

import numpy as np
import polars as pl
from matplotlib import ticker
from matplotlib.axes import Axes
from matplotlib.figure import Figure

__all__ = [
    "PALETTE",
    "difference_series",
    "effect_bars",
    "group_bars",
    "index_bars",
    "sweep_points",
    "time_series",
    "to_data_uri",
]

PALETTE = ("#4c566a", "#d08770", "#5e81ac", "#a3be8c", "#b48ead", "#ebcb8b", "#bf616a", "#88c0d0")
"""Baseline first (slate), then one colour per policy or parameter."""

_DPI = 110


def to_data_uri(fig: Figure) -> str:
    """The figure as a ``data:image/png;base64,...`` URI (no metadata, so no timestamp)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=_DPI, metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _tick(value: float, _pos: int | None = None) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def _label(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _grid(
    n: int,
    *,
    ncols: int = 3,
    width: float = 10.0,
    height: float = 2.5,
    header: bool = False,
    rotated: bool = False,
    left: float = 0.75,
) -> tuple[Figure, list[Axes]]:
    """`n` panels in rows of `ncols`, each row `height` inches, with margins in inches.

    The margins are set by hand rather than by a layout engine, which took most of the drawing
    time (2.5x slower measured on 8 panels of 48 bars). `header` leaves room for a legend or a
    title above the panels; `rotated` for vertical tick labels; `left` for y tick labels.
    """
    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    top = 0.35 + (0.35 if header else 0.0)
    bottom = 0.5 + (0.3 if rotated else 0.0)
    fig_h = nrows * height + top - 0.3 + 0.05
    fig = Figure(figsize=(width, fig_h))
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel().tolist()
    vgap, hgap = bottom + 0.3, left + 0.1
    ax_h = (fig_h - top - bottom - (nrows - 1) * vgap) / nrows
    ax_w = (width - left - 0.2 - (ncols - 1) * hgap) / ncols
    fig.subplots_adjust(
        left=left / width,
        right=1 - 0.2 / width,
        top=1 - top / fig_h,
        bottom=bottom / fig_h,
        hspace=vgap / ax_h,
        wspace=hgap / ax_w,
    )
    for ax in axes[n:]:
        ax.set_visible(False)
    for ax in axes[:n]:
        ax.yaxis.set_major_formatter(ticker.FuncFormatter(_tick))
        ax.tick_params(labelsize=8)
        ax.grid(axis="y", color="#e5e9f0", linewidth=0.8)
        ax.set_axisbelow(True)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    return fig, axes[:n]


def _legend(fig: Figure, handles: Sequence, labels: Sequence[str]) -> None:
    if len(labels) > 1:
        fig.legend(
            handles,
            labels,
            loc="upper center",
            bbox_to_anchor=(0.5, 1.0),
            ncols=min(len(labels), 5),
            fontsize=8,
            frameon=False,
        )


def _title(fig: Figure, text: str) -> None:
    height = fig.get_figheight()
    fig.suptitle(text, fontsize=10, y=1 - 0.08 / height, va="top")


def time_series(
    bands: pl.DataFrame,
    *,
    titles: Mapping[str, str],
    arms: Sequence[str],
    xlabel: str,
) -> Figure:
    """One panel per KPI: per arm, the mean over replicates and a shaded band.

    `bands` has ``arm, name, step, mean, low, high`` (low = high = mean for a single run).
    """
    names = list(titles)
    fig, axes = _grid(len(names), header=len(arms) > 1)
    handles = []
    for ax, name in zip(axes, names, strict=True):
        rows = bands.filter(pl.col("name") == name)
        for i, arm in enumerate(arms):
            r = rows.filter(pl.col("arm") == arm).sort("step")
            if r.height == 0:
                continue
            colour = PALETTE[i % len(PALETTE)]
            x = r["step"].to_numpy()
            # the first arm (the baseline) dashed and on top, so arms equal to it still show it
            style = {"linestyle": "--", "zorder": 5} if i == 0 and len(arms) > 1 else {}
            (line,) = ax.plot(x, r["mean"].to_numpy(), color=colour, linewidth=1.6, **style)
            if ax is axes[0]:
                handles.append(line)
            low, high = r["low"].to_numpy(), r["high"].to_numpy()
            if np.any(high > low):
                ax.fill_between(x, low, high, color=colour, alpha=0.22, linewidth=0)
        ax.set_title(titles[name], fontsize=9)
        ax.set_xlabel(xlabel, fontsize=8)
    _legend(fig, handles, list(arms)[: len(handles)])
    return fig


def difference_series(
    diffs: pl.DataFrame, *, titles: Mapping[str, str], policies: Sequence[str], xlabel: str
) -> Figure:
    """One panel per KPI: per policy, the mean paired difference from the baseline per step,
    with its confidence band; a line at zero.

    `diffs` has ``policy, name, step, mean, low, high``.
    """
    names = list(titles)
    fig, axes = _grid(len(names), header=len(policies) > 1)
    handles = []
    for ax, name in zip(axes, names, strict=True):
        ax.axhline(0, color="#2e3440", linewidth=0.8)
        rows = diffs.filter(pl.col("name") == name)
        for i, policy in enumerate(policies):
            r = rows.filter(pl.col("policy") == policy).sort("step")
            if r.height == 0:
                continue
            colour = PALETTE[(i + 1) % len(PALETTE)]
            x = r["step"].to_numpy()
            (line,) = ax.plot(x, r["mean"].to_numpy(), color=colour, linewidth=1.6)
            if ax is axes[0]:
                handles.append(line)
            low, high = r["low"].to_numpy(), r["high"].to_numpy()
            ok = np.isfinite(low) & np.isfinite(high)
            if ok.any():
                ax.fill_between(x[ok], low[ok], high[ok], color=colour, alpha=0.25, linewidth=0)
        ax.set_title(titles[name], fontsize=9)
        ax.set_xlabel(xlabel, fontsize=8)
    _legend(fig, handles, list(policies)[: len(handles)])
    return fig


def group_bars(
    bars: pl.DataFrame,
    *,
    group: str,
    categories: Sequence[str],
    titles: Mapping[str, str],
    series: Sequence[str],
    zero_line: bool = False,
) -> Figure:
    """One panel per KPI: a bar per category of `group` (per series, side by side), with
    error bars where ``low < high``.

    `bars` has ``series, name, category, mean, low, high``.
    """
    names = list(titles)
    many = len(categories) > 16
    crowded = many or sum(len(str(c)) + 1 for c in categories) > 32
    fig, axes = _grid(
        len(names),
        ncols=2 if many else 3,
        height=2.9 if crowded else 2.4,
        header=len(series) > 1,
        rotated=crowded,
    )
    x = np.arange(len(categories))
    width = 0.8 / max(1, len(series))
    handles = []
    for ax, name in zip(axes, names, strict=True):
        rows = bars.filter(pl.col("name") == name)
        for i, s in enumerate(series):
            r = rows.filter(pl.col("series") == s)
            lookup = {
                c: (m, lo, hi)
                for c, m, lo, hi in r.select("category", "mean", "low", "high").iter_rows()
            }
            vals = np.array([lookup.get(c, (np.nan,) * 3) for c in categories], dtype=float)
            colour = PALETTE[(i + (1 if zero_line else 0)) % len(PALETTE)]
            pos = x + (i - (len(series) - 1) / 2) * width
            container = ax.bar(pos, vals[:, 0], width=width, color=colour)
            if ax is axes[0]:
                handles.append(container)
            spread = vals[:, 2] > vals[:, 1]
            if spread.any():
                err = np.vstack([vals[:, 0] - vals[:, 1], vals[:, 2] - vals[:, 0]])
                err[:, ~spread] = 0
                ax.errorbar(
                    pos,
                    vals[:, 0],
                    yerr=err,
                    fmt="none",
                    ecolor="#2e3440",
                    elinewidth=0.7,
                    capsize=0,
                )
        if zero_line:
            ax.axhline(0, color="#2e3440", linewidth=0.8)
        ax.set_xticks(
            x,
            [str(c) for c in categories],
            rotation=90 if crowded else 0,
            fontsize=6 if many else 8,
        )
        ax.set_title(titles[name], fontsize=9)
        ax.set_xlabel(group, fontsize=8)
    _legend(fig, handles, list(series)[: len(handles)])
    return fig


def sweep_points(points: pl.DataFrame, *, outcome_title: str, parameters: Sequence[str]) -> Figure:
    """One panel per varied parameter: each design point's mean outcome against the
    parameter's value, with its 95% interval over replicates.

    `points` has ``mean, low, high`` and one column per parameter. With two parameters of
    which the other takes at most 8 values (a grid), the points are coloured by the other
    parameter and joined, one line per value of it.
    """
    fig, axes = _grid(len(parameters), ncols=min(3, len(parameters)), height=2.6, header=True)
    for i, (ax, param) in enumerate(zip(axes, parameters, strict=True)):
        others = [p for p in parameters if p != param]
        by = others[0] if len(others) == 1 and points[others[0]].n_unique() <= 8 else None
        groups = (
            [(None, points)]
            if by is None
            else [(v, points.filter(pl.col(by) == v)) for v in points[by].unique().sort()]
        )
        for j, (value, rows) in enumerate(groups):
            rows = rows.sort(param)
            x = rows[param].to_numpy()
            y = rows["mean"].to_numpy()
            low, high = rows["low"].to_numpy(), rows["high"].to_numpy()
            colour = PALETTE[(i + 2 + j) % len(PALETTE)]
            ok = np.isfinite(low) & np.isfinite(high)
            err = np.vstack([y - low, high - y])
            err[:, ~ok] = 0
            ax.errorbar(
                x,
                y,
                yerr=err,
                fmt="o-" if by is not None else "o",
                color=colour,
                markersize=4,
                linewidth=1,
                elinewidth=0.8,
                ecolor=colour,
                capsize=0,
                label=None if by is None else f"{by} = {_label(value)}",
            )
        if by is not None:
            ax.legend(fontsize=7, frameon=False)
        ax.set_xlabel(param, fontsize=8)
        if points.schema[param].is_numeric():
            ax.xaxis.set_major_formatter(ticker.FuncFormatter(_tick))
    _title(fig, outcome_title)
    return fig


def index_bars(
    indices: pl.DataFrame,
    *,
    outcome_title: str,
    index_names: Sequence[str],
    parameters: Sequence[str],
) -> Figure:
    """Sensitivity indices of one outcome: a horizontal bar per parameter for each index, with
    the index's confidence half-width as an error bar.

    `indices` has ``parameter, index, value, conf``.
    """
    longest = max((len(str(p)) for p in parameters), default=4)
    fig, axes = _grid(
        len(index_names),
        ncols=min(3, len(index_names)),
        height=1.1 + 0.3 * len(parameters),
        header=True,
        left=min(3.5, 0.3 + 0.065 * longest),
    )
    y = np.arange(len(parameters))
    for i, (ax, index) in enumerate(zip(axes, index_names, strict=True)):
        rows = indices.filter(pl.col("index") == index)
        lookup = {p: (v, c) for p, v, c in rows.select("parameter", "value", "conf").iter_rows()}
        vals = np.array([lookup.get(p, (np.nan, np.nan)) for p in parameters], dtype=float)
        conf = np.where(np.isfinite(vals[:, 1]), vals[:, 1], 0.0)
        ax.barh(
            y,
            vals[:, 0],
            xerr=conf,
            color=PALETTE[(i + 2) % len(PALETTE)],
            ecolor="#2e3440",
            error_kw={"elinewidth": 0.8},
        )
        ax.set_yticks(y, list(parameters), fontsize=8)
        ax.invert_yaxis()
        ax.axvline(0, color="#2e3440", linewidth=0.8)
        ax.grid(axis="x", color="#e5e9f0", linewidth=0.8)
        ax.grid(axis="y", visible=False)
        ax.xaxis.set_major_formatter(ticker.FuncFormatter(_tick))
        ax.set_title(index, fontsize=9)
    _title(fig, outcome_title)
    return fig


def effect_bars(
    effects: pl.DataFrame, *, outcomes: Sequence[str], policies: Sequence[str], xlabel: str
) -> Figure:
    """One panel: per outcome, a horizontal bar per policy (its mean change) with the
    interval as whiskers, and a line at zero.

    `effects` has ``policy, outcome, mean, low, high`` (`outcomes` are its outcome labels, top
    to bottom).
    """
    k = max(1, len(policies))
    longest = max((len(o) for o in outcomes), default=10)
    left = min(4.5, 0.3 + 0.062 * longest)
    height = 0.55 + 0.2 * len(outcomes) * (1 + 0.6 * (k - 1))
    fig = Figure(figsize=(10.0, height + 0.95))
    ax = fig.add_subplot()
    fig.subplots_adjust(
        left=left / 10, right=0.97, top=1 - 0.5 / (height + 0.95), bottom=0.45 / (height + 0.95)
    )
    y = np.arange(len(outcomes))
    bar = 0.8 / k
    handles = []
    for i, policy in enumerate(policies):
        rows = effects.filter(pl.col("policy") == policy)
        lookup = {
            o: (m, lo, hi)
            for o, m, lo, hi in rows.select("outcome", "mean", "low", "high").iter_rows()
        }
        vals = np.array([lookup.get(o, (np.nan,) * 3) for o in outcomes], dtype=float)
        pos = y + (i - (k - 1) / 2) * bar
        ok = np.isfinite(vals[:, 1]) & np.isfinite(vals[:, 2])
        err = np.vstack([vals[:, 0] - vals[:, 1], vals[:, 2] - vals[:, 0]])
        err[:, ~ok] = 0
        handles.append(
            ax.barh(
                pos,
                vals[:, 0],
                height=bar,
                color=PALETTE[(i + 1) % len(PALETTE)],
                xerr=np.abs(err),
                ecolor="#2e3440",
                error_kw={"elinewidth": 0.8},
            )
        )
    ax.set_yticks(y, list(outcomes), fontsize=8)
    ax.invert_yaxis()
    ax.axvline(0, color="#2e3440", linewidth=0.8)
    ax.grid(axis="x", color="#e5e9f0", linewidth=0.8)
    ax.set_axisbelow(True)
    ax.xaxis.set_major_formatter(ticker.FuncFormatter(_tick))
    ax.tick_params(labelsize=8)
    ax.set_xlabel(xlabel, fontsize=8)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    _legend(fig, handles, list(policies))
    return fig
