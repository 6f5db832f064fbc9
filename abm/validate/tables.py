"""The generated data a fidelity check reads: named tables in a file or a folder.

`open_tables` takes what synthworld writes, or any data of the same kinds:

* one Parquet, CSV or JSON Lines file: one table, named after the file (``persons.parquet`` is
  ``persons``);
* a folder: each such file at its top (a population folder holds ``persons`` and
  ``households``; a run folder ``events`` and ``kpis``), and each sub-folder of such files read
  as one hive-partitioned dataset (the ``events/shard=00003/...`` shards of a run with
  replicates are the table ``events``, with a ``shard`` column). Manifests and reports (JSON,
  PNG, HTML) are not tables.

Tables are opened lazily with polars (``scan_parquet``, ``scan_csv``, ``scan_ndjson``), so a check
reads only the columns it needs, and frequency counts and rates are computed without loading a
large event log whole.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from populations.errors import ConfigError, closest_hint

__all__ = ["DATA_SUFFIXES", "Tables", "open_tables"]

DATA_SUFFIXES = {".parquet": "parquet", ".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}


def _scan_file(path: Path, fmt: str) -> pl.LazyFrame:
    if fmt == "parquet":
        return pl.scan_parquet(path)
    if fmt == "csv":
        return pl.scan_csv(path, infer_schema_length=10_000)
    return pl.scan_ndjson(path, infer_schema_length=10_000)


def _scan_folder(path: Path) -> tuple[pl.LazyFrame, str] | None:
    """A folder of data files as one (hive-partitioned) table, or None if it holds none."""
    for suffix, fmt in DATA_SUFFIXES.items():
        files = sorted(p for p in path.rglob(f"*{suffix}") if not _hidden(p, path))
        if not files:
            continue
        if fmt == "parquet":
            frame = pl.scan_parquet(files, hive_partitioning=True)
        else:  # text formats: concatenated, with the partition columns parsed from the paths
            frame = pl.concat([_with_partitions(_scan_file(f, fmt), f, path) for f in files])
        return frame, f"{path.name}/ ({len(files)} {fmt} file{'s' * (len(files) > 1)})"
    return None


def _with_partitions(frame: pl.LazyFrame, file: Path, root: Path) -> pl.LazyFrame:
    parts = [p.split("=", 1) for p in file.relative_to(root).parts[:-1] if "=" in p]
    return frame.with_columns(
        pl.lit(int(v) if v.isdigit() else v).alias(k) for k, v in parts if k and v
    )


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith((".", "_")) for part in path.relative_to(root).parts)


@dataclass
class Tables:
    """Named lazy tables, with where each came from (for messages).

    Build it with `open_tables`, or directly from frames:
    ``Tables.from_frames({"persons": df})``.
    """

    location: str
    frames: dict[str, pl.LazyFrame]
    sources: dict[str, str]

    @classmethod
    def from_frames(
        cls, frames: Mapping[str, pl.DataFrame | pl.LazyFrame], location: str = "<frames>"
    ) -> Tables:
        lazy = {str(k): (v.lazy() if isinstance(v, pl.DataFrame) else v) for k, v in frames.items()}
        if not lazy or not all(isinstance(v, pl.LazyFrame) for v in lazy.values()):
            msg = "`frames` must be a non-empty mapping of table names to polars frames."
            raise ConfigError(msg)
        return cls(location, lazy, {k: f"table `{k}`" for k in lazy})

    @property
    def names(self) -> list[str]:
        return sorted(self.frames)

    def resolve(self, name: str | None, *, what: str) -> str:
        """The table `name` names, or the only table when `name` is None."""
        if name is None:
            if len(self.frames) == 1:
                return next(iter(self.frames))
            msg = (
                f"{what} does not say which table to read, and `{self.location}` holds "
                f"{len(self.frames)}: " + ", ".join(f"`{n}`" for n in self.names) + ". Hint: add "
                '`table = "NAME"` to the check, or `table` to the [reference] table.'
            )
            raise ConfigError(msg)
        if name not in self.frames:
            msg = (
                f"{what} reads table `{name}`, which `{self.location}` does not hold. "
                + closest_hint(name, self.names)
            )
            raise ConfigError(msg)
        return name

    def columns(self, name: str) -> list[str]:
        try:
            return self.frames[name].collect_schema().names()
        except (pl.exceptions.PolarsError, OSError) as exc:
            msg = f"cannot read {self.sources[name]} in `{self.location}`: {exc}"
            raise ConfigError(msg) from None

    def collect(self, name: str, frame: pl.LazyFrame) -> pl.DataFrame:
        """`frame` (a query on table `name`) collected, with a read failure as a ConfigError."""
        try:
            return frame.collect()
        except (pl.exceptions.PolarsError, OSError) as exc:
            msg = f"cannot read {self.sources[name]} in `{self.location}`: {exc}"
            raise ConfigError(msg) from None


def open_tables(path: str | Path) -> Tables:
    """The tables in a data file or a folder (see the module docstring).

    Raises
    ------
    ConfigError
        If `path` does not exist, is a file of another kind, or is a folder without data files.
    """
    path = Path(path)
    if not path.exists():
        msg = f"`{path}` does not exist. Hint: give a Parquet, CSV or JSON Lines file or a folder."
        raise ConfigError(msg)
    if path.is_file():
        fmt = DATA_SUFFIXES.get(path.suffix.lower())
        if fmt is None:
            msg = (
                f"`{path}` is not a data file: expected .parquet, .csv or .jsonl, found "
                f"`{path.suffix or 'no suffix'}`."
            )
            raise ConfigError(msg)
        return Tables(str(path), {path.stem: _scan_file(path, fmt)}, {path.stem: path.name})
    frames: dict[str, pl.LazyFrame] = {}
    sources: dict[str, str] = {}
    for entry in sorted(path.iterdir()):
        if entry.name.startswith((".", "_")):
            continue
        if entry.is_file() and entry.suffix.lower() in DATA_SUFFIXES:
            name, frame, source = (
                entry.stem,
                _scan_file(entry, DATA_SUFFIXES[entry.suffix.lower()]),
                entry.name,
            )
        elif entry.is_dir():
            found = _scan_folder(entry)
            if found is None:
                continue
            name, (frame, source) = entry.name, found
        else:
            continue
        if name in frames:
            msg = (
                f"`{path}` holds two tables named `{name}` ({sources[name]} and {source}). "
                "Hint: give one of the files instead of the folder."
            )
            raise ConfigError(msg)
        frames[name], sources[name] = frame, source
    if not frames:
        msg = (
            f"`{path}` holds no Parquet, CSV or JSON Lines files. Hint: give the folder written "
            "by `synthworld populate` or `synthworld run`, or a data file."
        )
        raise ConfigError(msg)
    return Tables(str(path), frames, sources)
