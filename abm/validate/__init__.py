"""Fidelity checks: does generated data reproduce reference statistics?

`validate(output, reference)` reads a reference file (TOML, `abm.validate.reference`) and runs
each of its checks (`abm.validate.checks`) on the tables of `output` (a data file or a folder,
`abm.validate.tables`): marginal frequencies, distributions, correlations and rates, each with a
statistic (SRMSE, total variation, Kolmogorov-Smirnov, absolute difference, z-score), a
threshold and pass or fail. ``synthworld validate`` is its command line.

Libraries: `scipy.stats` for the Kolmogorov-Smirnov test and the correlation coefficients,
polars for reading data lazily, `tomllib` for reference files. SDMetrics was considered: it
brings pandas-based single-table reports and optional heavy dependencies (its synthesizer
plugins, plotly) for statistics that are a line each here, and it does not read reference
statistics (only a real table), so it is not used.

Examples
--------
>>> import polars as pl
>>> from abm.validate.reference import parse_reference
>>> ref = parse_reference({"check": [{"kind": "rate", "column": "employed", "value": 0.5,
...                                   "threshold": 0.05}]})
>>> result = validate({"persons": pl.DataFrame({"employed": [True, False, True, False]})}, ref)
>>> result.passed, result.results[0].value
(True, 0.0)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from abm.validate.checks import KINDS, Check, CheckResult
from abm.validate.reference import Reference, parse_reference, read_reference
from abm.validate.tables import Tables, open_tables
from populations.output import package_version

__all__ = [
    "KINDS",
    "Check",
    "CheckResult",
    "Reference",
    "Tables",
    "ValidationResult",
    "open_tables",
    "parse_reference",
    "read_reference",
    "validate",
]


@dataclass(frozen=True)
class ValidationResult:
    """Every check's result, in the reference file's order."""

    output: str
    reference: str
    results: tuple[CheckResult, ...]
    title: str = ""

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    @property
    def failed(self) -> list[CheckResult]:
        return [r for r in self.results if not r.passed]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: what was compared, whether all passed, and each check."""
        return {
            "synthworld": package_version(),
            "output": self.output,
            "reference": self.reference,
            "title": self.title,
            "passed": self.passed,
            "checks_total": len(self.results),
            "checks_failed": len(self.failed),
            "checks": [r.to_dict() for r in self.results],
        }

    def to_frame(self) -> pl.DataFrame:
        """One row per check: ``name, kind, table, statistic, value, threshold, passed, rows``."""
        return pl.DataFrame(
            [
                {
                    "name": r.name,
                    "kind": r.kind,
                    "table": r.table,
                    "statistic": r.statistic,
                    "value": r.value,
                    "threshold": r.threshold,
                    "passed": r.passed,
                    "rows": r.rows,
                }
                for r in self.results
            ],
            schema={
                "name": pl.String,
                "kind": pl.String,
                "table": pl.String,
                "statistic": pl.String,
                "value": pl.Float64,
                "threshold": pl.Float64,
                "passed": pl.Boolean,
                "rows": pl.Int64,
            },
        )


def validate(
    output: str | Path | Tables | Mapping[str, pl.DataFrame | pl.LazyFrame],
    reference: str | Path | Reference,
    *,
    progress: Callable[[int, int], Any] | None = None,
) -> ValidationResult:
    """Run every check of `reference` on `output`.

    Parameters
    ----------
    output : path, Tables or mapping of table name to polars frame
        The generated data: a Parquet, CSV or JSON Lines file, or a folder of them (see
        `abm.validate.tables.open_tables`), or frames already in memory.
    reference : path or Reference
        A reference file (see `abm.validate.reference`) or a parsed one.
    progress : callable, optional
        ``progress(done, total)`` after each check.

    Raises
    ------
    ConfigError
        For bad input: unreadable data or reference, a malformed check, a table or column
        the data does not have (with the closest name). A check that runs but does not meet
        its threshold is not an error: it is a failed result.
    """
    if not isinstance(reference, Reference):
        reference = read_reference(reference)
    if isinstance(output, Tables):
        tables = output
    elif isinstance(output, Mapping):
        tables = Tables.from_frames(output)
    else:
        tables = open_tables(output)
    results = []
    for check in reference.checks:
        results.append(check.evaluate(tables, reference.table))
        if progress is not None:
            progress(len(results), len(reference.checks))
    return ValidationResult(tables.location, reference.source, tuple(results), reference.title)
