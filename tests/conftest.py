"""Shared fixtures: the demo city's files, a writable copy of them, and an in-process CLI runner."""

from __future__ import annotations

import contextlib
import io
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEMO_DIR = ROOT / "populations" / "demo"


@dataclass
class CliResult:
    code: int
    out: str
    err: str


def invoke(args: list[str], *, columns: int | None = 80) -> CliResult:
    """Run ``synthworld.cli.main(args)`` in-process, capturing stdout and stderr.

    For module-scoped fixtures, where `capsys` is not available. `columns` pins the width rich
    renders at (rich reads ``COLUMNS`` at print time), so output does not depend on the terminal
    the tests happen to run in.
    """
    from synthworld.cli import main

    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as mp:
        if columns is not None:
            mp.setenv("COLUMNS", str(columns))
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(args)
    return CliResult(code, out.getvalue(), err.getvalue())


@pytest.fixture(scope="session")
def invoke_cli():
    """`invoke` as a fixture, for module-scoped fixtures that run the command."""
    return invoke


@pytest.fixture
def city(tmp_path: Path) -> Path:
    """A writable copy of the demo city (demo.toml and data/) in ``tmp_path / "city"``."""
    dest = tmp_path / "city"
    dest.mkdir()
    shutil.copy2(DEMO_DIR / "demo.toml", dest / "demo.toml")
    shutil.copytree(DEMO_DIR / "data", dest / "data")
    return dest


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):
    """``cli(*args)``: run the command in-process, return its exit code, stdout and stderr."""
    from synthworld.cli import main

    monkeypatch.setenv("COLUMNS", "80")

    def run(*args: str) -> CliResult:
        capsys.readouterr()  # drop anything printed before
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


@pytest.fixture(scope="session")
def demo_population():
    """The demo city fitted once and sampled once: ``(PopulationSynthesizer, Population)``."""
    import numpy as np

    from populations.demo import load_demo
    from populations.synthesis import PopulationSynthesizer

    inputs = load_demo()
    synth = PopulationSynthesizer.from_config(inputs.config).fit(inputs)
    return synth, synth.sample(rng=np.random.default_rng(0))
