"""Resumable experiment folders: every finished run saved at once, skipped by a rerun.

An experiment (what-if, sweep, sensitivity) is many runs. With an output folder, each run's
results are written as soon as it finishes, to ``runs/<run>.<part>.parquet`` (written under a
temporary name and renamed, so a file that exists is complete), and the run is then listed
under ``"finished"`` in ``manifest.json`` (rewritten the same way). When every run is done the
experiment's own tables are assembled from them and the manifest is completed
(``"complete": true``, each table's rows and sha256). So an interrupted experiment keeps what it
had done: run again with the same arguments and the same folder, it skips the finished runs and
carries on; the files it assembles are byte for byte those of an uninterrupted run.

A folder belongs to one experiment, identified by the manifest's identity keys (kind, scenario,
seed, replicates, parameters, version and the kind's own settings). A rerun whose identity
differs is refused, naming the first key that differs, unless ``overwrite=True``; then the old
folder is moved aside (``.<name>.old-*`` beside it) and deleted only once the new experiment is
complete, so nothing is lost to an interrupted replacement.

`ExperimentStore` is the folder; `run_resumable` is the loop every experiment uses: skip the
finished runs, compute the others, save each as it comes, report progress.

Examples
--------
>>> import tempfile
>>> import polars as pl
>>> out = Path(tempfile.mkdtemp()) / "exp"
>>> def compute(todo):
...     for i in todo:
...         yield i, {"outcomes": pl.DataFrame({"outcome": ["y"], "value": [float(i)]})}
>>> store = ExperimentStore(out, {"kind": "sweep", "seed": 1}, parts=("outcomes",))
>>> records, ran = run_resumable(["r0", "r1"], compute, store=store)
>>> ran, sorted(store.finished)
(2, ['r0', 'r1'])
>>> again = ExperimentStore(out, {"kind": "sweep", "seed": 1}, parts=("outcomes",))
>>> run_resumable(["r0", "r1"], compute, store=again)[1]  # both runs were finished
0
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import io
import json
import os
import pickle
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from abm.experiments.outcomes import Summary, summary_name
from abm.params import params_to_dict
from abm.registry import Scenario
from populations.errors import ConfigError, OutputExistsError
from populations.output import (
    StagedOutput,
    check_destination,
    package_version,
    parameters_sha256,
)

__all__ = [
    "MANIFEST",
    "RUNS",
    "ExperimentStore",
    "experiment_identity",
    "fingerprint",
    "run_name",
    "run_resumable",
    "stack",
]

MANIFEST = "manifest.json"
RUNS = "runs"
"""The subfolder of finished runs' files."""

Record = dict[str, pl.DataFrame]
"""One run's results: a frame per part (``outcomes``, ``kpis``, ...)."""


