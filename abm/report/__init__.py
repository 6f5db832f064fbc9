"""HTML reports of simulation results, for readers who do not read code.

`write_report(folder)` turns the folder a run or an experiment wrote (``synthworld run``,
``whatif``, ``sweep``, ``sensitivity``; see `abm.report.folders`) into one self-contained HTML
file: what was run; the headline in plain words with its uncertainty (`abm.report.wording`);
time series with bands, bars by zone, sweep and sensitivity plots (`abm.report.plots`, with
matplotlib); the assumptions and the manifest. `synthworld report` is its command line.

The page needs nothing but a browser: CSS inline, figures as base64 PNG, no script, no fetch.

Examples
--------
>>> import json, pathlib, tempfile
>>> import polars as pl
>>> with tempfile.TemporaryDirectory() as folder:
...     run = pathlib.Path(folder)
...     _ = (run / "manifest.json").write_text(json.dumps({"kind": "run", "seed": 1}))
...     kpis = {"step": [0, 1, 2], "name": ["new_cases"] * 3, "value": [1.0, 4.0, 2.0]}
...     pl.DataFrame(kpis).write_parquet(run / "kpis.parquet")
...     page = build_report(run)
>>> "New cases over the 3 steps: 7." in page
True
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path

from abm.report.folders import KINDS, ResultFolder, read_results
from abm.report.html import render_page
from abm.report.sections import build_sections
from populations.errors import ConfigError, OutputExistsError

__all__ = ["KINDS", "ResultFolder", "build_report", "read_results", "write_report"]

REPORT_NAME = "report.html"


def build_report(
    folder: str | Path | ResultFolder,
    *,
    labels: Mapping[str, str] | None = None,
    outcomes: Sequence[str] | None = None,
    title: str | None = None,
    now: datetime | None = None,
) -> str:
    """The report of a results folder, as an HTML string.

    Parameters
    ----------
    folder : path or ResultFolder
        The folder a run or an experiment wrote.
    labels : mapping, optional
        Words for KPI or outcome names (``{"D": "deaths"}``), used in sentences and figures.
    outcomes : sequence of str, optional
        The outcomes to report, in order (``new_infections_sum``, ``D_last``; for runs also
        ``NAME_peak``); by default all.
    title : str, optional
        The page title; by default the kind and the scenario.
    now : datetime, optional
        The time stamped on the report (default: now, UTC).

    Raises
    ------
    ConfigError
        If the folder cannot be read (see `read_results`) or an outcome is unknown.
    """
    if not isinstance(folder, ResultFolder):
        folder = read_results(folder)
    heading, lede, sections, footer = build_sections(
        folder, labels=labels, outcomes=outcomes, title=title, now=now
    )
    return render_page(heading, lede, sections, footer)


def write_report(
    folder: str | Path,
    out: str | Path | None = None,
    *,
    overwrite: bool = False,
    labels: Mapping[str, str] | None = None,
    outcomes: Sequence[str] | None = None,
    title: str | None = None,
) -> Path:
    """Write the report of `folder` to `out` (default: ``folder/report.html``); return its path.

    The file is written under a temporary name and renamed when complete.

    Raises
    ------
    OutputExistsError
        If `out` exists and not `overwrite`.
    ConfigError
        As `build_report`, or if `out` is a folder.
    """
    results = read_results(folder)
    out = Path(out) if out is not None else results.path / REPORT_NAME
    if out.is_dir():
        msg = f"`{out}` is a folder. Hint: give a file name, e.g. {out / REPORT_NAME}."
        raise ConfigError(msg)
    if out.exists() and not overwrite:
        msg = f"`{out}` exists already. Hint: pass --overwrite to replace it, or another --out."
        raise OutputExistsError(msg)
    page = build_report(results, labels=labels, outcomes=outcomes, title=title)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}-{secrets.token_hex(4)}.partial")
    try:
        with tmp.open("x", encoding="utf-8") as handle:
            handle.write(page)
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return out
