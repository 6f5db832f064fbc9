"""The scenario registry finds scenarios through real entry points (a dist-info on sys.path)."""

from __future__ import annotations

import sys
import textwrap

import pytest

from abm.registry import Scenario, available_scenarios, load_scenario
from populations.errors import ConfigError


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    """A user's scenario package, installed the way pip would: a module and its dist-info."""
    (tmp_path / "my_scenario.py").write_text(
        textwrap.dedent(
            """
            from dataclasses import dataclass
            from abm.params import param
            from abm.registry import Scenario

            @dataclass(frozen=True)
            class Params:
                rate: float = param(0.1, low=0, help="a rate")

            def build(params, *, seed):
                return params, seed

            SCENARIO = Scenario("toy", "a toy scenario", Params, build)
            NOT_A_SCENARIO = 42
            """
        ),
        encoding="utf-8",
    )
    info = tmp_path / "my_scenario-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: my-scenario\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[synthworld.scenarios]\ntoy = my_scenario:SCENARIO\nbroken = my_scenario:NOT_A_SCENARIO\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    sys.modules.pop("my_scenario", None)


def test_a_plugin_is_found_and_loaded(plugin):
    assert {"toy", "broken"} <= set(available_scenarios())
    scenario = load_scenario("toy")
    assert isinstance(scenario, Scenario)
    assert scenario.build(scenario.parameters(), seed=3) == (scenario.parameters(), 3)


def test_unknown_and_broken_entries(plugin):
    with pytest.raises(ConfigError, match="unknown scenario `tooy`. Hint: did you mean `toy`?"):
        load_scenario("tooy")
    with pytest.raises(ConfigError, match="`broken` .* is a int, not a Scenario"):
        load_scenario("broken")
