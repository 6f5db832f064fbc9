"""One execution layer for every parallel path: this process, local processes, or Dask.

Shards of a log, replicates, sweep points and rare-event batches are all *tasks*: a picklable
top-level function applied to a tuple of arguments that carries its own seed, so a task's result
does not depend on where or when it runs. `open_backend` chooses where they run:

* ``processes=1``: in this process, one after another (the default; easiest to debug);
* ``processes=N`` (0: every core): N local worker processes (`concurrent.futures`, ``spawn``);
* ``workers=N``: a local Dask cluster of N single-threaded worker processes, started here;
* ``scheduler="tcp://host:8786"``: a running Dask cluster (`dask scheduler` and `dask worker`).

Dask (`distributed`) is the engine for more than one machine: synthworld does not grow a cluster
of its own. It is an optional extra (``pip install 'synthworld[dask]'``); without it the local
backends work and asking for Dask says how to install it. With Dask, a task whose worker dies is
run again on another worker (the scheduler's own recovery), so tasks must be idempotent: they
write their outputs atomically (`populations.output.StagedOutput`) under names that depend only
on the task.

`Backend.run` yields ``(index, result)`` pairs as tasks finish, in any order; callers put them
back in task order, so outputs are the same bytes whichever backend and however many workers.

Examples
--------
>>> with open_backend(processes=1) as backend:
...     sorted(backend.run(pow, [(2, 3), (3, 2)]))
[(0, 8), (1, 9)]
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from populations.errors import ConfigError

__all__ = ["Backend", "Execution", "all_cores", "open_backend"]

DASK_HINT = "Hint: install the extra with `pip install 'synthworld[dask]'`."


def all_cores() -> int:
    """The number of CPU cores this process may use."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


class Backend(AbstractContextManager):
    """Where tasks run. Use `open_backend`; close it (or leave its ``with`` block) when done."""

    kind = "serial"
    workers = 1
    dashboard: str | None = None

    def run(
        self, fn: Callable[..., Any], tasks: Sequence[tuple[Any, ...]]
    ) -> Iterator[tuple[int, Any]]:
        """Apply `fn` to each task's arguments; yield ``(index, result)`` as each finishes."""
        for i, args in enumerate(tasks):
            yield i, fn(*args)

    def describe(self) -> str:
        return "this process"

    def close(self) -> None:
        """Release the workers (idempotent)."""

    def __exit__(self, *exc: object) -> None:
        self.close()


class _LocalProcesses(Backend):
    kind = "processes"

    def __init__(self, workers: int) -> None:
        self.workers = workers
        context = multiprocessing.get_context("spawn")  # numpy/polars threads do not fork well
        self._pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)

    def run(
        self, fn: Callable[..., Any], tasks: Sequence[tuple[Any, ...]]
    ) -> Iterator[tuple[int, Any]]:
        futures = {self._pool.submit(fn, *args): i for i, args in enumerate(tasks)}
        pending = set(futures)
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in sorted(done, key=futures.__getitem__):
                    yield futures[future], future.result()
        except BrokenProcessPool as exc:
            msg = (
                f"a worker process died ({exc}). Hint: run with one process (--processes 1) "
                "to see its error; a script that starts workers needs "
                "`if __name__ == '__main__':`."
            )
            raise ConfigError(msg) from exc
        finally:
            for future in pending:
                future.cancel()

    def describe(self) -> str:
        return f"{self.workers} local process{'es' if self.workers > 1 else ''}"

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class _Dask(Backend):
    kind = "dask"

    def __init__(self, *, scheduler: str | None, workers: int | None) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            msg = (
                "Dask distributed is not installed, so a Dask cluster cannot be used. " + DASK_HINT
            )
            raise ConfigError(msg) from None
        self._cluster = None
        if scheduler is not None:
            try:
                self._client = Client(scheduler, timeout="10s")
            except (OSError, TimeoutError) as exc:
                msg = (
                    f"cannot reach the Dask scheduler at `{scheduler}`: {exc}. Hint: start one "
                    "with `dask scheduler` and workers with `dask worker ADDRESS`, and give "
                    "its address as tcp://HOST:PORT."
                )
                raise ConfigError(msg) from None
        else:
            self._cluster = LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=":0",
                silence_logs=logging.ERROR,
            )
            self._client = Client(self._cluster)
        info = self._client.scheduler_info()
        self.workers = max(len(info.get("workers", {})), 1)
        self.address = info.get("address", scheduler)
        self.dashboard = self._client.dashboard_link

    def run(
        self, fn: Callable[..., Any], tasks: Sequence[tuple[Any, ...]]
    ) -> Iterator[tuple[int, Any]]:
        from distributed import as_completed

        token = uuid.uuid4().hex[:12]
        name = getattr(fn, "__name__", "task").strip("_")
        futures = [
            self._client.submit(fn, *args, key=f"{name}-{token}-{i}", pure=False, retries=2)
            for i, args in enumerate(tasks)
        ]
        index = {f.key: i for i, f in enumerate(futures)}
        try:
            for future in as_completed(futures):
                yield index[future.key], future.result()
        finally:
            for future in futures:
                if not future.done():
                    future.cancel()

    def describe(self) -> str:
        where = "a local Dask cluster" if self._cluster is not None else "the Dask cluster"
        return f"{where} at {self.address} ({self.workers} workers; dashboard {self.dashboard})"

    def close(self) -> None:
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None


def open_backend(
    *, processes: int = 1, scheduler: str | None = None, workers: int | None = None, tasks: int = 0
) -> Backend:
    """The backend the options ask for (see the module docstring).

    `tasks` (when known) caps the number of local processes: no more workers than tasks.
    `scheduler` and `workers` choose Dask and exclude each other.
    """
    if scheduler is not None and workers is not None:
        msg = (
            "--scheduler and --workers exclude each other: --scheduler uses a running Dask "
            "cluster, --workers starts a local one."
        )
        raise ConfigError(msg)
    if scheduler is not None:
        if not isinstance(scheduler, str) or "://" not in scheduler:
            msg = (
                f"--scheduler `{scheduler}` is not an address. Hint: tcp://HOST:PORT, e.g. "
                "tcp://127.0.0.1:8786."
            )
            raise ConfigError(msg)
        return _Dask(scheduler=scheduler, workers=None)
    if workers is not None:
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            msg = f"--workers must be a whole number >= 1, got {workers!r}."
            raise ConfigError(msg)
        return _Dask(scheduler=None, workers=workers)
    if isinstance(processes, bool) or not isinstance(processes, int) or processes < 0:
        msg = f"--processes must be 0 (every core) or more, got {processes!r}."
        raise ConfigError(msg)
    count = all_cores() if processes == 0 else processes
    if tasks:
        count = min(count, tasks)
    return Backend() if count <= 1 else _LocalProcesses(count)


@dataclass(frozen=True)
class Execution:
    """Where tasks are to run, as plain data (what ``--processes``, ``--scheduler`` and
    ``--workers`` say); `open` makes the backend.

    >>> Execution(processes=2).open(tasks=1).describe()  # never more workers than tasks
    'this process'
    """

    processes: int = 1
    scheduler: str | None = None
    workers: int | None = None
    on_open: Callable[[Backend], Any] | None = field(default=None, compare=False, repr=False)
    """Called with each backend opened (a command line shows where the work runs)."""

    def open(self, *, tasks: int = 0) -> Backend:
        backend = open_backend(
            processes=self.processes, scheduler=self.scheduler, workers=self.workers, tasks=tasks
        )
        if self.on_open is not None:
            self.on_open(backend)
        return backend
