"""Every bad input to `synthworld populate` is refused with exit code 2 and one line naming what is
wrong (file, row, column, marginals, totals, closest name), with no traceback and no output folder
(not even a hidden partial one). Each test edits a temporary copy of the demo city (`city`)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from populations.convergence import Status
from populations.errors import SeedSampleError
from populations.fitter import IPF
from populations.marginals import Marginal


def read(city: Path, name: str) -> pl.DataFrame:
    """A CSV of the city as text columns (so writing it back changes nothing else)."""
    return pl.read_csv(city / "data" / name, infer_schema=False)


def write(city: Path, name: str, frame: pl.DataFrame) -> None:
    frame.write_csv(city / "data" / name)


def set_cell(frame: pl.DataFrame, row: int, column: str, value: str | None) -> pl.DataFrame:
    """`frame` with the value at 0-based `row` of `column` replaced."""
    new = pl.when(pl.int_range(pl.len()) == row).then(pl.lit(value, dtype=pl.String))
    return frame.with_columns(new.otherwise(pl.col(column)).alias(column))


def populate(cli, city: Path, *extra: str):
    return cli("populate", city / "demo.toml", "--out", city.parent / "pop", *extra)


def assert_refused(result, city: Path, *parts: str) -> str:
    """Exit code 2, one line with every part, no traceback, nothing written beside the city."""
    err = result.err
    assert result.code == 2, err
    assert err.startswith("error: "), err
    assert err.strip().count("\n") == 0, err
    assert "Traceback" not in err
    for part in parts:
        assert part in err, f"{part!r} not in {err!r}"
    assert result.out == ""
    # Neither the output folder nor a hidden `.pop.partial-*` one.
    assert [p.name for p in city.parent.iterdir()] == ["city"]
    return err


# -- marginals ---------------------------------------------------------------------------------


def break_employment_total(city: Path, zone: str, delta: int) -> tuple[int, int]:
    """Add `delta` students to `zone` in employment.csv; return the two totals of that zone."""
    emp = read(city, "employment.csv")
    row = emp.with_row_index().filter(
        (pl.col("zone") == zone) & (pl.col("employment") == "student")
    )["index"][0]
    emp = set_cell(emp, row, "count", str(int(emp["count"][row]) + delta))
    write(city, "employment.csv", emp)
    age_sex = read(city, "persons_age_sex.csv").filter(pl.col("zone") == zone)
    emp_total = emp.filter(pl.col("zone") == zone)["count"].cast(pl.Int64).sum()
    return age_sex["count"].cast(pl.Int64).sum(), emp_total


def test_totals_that_disagree_name_both_marginals_the_zone_and_both_totals(cli, city):
    age_sex_total, emp_total = break_employment_total(city, "Z05", 37)
    assert emp_total == age_sex_total + 37
    assert_refused(
        populate(cli, city),
        city,
        "`age_sex`",
        "`employment`",
        "zone `Z05`",
        f"total {age_sex_total} in `age_sex`",
        f" {emp_total} in `employment`",
        "--rescale",
    )


def test_totals_that_disagree_are_rescaled_on_request(cli, city):
    break_employment_total(city, "Z05", 37)
    result = populate(cli, city, "--rescale")
    assert result.code == 0, result.err
    out = city.parent / "pop"
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["parameters"]["rescale"] is True
    report = json.loads((out / "fit_report.json").read_text(encoding="utf-8"))
    assert report["fit"]["status"] == "converged"
    totals = {m["name"]: m["target_total"] for m in report["marginals"]}
    # employment was scaled to age_sex's totals, so the extra 37 students are gone.
    assert totals["employment"] == pytest.approx(totals["age_sex"], abs=1e-6)
    assert totals["age_sex"] == read(city, "persons_age_sex.csv")["count"].cast(pl.Int64).sum()


def test_negative_count_names_file_row_and_column(cli, city):
    write(city, "cars.csv", set_cell(read(city, "cars.csv"), 10, "count", "-5"))
    assert_refused(
        populate(cli, city), city, "cars.csv", "row 11, column `count`", "non-negative", "found -5"
    )


@pytest.mark.parametrize("value", [None, "NaN"], ids=["empty", "nan"])
def test_missing_count_names_file_row_and_column(cli, city, value):
    write(city, "cars.csv", set_cell(read(city, "cars.csv"), 7, "count", value))
    assert_refused(populate(cli, city), city, "cars.csv", "row 8, column `count`", "missing value")


def test_non_numeric_count_names_the_value(cli, city):
    frame = set_cell(read(city, "employment.csv"), 42, "count", "lots")
    write(city, "employment.csv", frame)
    assert_refused(
        populate(cli, city),
        city,
        "employment.csv",
        "row 43, column `count`",
        "expected a number",
        "`lots`",
    )


def test_zone_missing_from_one_marginal(cli, city):
    write(city, "cars.csv", read(city, "cars.csv").filter(pl.col("zone") != "Z07"))
    assert_refused(
        populate(cli, city), city, "zone `Z07`", "`age_sex`", "missing from marginal `cars`"
    )


def test_category_absent_from_the_seed_sample(cli, city):
    sizes = read(city, "households_size.csv").with_columns(pl.col("count").cast(pl.Int64))
    taken = (pl.col("zone") == "Z03") & (pl.col("hh_size") == "2")
    sizes = sizes.with_columns(pl.when(taken).then(pl.col("count") - 3).otherwise("count"))
    new = pl.DataFrame({"zone": ["Z03"], "hh_size": ["9+"], "count": [3]})
    sizes = pl.concat([sizes, new])
    # Totals still agree with cars.csv, so only the seed sample is at fault.
    cars = read(city, "cars.csv").with_columns(pl.col("count").cast(pl.Int64))
    assert (
        sizes.group_by("zone")
        .agg(pl.col("count").sum())
        .sort("zone")
        .equals(cars.group_by("zone").agg(pl.col("count").sum()).sort("zone"))
    )
    write(city, "households_size.csv", sizes)
    assert_refused(populate(cli, city), city, "`household_size`", "hh_size `9+`", "seed sample")


def test_unknown_column_suggests_the_closest_name(cli, city):
    write(city, "persons_age_sex.csv", read(city, "persons_age_sex.csv").rename({"sex": "sexx"}))
    assert_refused(
        populate(cli, city),
        city,
        "persons_age_sex.csv",
        "`sexx`",
        "Hint: did you mean `sex`?",
    )


def test_duplicated_row_names_the_row_and_combination(cli, city):
    cars = read(city, "cars.csv")
    write(city, "cars.csv", pl.concat([cars[:21], cars[20:21], cars[21:]]))
    zone, cars_label = cars["zone"][20], cars["cars"][20]
    assert_refused(
        populate(cli, city),
        city,
        "cars.csv",
        "row 22:",
        f"zone={zone}, cars={cars_label}",
        "listed twice",
    )


# -- seed sample -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["seed_persons.csv", "seed_households.csv"])
def test_seed_table_without_rows(cli, city, name):
    path = city / "data" / name
    path.write_text(path.read_text(encoding="utf-8").splitlines()[0] + "\n", encoding="utf-8")
    assert_refused(populate(cli, city), city, name, "seed sample has no rows")


def test_person_in_a_household_that_does_not_exist(cli, city):
    persons = read(city, "seed_persons.csv")
    assert "99999" not in read(city, "seed_households.csv")["household_id"].to_list()
    write(city, "seed_persons.csv", set_cell(persons, 10, "household_id", "99999"))
    assert_refused(
        populate(cli, city),
        city,
        "seed_persons.csv, row 11:",
        "household `99999`",
        "seed_households.csv",
    )


# -- configuration and files -------------------------------------------------------------------


def test_unknown_config_key_suggests_the_closest(cli, city):
    toml = city / "demo.toml"
    text = toml.read_text(encoding="utf-8")
    assert "\ntol = 1e-6\n" in text
    toml.write_text(text.replace("\ntol = 1e-6\n", "\ntolerance = 1e-6\n"), encoding="utf-8")
    assert_refused(
        populate(cli, city),
        city,
        "demo.toml",
        "fit",
        "unknown key `tolerance`",
        "Hint: did you mean `tol`?",
    )


def test_invalid_toml_names_the_line(cli, city):
    toml = city / "demo.toml"
    lines = toml.read_text(encoding="utf-8").splitlines()
    n = lines.index('level = "household"')
    lines[n] = 'level = "household'  # unterminated string
    toml.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert_refused(populate(cli, city), city, "demo.toml", "not valid TOML", f"line {n + 1}")


@pytest.mark.parametrize("name", ["data/cars.csv", "data/seed_households.csv", "demo.toml"])
def test_missing_file_is_named(cli, city, name):
    (city / name).unlink()
    assert_refused(populate(cli, city), city, f"{Path(name).name}`", "does not exist")


# -- the library, without the command line ------------------------------------------------------


def small_marginals() -> list[Marginal]:
    ages = pl.DataFrame(
        {"zone": ["a", "a", "b", "b"], "age": ["young", "old"] * 2, "count": [6, 2, 3, 5]}
    )
    sexes = pl.DataFrame(
        {"zone": ["a", "a", "b", "b"], "sex": ["f", "m"] * 2, "count": [4, 4, 5, 3]}
    )
    return [Marginal.from_frame(ages, name="age"), Marginal.from_frame(sexes, name="sex")]


SEED_WITHOUT_OLD = pl.DataFrame({"age": ["young", "young", "young"], "sex": ["f", "m", "f"]})


def test_ipf_refuses_a_category_the_seed_lacks():
    with pytest.raises(SeedSampleError) as info:
        IPF().fit(small_marginals(), seed=SEED_WITHOUT_OLD)
    message = str(info.value)
    assert "`age`" in message and "age `old`" in message
    assert "prior" in message


def test_ipf_with_a_prior_fills_the_missing_category():
    fit = IPF(prior=0.5, tol=1e-9).fit(small_marginals(), seed=SEED_WITHOUT_OLD)
    assert fit.status_ is Status.CONVERGED
    table = fit.to_frame().with_columns(pl.col("zone", "age", "sex").cast(pl.String))
    by_age = dict(
        table.group_by("zone", "age")
        .agg(pl.col("count").sum())
        .select(pl.concat_str("zone", "age", separator="/"), "count")
        .iter_rows()
    )
    assert by_age == pytest.approx({"a/young": 6, "a/old": 2, "b/young": 3, "b/old": 5})
    by_sex = table.group_by("zone", "sex").agg(pl.col("count").sum()).sort("zone", "sex")
    assert np.allclose(by_sex["count"].to_numpy(), [4, 4, 5, 3])