def _plain(value: Any) -> Any:
    """`value` as JSON would give it back (tuples as lists, keys as strings)."""
    return json.loads(json.dumps(value, allow_nan=False))


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _write_json(path: Path, data: Mapping[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _differs(old: Any, new: Any) -> bool:
    """Whether two JSON values differ, the order of keys included (the order of policies or
    varied parameters decides which run is which)."""
    return json.dumps(old) != json.dumps(new)


def _show(value: Any) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 60 else text[:57] + "..."


def fingerprint(values: Mapping[str, Any]) -> dict[str, str]:
    """A sha256 per value, for manifests: JSON values as canonical JSON, polars frames as their
    Arrow IPC bytes, anything else pickled (its type name if it cannot be)."""
    out = {}
    for key, value in sorted(values.items()):
        if isinstance(value, pl.DataFrame):
            buffer = io.BytesIO()
            value.rechunk().write_ipc(buffer, compression="uncompressed")
            data = buffer.getvalue()
        else:
            try:
                data = json.dumps(value, sort_keys=True, allow_nan=False).encode()
            except (TypeError, ValueError):
                try:
                    data = pickle.dumps(value)
                except Exception:  # an unpicklable object: its type is all we can record
                    data = type(value).__qualname__.encode()
        out[str(key)] = "sha256:" + hashlib.sha256(data).hexdigest()
    return out


def run_name(unit: int, replicate: int) -> str:
    """The name of replicate `replicate` of arm or point `unit`, for its files in ``runs/``."""
    return f"{unit:05d}-{replicate:05d}"


def experiment_identity(
    kind: str,
    scenario: Scenario,
    base: Any,
    *,
    seed: int,
    replicates: int,
    summary: Summary,
    common_random_numbers: bool,
    build_kwargs: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The manifest keys every experiment folder has and that identify it (the kind's own
    settings are added by each kind): kind, scenario, seed, replicates, the baseline
    `parameters` (plain data) and their sha256, the version, common random numbers or not, the
    summary's name, and a fingerprint of `build_kwargs` if any."""
    data = params_to_dict(base)
    identity = {
        "kind": kind,
        "scenario": scenario.name,
        "seed": seed,
        "replicates": replicates,
        "parameters": data,
        "parameters_sha256": parameters_sha256(data),
        "version": package_version(),
        "common_random_numbers": bool(common_random_numbers),
        "summary": summary_name(summary),
    }
    if build_kwargs:
        identity["build_kwargs"] = fingerprint(build_kwargs)
    return identity


@dataclasses.dataclass
class ExperimentStore:
    """The output folder of one experiment, created or resumed.

    Parameters
    ----------
    out : Path
        The folder. New, empty, or holding this same experiment (resumed).
    identity : mapping
        What makes the experiment (JSON data; recorded in the manifest): a folder whose
        manifest disagrees on any of these keys holds another experiment.
    parts : sequence of str
        The files each run has (``runs/<run>.<part>.parquet``).
    overwrite : bool
        Replace whatever `out` holds (moved aside now, deleted when this experiment completes).

    Raises
    ------
    OutputExistsError
        If `out` holds anything but this experiment and not `overwrite`, or cannot be a folder.
    """

    out: Path
    identity: Mapping[str, Any]
    parts: Sequence[str] = ("outcomes",)
    overwrite: bool = False
    finished: set[str] = dataclasses.field(init=False)
    resumed: bool = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        self.out = Path(self.out)
        self.identity = _plain(dict(self.identity))
        self.parts = tuple(self.parts)
        self.finished = set()
        self.resumed = False
        self._replaced: str | None = None
        check_destination(self.out, overwrite=True)  # a file in the way is always refused
        old = self._existing()
        if old is not None and self.overwrite:
            self._move_aside()
            old = None
        created = _now()
        if old is not None:
            self._check_same(old)
            self.finished = {r for r in old.get("finished", []) if self._complete(r)}
            self.resumed = True
            created = old.get("created", created)
            self._replaced = old.get("replacing")
        (self.out / RUNS).mkdir(parents=True, exist_ok=True)
        self._created = created
        self._write_manifest()

    # ------------------------------------------------------------------ the folder

    def _existing(self) -> dict[str, Any] | None:
        """The manifest of what `out` holds; None if it holds nothing."""
        if not self.out.is_dir() or not any(self.out.iterdir()):
            return None
        path = self.out / MANIFEST
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            manifest = None
        if not isinstance(manifest, dict) or "kind" not in manifest:
            if self.overwrite:
                return {}
            msg = (
                f"output folder `{self.out}` already holds files that are not an experiment's "
                "results. Hint: choose another --out, or pass --overwrite to replace them."
            )
            raise OutputExistsError(msg)
        return manifest

    def _check_same(self, old: Mapping[str, Any]) -> None:
        for key, value in self.identity.items():
            if key not in old or _differs(old[key], value):
                before = _show(old[key]) if key in old else "missing"
                msg = (
                    f"output folder `{self.out}` holds another experiment: its `{key}` is "
                    f"{before}, this one's is {_show(value)}. Hint: rerun with the same "
                    "arguments to resume it, choose another --out, or pass --overwrite to "
                    "replace it."
                )
                raise OutputExistsError(msg)

    def _move_aside(self) -> None:
        aside = Path(tempfile.mkdtemp(prefix=f".{self.out.name}.old-", dir=self.out.parent))
        os.replace(self.out, aside / self.out.name)
        self._replaced = aside.name

    def _complete(self, run: str) -> bool:
        return all(self._path(run, part).is_file() for part in self.parts)

    def _path(self, run: str, part: str) -> Path:
        return self.out / RUNS / f"{run}.{part}.parquet"

    def _manifest(self, *, complete: bool) -> dict[str, Any]:
        manifest = {
            **self.identity,
            "created": self._created,
            "updated": _now(),
            "complete": complete,
            "finished": sorted(self.finished),
        }
        if self._replaced is not None and not complete:
            manifest["replacing"] = self._replaced
        return manifest

    def _write_manifest(self) -> None:
        _write_json(self.out / MANIFEST, self._manifest(complete=False))

    # ------------------------------------------------------------------ runs

    def save(self, run: str, record: Mapping[str, pl.DataFrame]) -> None:
        """Write `run`'s files (each atomically), then list it as finished in the manifest."""
        missing = [p for p in self.parts if p not in record]
        if missing:
            msg = f"run `{run}` has no `{missing[0]}` to save (parts: {', '.join(self.parts)})."
            raise ConfigError(msg)
        for part in self.parts:
            path = self._path(run, part)
            tmp = path.with_name(f".{path.name}.tmp")
            record[part].write_parquet(tmp, compression="zstd", statistics=True)
            os.replace(tmp, path)
        self.finished.add(run)
        self._write_manifest()

    def load(self, run: str) -> Record:
        """The files of finished `run`."""
        return {part: pl.read_parquet(self._path(run, part)) for part in self.parts}

    def complete(
        self, tables: Mapping[str, pl.DataFrame], extra: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """Write the experiment's tables (``NAME.parquet`` each) and the completed manifest
        (identity, `extra`, and each table's rows and sha256 under ``outputs``); delete the
        folder this one replaced. Returns the manifest."""
        files = {f"{name}.parquet": frame for name, frame in tables.items()}
        with StagedOutput(self.out, overwrite=True, units=list(files), manifest=MANIFEST) as st:
            for rel, frame in files.items():
                frame.write_parquet(st.path / rel, compression="zstd", statistics=True)
            manifest = {**self._manifest(complete=True), **_plain(dict(extra or {}))}
            written = st.commit(manifest, {rel: frame.height for rel, frame in files.items()})
        if self._replaced is not None:
            shutil.rmtree(self.out.parent / self._replaced, ignore_errors=True)
            self._replaced = None
        return written


def run_resumable(
    runs: Sequence[str],
    compute: Callable[[list[int]], Iterable[tuple[int, Record]]],
    *,
    store: ExperimentStore | None = None,
    progress: Callable[[int, int], Any] | None = None,
) -> tuple[list[Record], int]:
    """Every run's record, in the order of `runs`, computing only those not yet finished.

    Parameters
    ----------
    runs : sequence of str
        The runs' names (unique; used for their files).
    compute : callable
        ``compute(indices)`` computes the runs at those indices into `runs` and yields
        ``(index, record)`` for each, in any order.
    store : ExperimentStore, optional
        Where finished runs are read from and each new one is saved as it comes.
    progress : callable, optional
        ``progress(done, total)``: once at the start (counting the runs already finished) and
        after each run.

    Returns
    -------
    (records, executed)
        The records, and how many runs were computed by this call.
    """
    total = len(runs)
    records: list[Record | None] = [None] * total
    todo = []
    for i, run in enumerate(runs):
        if store is not None and run in store.finished:
            records[i] = store.load(run)
        else:
            todo.append(i)
    done = total - len(todo)
    if progress is not None:
        progress(done, total)
    executed = 0
    if todo:
        results = compute(todo)
        try:
            for i, record in results:
                if store is not None:
                    store.save(runs[i], record)
                records[i] = record
                executed += 1
                if progress is not None:
                    progress(done + executed, total)
        finally:
            close = getattr(results, "close", None)
            if close is not None:  # a generator: stop its workers now, not when collected
                close()
    missing = [runs[i] for i, r in enumerate(records) if r is None]
    if missing:
        msg = f"runs {', '.join(missing[:3])} were not computed."
        raise RuntimeError(msg)
    return [r for r in records if r is not None], executed


def stack(frames: Sequence[pl.DataFrame], keys: Mapping[str, pl.Series]) -> pl.DataFrame:
    """The runs' frames one under the other, each prefixed by its row of `keys`.

    ``keys[column][i]`` is the value of `column` for every row of ``frames[i]`` (say, a run's
    arm and replicate). A column whose type differs between runs (an Enum whose categories
    differ, say) is stacked as text.
    """
    names = list(keys)
    parts = []
    for i, frame in enumerate(frames):
        heads = [
            pl.repeat(keys[c][i], frame.height, dtype=keys[c].dtype, eager=True) for c in names
        ]
        parts.append(frame.with_columns(h.alias(c) for h, c in zip(heads, names, strict=True)))
    if not parts:
        return pl.DataFrame({c: keys[c].clear() for c in names})
    types: dict[str, set[pl.DataType]] = {}
    for part in parts:
        for column, dtype in part.schema.items():
            types.setdefault(column, set()).add(dtype)
    mixed = [c for c, ts in types.items() if len(ts) > 1]
    if mixed:
        parts = [
            p.with_columns(pl.col(c).cast(pl.String) for c in mixed if c in p.columns)
            for p in parts
        ]
    rest = [c for c in parts[0].columns if c not in names]
    return pl.concat(parts, how="diagonal").select(*names, *rest)
