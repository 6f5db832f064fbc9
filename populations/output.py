"""Writing a population to disk: all or nothing, with a manifest.

Every file goes into a hidden temporary folder beside the destination, which is renamed into
place only when all files are complete, so an interrupted run never leaves a folder that looks
finished. A folder that already holds files is refused unless ``overwrite=True``; then the old
folder is replaced only after the new one is complete.

Data files are Parquet (zstd, with Enum columns) or CSV. The manifest records the version, seed,
parameters and their hash, the inputs' hashes, and each output's rows and hash.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import polars as pl

from populations.errors import ConfigError, OutputExistsError

__all__ = ["FORMATS", "check_destination", "package_version", "write_frame", "write_folder"]

FORMATS = ("parquet", "csv")


def package_version() -> str:
    try:
        return version("synthworld")
    except PackageNotFoundError:
        return "unknown"


def check_destination(out: Path, *, overwrite: bool) -> None:
    """Refuse an output folder that holds files (before any work is done)."""
    blocker = next((p for p in out.parents if p.exists() and not p.is_dir()), None)
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


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


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
    check_destination(out, overwrite=overwrite)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        rows = fill(tmp)
        files = {}
        for path in sorted(p for p in tmp.rglob("*") if p.is_file()):
            rel = path.relative_to(tmp).as_posix()
            files[rel] = {"sha256": _sha256(path), "rows": rows.get(rel)}
        full = {**manifest, "outputs": files}
        (tmp / "manifest.json").write_text(json.dumps(full, indent=2) + "\n", encoding="utf-8")
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            os.replace(out, old / out.name)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return full
