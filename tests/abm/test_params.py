"""Scenario parameters from TOML and --set: types, ranges, choices, nested tables, messages."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from abm.params import describe_params, param, params_to_dict, read_params
from populations.errors import ConfigError


@dataclass(frozen=True)
class Vaccination:
    coverage: float = param(0.5, low=0, high=1, help="share of people vaccinated")
    priority: str = param("oldest", choices=("oldest", "random"), help="who goes first")


@dataclass(frozen=True)
class Params:
    beta: float = param(0.05, low=0, high=1, unit="per contact-day", help="transmission")
    days: int = param(100, low=1, help="days to simulate")
    closed: bool = param(False, help="schools closed")
    layers: list[str] = param(["household", "school"], help="contact layers")
    vaccination: Vaccination = param(Vaccination(), help="campaign")


def test_defaults_and_fresh_mutables():
    a, b = read_params(Params), read_params(Params)
    assert a == Params() and a.vaccination.coverage == 0.5
    assert a.layers is not b.layers


def test_toml_then_overrides(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text("beta = 0.2\ndays = 10\n[vaccination]\ncoverage = 0.8\n", encoding="utf-8")
    p = read_params(
        Params, toml=path, overrides=["days=20", "vaccination.priority=random", "closed=true"]
    )
    assert (p.beta, p.days, p.closed) == (0.2, 20, True)
    assert p.vaccination == Vaccination(coverage=0.8, priority="random")
    assert params_to_dict(p)["vaccination"]["coverage"] == 0.8


def test_int_accepted_for_float_and_lists_checked():
    assert read_params(Params, overrides=["beta=1"]).beta == 1.0
    assert read_params(Params, overrides=['layers=["work"]']).layers == ["work"]
    with pytest.raises(ConfigError, match=r"`layers\[0\]` expects text, found 3"):
        read_params(Params, overrides=["layers=[3]"])


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("bta=0.1", "unknown parameter `bta`. Hint: did you mean `beta`?"),
        (
            "vaccination.coverag=0.1",
            "unknown parameter `vaccination.coverag`. Hint: did you mean `vaccination.coverage`?",
        ),
        ("beta=2", "parameter `beta` = 2.0 is out of range: expected a value in [0, 1]"),
        ("days=0", "parameter `days` = 0 is out of range: expected a value in [1, inf]"),
        ("days=1.5", "parameter `days` expects a whole number, found 1.5"),
        ("beta=high", "parameter `beta` expects a number, found 'high'"),
        ("closed=1", "parameter `closed` expects true or false, found 1"),
        (
            "vaccination.priority=youngest",
            "`vaccination.priority` = 'youngest' is not allowed: expected one of `oldest`, "
            "`random`",
        ),
        ("vaccination=3", "parameter `vaccination` is a table of parameters, found 3"),
        ("beta", "`--set beta`: expected key=value"),
    ],
)
def test_bad_values_are_named(override, message):
    with pytest.raises(ConfigError) as err:
        read_params(Params, overrides=[override])
    assert message in str(err.value)


def test_bad_files(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        read_params(Params, toml=tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("beta = = 1", encoding="utf-8")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        read_params(Params, toml=bad)


def test_describe_lists_every_leaf():
    rows = {r["name"]: r for r in describe_params(Params)}
    assert set(rows) == {
        "beta",
        "days",
        "closed",
        "layers",
        "vaccination.coverage",
        "vaccination.priority",
    }
    assert rows["beta"]["unit"] == "per contact-day"
    assert rows["vaccination.priority"]["allowed"] == "oldest, random"
