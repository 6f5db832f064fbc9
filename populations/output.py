"""Writing outputs to disk: all or nothing, with a manifest.

Every file goes into a hidden temporary folder (``.<name>.partial-*``), whose contents are moved
into place only when all files are complete, so an interrupted run never leaves anything that
looks finished. `StagedOutput` is that mechanism; `write_folder` (a population) and
`abm.events.EventLog` (an event log, streamed over a whole run) both use it.

A destination that already holds results is refused unless ``overwrite=True``; then the old
results are replaced only after the new ones are complete.

Data files are Parquet (zstd, with Enum columns) or CSV. The manifest records the version, seed,
parameters and their hash, and each output's rows and sha256; the caller adds what else it knows
(for a population, the inputs' hashes).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import polars as pl

from populations.errors import ConfigError, OutputExistsError

__all__ = [
    "FORMATS",
    "StagedOutput",
    "check_destination",
    "file_sha256",
    "package_version",
    "parameters_sha256",
    "write_folder",
    "write_frame",
]

FORMATS = ("parquet", "csv")


def package_version() -> str:
    try:
        return version("synthworld")
    except PackageNotFoundError:
        return "unknown"


def parameters_sha256(parameters: Any) -> str:
    """The sha256 of `parameters` as canonical JSON (sorted keys), as recorded in manifests.

    A dataclass is taken as its fields.

    >>> parameters_sha256({"b": 1, "a": [0.5, "x"]}) == parameters_sha256({"a": [0.5, "x"], "b": 1})
    True
    """
    if dataclasses.is_dataclass(parameters) and not isinstance(parameters, type):
        parameters = dataclasses.asdict(parameters)
    try:
        text = json.dumps(parameters, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        msg = (
            f"parameters cannot be recorded in a manifest: {exc}. Hint: use JSON values only "
            "(numbers, strings, booleans, lists and dicts with string keys)."
        )
        raise ConfigError(msg) from None
    return hashlib.sha256(text.encode()).hexdigest()


def _blocking_file(out: Path) -> Path | None:
    return next((p for p in out.parents if p.exists() and not p.is_dir()), None)


def check_destination(out: Path, *, overwrite: bool) -> None:
    """Refuse an output folder that holds files (before any work is done)."""
    blocker = _blocking_file(out)
    if blocker is not None:
        msg = f"output `{out}` cannot be made: `{blocker}` is a file. Hint: choose another --out."
        raise OutputExistsError(msg)
    if out.exists() and not out.is_dir():
        msg = f"output `{out}` exists and is not a folder. Hint: choose another --out."
        raise OutputExistsError(msg)
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        msg = (
            f"output folder `{out}` already holds results. Hint: choose another --out, or pass "
            "--overwrite to replace them."
        )
        raise OutputExistsError(msg)


def write_frame(frame: pl.DataFrame, path: Path, fmt: str) -> Path:
    """Write `frame` as `path` with the format's suffix; return the path written."""
    if fmt not in FORMATS:
        msg = f"unknown format `{fmt}`. Hint: use one of {', '.join(FORMATS)}."
        raise ConfigError(msg)
    target = path.with_suffix("." + fmt)
    if fmt == "parquet":
        frame.write_parquet(target, compression="zstd", statistics=True)
    else:
        frame.write_csv(target)
    return target


def file_sha256(path: Path) -> str:
    with path.open("rb") as f:  # streamed: an event log may be larger than memory
        return hashlib.file_digest(f, "sha256").hexdigest()


