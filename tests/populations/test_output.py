"""Writing outputs: same seed same bytes, all-or-nothing folders, refusing existing results."""

import json

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from populations.errors import OutputExistsError
from populations.fitter import IPF
from populations.marginals import Marginal
from populations.output import check_destination, write_folder, write_frame

AGES = Marginal.from_frame(
    pl.DataFrame({"zone": ["a", "a", "b", "b"], "age": ["y", "o"] * 2, "count": [30, 12, 7, 21]}),
    name="age",
)
SEXES = Marginal.from_frame(
    pl.DataFrame({"zone": ["a", "a", "b", "b"], "sex": ["f", "m"] * 2, "count": [20, 22, 14, 14]}),
    name="sex",
)
FIT = IPF().fit([AGES, SEXES])


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seed=st.integers(0, 2**63 - 1),
    method=st.sampled_from(["exact", "trs"]),
    fmt=st.sampled_from(["parquet", "csv"]),
)
def test_property_same_seed_same_bytes(tmp_path, seed, method, fmt):
    paths = []
    for k in range(2):
        frame = FIT.sample(method=method, rng=np.random.default_rng(seed))
        paths.append(write_frame(frame, tmp_path / f"persons{k}-{seed}", fmt))
    assert paths[0].read_bytes() == paths[1].read_bytes()


def test_different_seeds_differ():
    a = FIT.sample(method="trs", rng=np.random.default_rng(1))
    assert a.equals(FIT.sample(method="trs", rng=np.random.default_rng(1)))
    others = [FIT.sample(method="trs", rng=np.random.default_rng(s)) for s in range(2, 8)]
    assert any(not a.equals(o) for o in others)


def test_write_folder_is_all_or_nothing(tmp_path):
    out = tmp_path / "out"

    def fails(folder):
        (folder / "persons.csv").write_text("half", encoding="utf-8")
        msg = "disk full"
        raise RuntimeError(msg)

    with pytest.raises(RuntimeError, match="disk full"):
        write_folder(out, fails, overwrite=False, manifest={})
    assert list(tmp_path.iterdir()) == []  # neither the folder nor a partial one is left


def test_write_folder_manifest_and_overwrite(tmp_path):
    out = tmp_path / "out"

    def fill(folder):
        write_frame(pl.DataFrame({"x": [1, 2, 3]}), folder / "t", "parquet")
        return {"t.parquet": 3}

    manifest = write_folder(out, fill, overwrite=False, manifest={"seed": 1})
    assert manifest["outputs"]["t.parquet"]["rows"] == 3
    assert json.loads((out / "manifest.json").read_text())["seed"] == 1
    with pytest.raises(OutputExistsError, match="already holds results.*--overwrite"):
        write_folder(out, fill, overwrite=False, manifest={})
    write_folder(out, fill, overwrite=True, manifest={"seed": 2})
    assert json.loads((out / "manifest.json").read_text())["seed"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_destination_under_a_file(tmp_path):
    (tmp_path / "afile").write_text("x", encoding="utf-8")
    with pytest.raises(OutputExistsError, match="`.*afile` is a file"):
        check_destination(tmp_path / "afile" / "pop", overwrite=False)
    with pytest.raises(OutputExistsError, match="is not a folder"):
        check_destination(tmp_path / "afile", overwrite=True)


def test_unknown_format(tmp_path):
    from populations.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown format `xlsx`"):
        write_frame(pl.DataFrame({"x": [1]}), tmp_path / "t", "xlsx")
