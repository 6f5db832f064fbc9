"""Reading the folders synthworld's commands write, for a report.

`read_results` recognises a folder by its manifest and loads what a report shows:

=========== =========================================== ========================================
kind        written by                                  read
=========== =========================================== ========================================
run         ``synthworld run NAME --out DIR``           ``manifest.json`` (kind ``event-log``)
                                                        and ``kpis.parquet``
replicates  ``synthworld run NAME --replicates N``      ``replicates.json`` and each shard's
                                                        ``kpis/shard=0000k/*.parquet``
whatif      ``synthworld whatif``                       ``manifest.json`` (kind ``whatif``),
                                                        ``comparisons.parquet``,
                                                        ``replicates.parquet``, ``kpis.parquet``
sweep       ``synthworld sweep``                        ``manifest.json``, ``design.parquet``,
                                                        ``results.parquet``
sensitivity ``synthworld sensitivity``                  the sweep's files and ``indices.parquet``
=========== =========================================== ========================================

KPI frames are normalised to ``arm, replicate, step, name, value`` plus their group columns
(``zone``, ``age_band``...): a run is arm ``baseline``, replicate 0. Optional files may be
missing (a what-if without ``kpis.parquet`` has no time series); required ones, and required
columns, give a `ConfigError` that names the file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from populations.errors import ConfigError

__all__ = ["KINDS", "ResultFolder", "read_results"]

KINDS = ("run", "replicates", "whatif", "sweep", "sensitivity")
BASELINE = "baseline"
KPI_KEYS = ("arm", "replicate", "step", "name", "value")

_FILES: dict[str, dict[str, tuple[tuple[str, ...], bool]]] = {
    # file stem -> (required columns, required file)
    "whatif": {
        "comparisons": (
            (
                "policy",
                "outcome",
                "n",
                "baseline_mean",
                "policy_mean",
                "diff_mean",
                "ci_low",
                "ci_high",
            ),
            True,
        ),
        "replicates": (("arm", "replicate", "outcome", "value"), False),
        "kpis": (("arm", "replicate", "step", "name", "value"), False),
    },
    "sweep": {
        "design": (("point",), True),
        "results": (("point", "replicate", "outcome", "value"), True),
    },
    "sensitivity": {
        "design": (("point",), False),
        "results": (("point", "replicate", "outcome", "value"), False),
        "indices": (("parameter", "outcome", "index", "value"), True),
    },
}


@dataclass
class ResultFolder:
    """What a report is made from: the folder's kind, manifest and tables.

    Attributes
    ----------
    path : Path
    kind : str
        One of `KINDS`.
    manifest : dict
        The folder's manifest (``manifest.json``, or ``replicates.json`` for replicates).
    manifest_name : str
    tables : dict of str to polars.DataFrame
        ``kpis`` (normalised, see the module docstring) and the kind's own tables.
    """

    path: Path
    kind: str
    manifest: dict[str, Any]
    manifest_name: str
    tables: dict[str, pl.DataFrame] = field(default_factory=dict)

    @property
    def scenario(self) -> str | None:
        """The scenario's name: from the manifest, or a run's event-log schema name."""
        name = self.manifest.get("scenario")
        if name is None:
            schema = self.manifest.get("schema")
            name = schema.get("name") if isinstance(schema, dict) else None
        return name if isinstance(name, str) else None

    @property
    def kpis(self) -> pl.DataFrame | None:
        return self.tables.get("kpis")

    @property
    def group_columns(self) -> list[str]:
        kpis = self.kpis
        if kpis is None:
            return []
        return [c for c in kpis.columns if c not in KPI_KEYS]


def _load_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        msg = f"cannot read `{path}`: {exc}. Hint: the folder's manifest is damaged; rerun."
        raise ConfigError(msg) from None
    if not isinstance(data, dict):
        msg = f"`{path}` is not a manifest (a JSON object), found {type(data).__name__}."
        raise ConfigError(msg)
    return data


def _read_parquet(path: Path, what: str) -> pl.DataFrame:
    try:
        return pl.read_parquet(path)
    except (pl.exceptions.PolarsError, OSError) as exc:
        msg = f"cannot read {what} `{path}`: {exc}"
        raise ConfigError(msg) from None


def _require(frame: pl.DataFrame, columns: tuple[str, ...], path: Path) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        msg = (
            f"`{path}` lacks the column(s) "
            + ", ".join(f"`{c}`" for c in missing)
            + " (found "
            + ", ".join(f"`{c}`" for c in frame.columns)
            + "). Hint: was it written by another version of synthworld?"
        )
        raise ConfigError(msg)


def _kind_of(manifest: dict[str, Any], where: Path) -> str:
    kind = manifest.get("kind")
    if manifest.get("command") == "populate":
        msg = (
            f"`{where}` holds a synthetic population, not simulation results. Hint: check a "
            "population against reference statistics with `synthworld validate`."
        )
        raise ConfigError(msg)
    if kind in (None, "run", "event-log"):
        return "run"
    if kind in KINDS:
        return kind
    msg = (
        f"`{where}` is of kind `{kind}`, which has no report. Hint: a report is made from the "
        "folder written by `synthworld run`, `whatif`, `sweep` or `sensitivity`."
    )
    raise ConfigError(msg)


def _normalise_kpis(kpis: pl.DataFrame, *, arm: str | None, replicate: int | None) -> pl.DataFrame:
    extra = []
    if arm is not None and "arm" not in kpis.columns:
        extra.append(pl.lit(arm, pl.String).alias("arm"))
    if replicate is not None and "replicate" not in kpis.columns:
        extra.append(pl.lit(replicate, pl.Int64).alias("replicate"))
    kpis = kpis.with_columns(extra) if extra else kpis
    groups = [c for c in kpis.columns if c not in KPI_KEYS and c != "shard"]
    return kpis.select(
        pl.col("arm").cast(pl.String),
        pl.col("replicate").cast(pl.Int64),
        pl.col("step").cast(pl.Int64),
        pl.col("name").cast(pl.String),
        pl.col("value").cast(pl.Float64),
        *groups,
    )


def _run(path: Path, manifest: dict[str, Any], name: str) -> ResultFolder:
    folder = ResultFolder(path, "run", manifest, name)
    kpi_file = path / str(manifest.get("kpis") or "kpis.parquet")
    if kpi_file.is_file():
        kpis = _read_parquet(kpi_file, "KPI file")
        _require(kpis, ("step", "name", "value"), kpi_file)
        folder.tables["kpis"] = _normalise_kpis(kpis, arm=BASELINE, replicate=0)
    return folder


def _replicates(path: Path, manifest: dict[str, Any], name: str) -> ResultFolder:
    folder = ResultFolder(path, "replicates", manifest, name)
    shards = manifest.get("shards")
    if not isinstance(shards, list) or not shards:
        msg = f"`{path / name}` lists no shards. Hint: the run did not finish; rerun it."
        raise ConfigError(msg)
    frames = []
    for entry in shards:
        if not isinstance(entry, dict) or not isinstance(entry.get("kpis"), str):
            continue
        kpi_file = path / entry["kpis"]
        if not kpi_file.is_file():
            msg = (
                f"`{kpi_file}` is missing: `{path / name}` lists it for replicate "
                f"{entry.get('shard')}. Hint: the folder is incomplete; rerun the replicates."
            )
            raise ConfigError(msg)
        kpis = _read_parquet(kpi_file, "KPI file")
        _require(kpis, ("step", "name", "value"), kpi_file)
        frames.append(_normalise_kpis(kpis, arm=BASELINE, replicate=int(entry.get("shard", 0))))
    if frames:
        folder.tables["kpis"] = pl.concat(frames, how="diagonal_relaxed")
    return folder


def _experiment(path: Path, manifest: dict[str, Any], name: str, kind: str) -> ResultFolder:
    folder = ResultFolder(path, kind, manifest, name)
    for stem, (columns, required) in _FILES[kind].items():
        file = path / f"{stem}.parquet"
        if not file.is_file():
            if required and manifest.get("complete") is False:
                msg = (
                    f"the {kind} in `{path}` has not finished (its manifest says complete: "
                    f"false), so `{file.name}` is not there yet. Hint: rerun the same command "
                    "to resume it; finished runs are kept."
                )
                raise ConfigError(msg)
            if required:
                msg = (
                    f"`{file}` is missing: a {kind} folder holds it. Hint: the {kind} did not "
                    "finish, or the folder was moved in part; rerun it."
                )
                raise ConfigError(msg)
            continue
        frame = _read_parquet(file, f"{kind} table")
        _require(frame, columns, file)
        if stem == "kpis":
            frame = _normalise_kpis(frame, arm=None, replicate=None)
        folder.tables[stem] = frame
    return folder


def read_results(path: str | Path) -> ResultFolder:
    """Recognise and read a results folder (see the module docstring).

    `path` may also be the folder's ``manifest.json`` or ``replicates.json``.

    Raises
    ------
    ConfigError
        If `path` does not exist, holds no manifest, is a population folder, or misses a file or
        column the kind needs.
    """
    path = Path(path)
    if path.is_file() and path.name in ("manifest.json", "replicates.json"):
        path = path.parent
    if not path.exists():
        msg = f"`{path}` does not exist. Hint: give the folder a run or an experiment wrote."
        raise ConfigError(msg)
    if not path.is_dir():
        msg = f"`{path}` is a file, not a results folder. Hint: give the folder that holds it."
        raise ConfigError(msg)
    manifest_file = path / "manifest.json"
    replicates_file = path / "replicates.json"
    if manifest_file.is_file():
        manifest = _load_json(manifest_file)
        kind = _kind_of(manifest, path)
        name = manifest_file.name
    elif replicates_file.is_file():
        manifest = _load_json(replicates_file)
        kind, name = "replicates", replicates_file.name
    else:
        msg = (
            f"`{path}` holds no manifest.json or replicates.json, so it is not a results folder. "
            "Hint: give the folder written by `synthworld run`, `whatif`, `sweep` or "
            "`sensitivity` (its --out)."
        )
        raise ConfigError(msg)
    if kind == "run":
        return _run(path, manifest, name)
    if kind == "replicates":
        return _replicates(path, manifest, name)
    return _experiment(path, manifest, name, kind)