class StagedOutput:
    """Files written under a temporary folder and moved into place by `commit`.

    Write into ``staged.path``; `commit` writes the manifest and moves everything into place,
    `abort` (or leaving a ``with`` block by an exception) deletes it all. The temporary folder is
    named ``.<name>.partial-<random>``, so a process killed before `commit` leaves nothing that
    looks finished.

    Parameters
    ----------
    out : Path
        The destination folder.
    overwrite : bool
        Replace results already at the destination (only once the new ones are complete).
    units : sequence of str, optional
        Without `units`, `out` as a whole is the output: it is staged beside `out` and appears by
        one rename. With `units` (paths relative to `out`), `out` is shared with other writers
        (say, the shards of one run): only the units are refused if present, they are staged
        inside `out` under the same relative paths and moved into place one by one, in the
        order given, the manifest last, so a shard without its manifest is known to be
        incomplete.
    manifest : str
        Where the manifest goes, relative to `out`.
    staging : Path, optional
        Adopt this existing temporary folder (one a killed run left, found with `partial_folders`)
        instead of making a new one, to finish what it holds (without `units` only).

    Examples
    --------
    >>> import tempfile
    >>> out = Path(tempfile.mkdtemp()) / "result"
    >>> with StagedOutput(out, overwrite=False) as staged:
    ...     _ = (staged.path / "a.txt").write_text("hello")
    ...     manifest = staged.commit({"seed": 1}, rows={"a.txt": 1})
    >>> sorted(p.name for p in out.iterdir()), manifest["outputs"]["a.txt"]["rows"]
    (['a.txt', 'manifest.json'], 1)
    """

    def __init__(
        self,
        out: Path,
        *,
        overwrite: bool,
        units: Sequence[str] | None = None,
        manifest: str = "manifest.json",
        staging: Path | None = None,
    ) -> None:
        self.out = Path(out)
        self.units = None if units is None else [*units, manifest]
        self.manifest = manifest
        self.committed = False
        if self.units is None:
            check_destination(self.out, overwrite=overwrite)
            self.out.parent.mkdir(parents=True, exist_ok=True)
            where, label = self.out.parent, self.out.name
        else:
            self._check_units(overwrite=overwrite)
            self.out.mkdir(parents=True, exist_ok=True)
            where, label = self.out, Path(manifest).stem
        if staging is not None and self.units is None:
            self.path = Path(staging)
        else:
            self.path = Path(tempfile.mkdtemp(prefix=f".{label}.partial-", dir=where))

    def _check_units(self, *, overwrite: bool) -> None:
        blocker = _blocking_file(self.out) or (
            self.out if self.out.exists() and not self.out.is_dir() else None
        )
        if blocker is not None:
            msg = (
                f"output `{self.out}` cannot be made: `{blocker}` is a file. "
                "Hint: choose another --out."
            )
            raise OutputExistsError(msg)
        present = [u for u in self.units or () if (self.out / u).exists()]
        if present and not overwrite:
            msg = (
                f"output `{self.out / present[0]}` already exists. Hint: choose another --out "
                "or shard, or pass --overwrite (overwrite=True) to replace it."
            )
            raise OutputExistsError(msg)

    @staticmethod
    def partial_folders(out: Path) -> list[Path]:
        """Temporary folders that unfinished writes of `out` left beside it, newest first."""
        out = Path(out)
        found = out.parent.glob(f".{out.name}.partial-*") if out.parent.is_dir() else []
        return sorted((p for p in found if p.is_dir()), key=lambda p: -p.stat().st_mtime)

    def commit(self, manifest: Mapping[str, Any], rows: Mapping[str, Any]) -> dict[str, Any]:
        """Write the manifest (`manifest` plus each file's rows and sha256) and move into place.

        `rows` maps paths relative to the output (posix style) to their row counts. Returns the
        manifest written.
        """
        try:
            files = {}
            for path in sorted(p for p in self.path.rglob("*") if p.is_file()):
                rel = path.relative_to(self.path).as_posix()
                files[rel] = {"sha256": file_sha256(path), "rows": rows.get(rel)}
            full = {**manifest, "outputs": files}
            target = self.path / self.manifest
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(full, indent=2) + "\n", encoding="utf-8")
            if self.units is None:
                self._move_folder()
            else:
                self._move_units()
        except BaseException:
            self.abort()
            raise
        self.committed = True
        return full

    def _move_folder(self) -> None:
        if self.out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{self.out.name}.old-", dir=self.out.parent))
            os.replace(self.out, old / self.out.name)
            os.replace(self.path, self.out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(self.path, self.out)

    def _move_units(self) -> None:
        old = None
        for unit in self.units or ():
            source, dest = self.path / unit, self.out / unit
            if not source.exists():
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            if dest.exists():
                if old is None:
                    old = Path(tempfile.mkdtemp(prefix=".old-", dir=self.out))
                os.replace(dest, old / unit.replace("/", "__"))
            os.replace(source, dest)
        shutil.rmtree(self.path, ignore_errors=True)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)

    def abort(self) -> None:
        """Delete everything staged (nothing was moved into place)."""
        shutil.rmtree(self.path, ignore_errors=True)

    def __enter__(self) -> StagedOutput:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if not self.committed:
            self.abort()


def write_folder(
    out: Path,
    fill: Callable[[Path], Mapping[str, Any]],
    *,
    overwrite: bool,
    manifest: Mapping[str, Any],
) -> dict[str, Any]:
    """Create `out` atomically: `fill(tmp)` writes the files and returns row counts per file.

    Returns the manifest written as ``manifest.json``.
    """
    with StagedOutput(out, overwrite=overwrite) as staged:
        rows = fill(staged.path)
        return staged.commit(manifest, rows)
