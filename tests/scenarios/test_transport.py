"""The transport scenario: trips are conserved, the learning settles, the events are MATSim's,
policies move the city the expected way, and runs repeat exactly. A 10% sample of the demo city
keeps it fast."""

from __future__ import annotations

import collections
import functools
import json
from pathlib import Path

import matsim
import numpy as np
import polars as pl
import pytest

from abm.events import read_events
from abm.params import read_params
from populations.errors import ConfigError
from scenarios.transport import SCENARIO, TransportModel, TransportParams
from scenarios.transport.daylog import EVENT_TYPES
from scenarios.transport.matsim import export_matsim
from scenarios.transport.model import _demo_population

ROOT = Path(__file__).resolve().parents[2]
SMALL = ["sample=0.1", "assignment.days=15"]


@functools.cache
def population() -> tuple[pl.DataFrame, pl.DataFrame]:
    """One sample of the demo city (persons, households), drawn once: sampling the city takes
    longer than a run of a tenth of it."""
    pop = _demo_population(np.random.default_rng(0))
    return pop.persons, pop.households


def run_model(out: Path | None = None, *, toml=None, extra=(), seed: int = 7) -> TransportModel:
    params = read_params(TransportParams, toml=toml, overrides=[*SMALL, *extra])
    persons, households = population()
    model = TransportModel(params, seed=seed, out=out, persons=persons, households=households)
    with model:
        model.run(params.assignment.days)
    return model


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("transport") / "base"
    model = run_model(out)
    return {
        "out": out,
        "model": model,
        "events": read_events(out),
        "trips": pl.read_parquet(out / "trips.parquet"),
        "kpis": pl.read_parquet(out / "kpis.parquet"),
    }


def city_kpis(kpis: pl.DataFrame) -> dict[str, float]:
    last = kpis.filter(
        pl.col("step") == pl.col("step").max(),
        pl.col("mode").is_null(),
        pl.col("zone").is_null(),
        pl.col("hour").is_null(),
    )
    return dict(last.select("name", "value").iter_rows())


# ------------------------------------------------------------------------ conservation


def test_every_trip_departs_once_and_arrives_once(base: dict) -> None:
    ev, trips = base["events"], base["trips"]
    per_person = trips.group_by("person").len().rename({"len": "trips"})
    for kind in ("departure", "arrival", "actend", "actstart"):
        counted = ev.filter(pl.col("type") == kind).group_by("person").len()
        joined = per_person.join(counted, on="person", how="full", coalesce=True)
        assert (joined["trips"] == joined["len"]).all(), kind
    cars = trips.filter(pl.col("mode") == "car").height
    for kind in ("vehicle enters traffic", "vehicle leaves traffic"):
        assert ev.filter(pl.col("type") == kind).height == cars
    enters = ev.filter(pl.col("type") == "PersonEntersVehicle").group_by("person").len()
    leaves = ev.filter(pl.col("type") == "PersonLeavesVehicle").group_by("person").len()
    assert enters.sort("person").equals(leaves.sort("person"))
    assert ev["time"].is_sorted()
    assert set(ev["type"].unique().to_list()) == set(EVENT_TYPES)


def test_link_entries_equal_exits_and_routes_are_connected(base: dict) -> None:
    ev, net = base["events"], base["model"].network
    into = ev.filter(pl.col("type").is_in(["entered link", "vehicle enters traffic"]))
    out_of = ev.filter(pl.col("type").is_in(["left link", "vehicle leaves traffic"]))
    a = into.group_by("link").len().sort("link")
    b = out_of.group_by("link").len().sort("link")
    assert a.equals(b)
    # Each vehicle's link events chain head to tail: left link L, then entered a link from
    # L's head; a leg ends on the link it last entered.
    moves = ev.filter(pl.col("vehicle").is_not_null(), pl.col("link").is_not_null())
    for _vehicle, group in list(moves.group_by("vehicle"))[:300]:
        kinds, links = group["type"].to_list(), group["link"].to_list()
        for k in range(1, len(kinds)):
            if kinds[k] == "entered link":
                assert kinds[k - 1] == "left link"
                assert net.tail[links[k]] == net.head[links[k - 1]]
            if kinds[k] == "vehicle leaves traffic":
                assert kinds[k - 1] in ("entered link", "vehicle enters traffic")
                assert links[k] == links[k - 1]


def test_trips_table_matches_the_legs(base: dict) -> None:
    trips = base["trips"]
    assert (trips["arrive_s"] >= trips["depart_s"]).all()
    # A person's next trip leaves after the previous one arrived.
    nxt = trips.sort("person", "leg").with_columns(
        prev_arrive=pl.col("arrive_s").shift(1).over("person")
    )
    later = nxt.filter(pl.col("prev_arrive").is_not_null())
    assert (later["depart_s"] >= later["prev_arrive"]).all()
    # Chains start and end at home.
    first = trips.filter(pl.col("leg") == 0)
    assert (first["from_act"] == "home").all()
    last = trips.sort("leg").group_by("person").last()
    assert (last["to_act"] == "home").all()
    car = trips.filter(pl.col("mode") == "car", pl.col("origin") != pl.col("dest"))
    assert (car["links"] > 0).all() and (car["distance_km"] > 0).all()


# ------------------------------------------------------------------------ learning


def test_the_relative_gap_falls_and_meets_the_tolerance(base: dict) -> None:
    model = base["model"]
    tol = model.params.assignment.tolerance
    gaps = np.array(model.gaps)
    assert not model.running and len(gaps) < model.params.assignment.days  # stopped early
    assert gaps[-1] < tol < gaps[0]
    assert gaps[-1] < gaps[0] / 5
    # by and large it falls: each day's gap is below the first days' highest
    assert (gaps[3:] < gaps[:3].max()).all()
    kpis = base["kpis"].filter(pl.col("name") == "relative_gap")
    assert kpis["value"].to_list() == pytest.approx(list(gaps))


def test_kpis_by_zone_mode_and_hour_add_up(base: dict) -> None:
    kpis = base["kpis"]
    last = kpis.filter(pl.col("step") == pl.col("step").max())
    city = city_kpis(kpis)
    trips = last.filter(pl.col("name") == "trips")
    by_zone = trips.filter(pl.col("zone").is_not_null())["value"].sum()
    by_mode = trips.filter(pl.col("zone").is_null(), pl.col("mode").is_not_null())["value"].sum()
    assert by_zone == pytest.approx(city["trips"]) and by_mode == pytest.approx(city["trips"])
    vkm = last.filter(pl.col("name") == "vehicle_km", pl.col("hour").is_not_null())
    assert vkm["value"].sum() == pytest.approx(city["vehicle_km"])
    shares = [city[f"share_{m}"] for m in ("car", "transit", "bike", "walk")]
    assert sum(shares) == pytest.approx(1.0)
    assert 0.2 < city["share_car"] < 0.6 and city["delay_hours"] > 0
    assert city["co2_kg"] == pytest.approx(
        last.filter(pl.col("name") == "co2_kg", pl.col("mode").is_not_null())["value"].sum()
    )


def test_hourly_link_volumes_follow_the_morning_peak(base: dict) -> None:
    volumes = pl.read_parquet(base["out"] / "link_volumes.parquet")
    by_hour = volumes.group_by("hour").agg(pl.col("volume_vph").sum()).sort("hour")
    night = by_hour.filter(pl.col("hour") < 4)["volume_vph"].sum()
    assert night == 0.0
    peak = by_hour.filter(pl.col("hour").is_between(6, 9))["volume_vph"].max()
    assert peak > 2 * by_hour.filter(pl.col("hour") == 11)["volume_vph"].item()
    congested = volumes.filter(pl.col("volume_capacity") > 1)
    assert congested.height > 0 and (congested["speed_kmh"] < 45).all()


# ------------------------------------------------------------------------ MATSim


def test_events_xml_parses_with_matsim_tools(base: dict) -> None:
    out = base["out"]
    files = export_matsim(out)
    assert set(files) == {"output_events.xml.gz", "output_network.xml.gz"}
    counts = collections.Counter()
    first = None
    for event in matsim.event_reader(str(out / "output_events.xml.gz")):
        counts[event["type"]] += 1
        first = first or event
    native = base["events"].group_by("type").len()
    assert dict(counts) == {str(t): n for t, n in native.iter_rows()}
    assert first is not None and first["type"] == "actend" and "actType" in first
    assert set(first) >= {"time", "type", "person", "link", "actType"}
    network = matsim.read_network(str(out / "output_network.xml.gz"))
    assert len(network.links) == base["model"].network.n_links
    assert len(network.nodes) == base["model"].network.n_nodes
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["exports"]["output_events.xml.gz"]["rows"] == base["events"].height


# ------------------------------------------------------------------------ policies


def test_the_cordon_toll_example_moves_modes_and_delay_the_expected_way(base: dict) -> None:
    toll = run_model(toml=ROOT / "examples" / "cordon-toll.toml")
    before, after = city_kpis(base["kpis"]), dict(toll.kpi_last)
    assert before["toll_revenue"] == 0 and after["toll_revenue"] > 0
    assert after["share_car"] < before["share_car"]
    assert after["share_transit"] + after["share_bike"] + after["share_walk"] > (
        before["share_transit"] + before["share_bike"] + before["share_walk"]
    )
    assert after["delay_hours"] < before["delay_hours"]
    assert after["vehicle_km"] < before["vehicle_km"]
    # Same persons, same tastes (keyed draws): the changes are the toll's. Many more leave
    # the car than take it up (a few do: the roads are emptier).
    b_mode, t_mode = base["model"].travellers["mode"], toll.travellers["mode"]
    left = int(((b_mode == 0) & (t_mode != 0)).sum())
    took = int(((b_mode != 0) & (t_mode == 0)).sum())
    assert left > 5 * took


@pytest.fixture(scope="module")
def three_days() -> TransportModel:
    """Three days of the city without any policy, learning to the end."""
    return run_model(extra=["assignment.days=3", "assignment.tolerance=0"])


def test_closing_a_bridge_moves_traffic_and_restarts_the_learning(
    three_days: TransportModel,
) -> None:
    extra = ["closure.links=['bridge 1']", "closure.start_day=2", "assignment.tolerance=0"]
    model = run_model(extra=[*extra, "assignment.days=4"])
    net = model.network
    bridge = net.find_links(["bridge 1"])
    other = net.find_links(["bridge 2"])
    assert model.flow[bridge].sum() == 0.0
    volumes = model.link_volumes()
    assert volumes.filter(pl.col("link").is_in(bridge.tolist()))["volume_vph"].sum() == 0
    assert model.learning_day == 2  # averaging restarted on day 2
    assert model.gaps[2] > model.gaps[1]  # the city was shaken
    assert model.flow[other].sum() > three_days.flow[other].sum()


@pytest.mark.parametrize(
    ("setting", "kpi", "direction"),
    [
        ("remote_work.share=0.5", "trips", -1),
        ("transit.frequency_factor=3", "share_transit", +1),
        ("distance_toll.price=0.3", "vehicle_km", -1),
        ("speed_limit.kmh=20", "vehicle_hours", +1),
    ],
)
def test_policies_move_their_kpi(
    three_days: TransportModel, setting: str, kpi: str, direction: int
) -> None:
    model = run_model(extra=[setting, "assignment.days=3", "assignment.tolerance=0"])
    assert np.sign(model.kpi_last[kpi] - three_days.kpi_last[kpi]) == direction


# ------------------------------------------------------------------------ runs and errors


def test_the_same_seed_gives_identical_files(tmp_path: Path, base: dict) -> None:
    run_model(tmp_path / "again")
    a = json.loads((base["out"] / "manifest.json").read_text())["outputs"]
    b = json.loads((tmp_path / "again" / "manifest.json").read_text())["outputs"]
    for name in ("events.parquet", "trips.parquet", "kpis.parquet", "link_volumes.parquet"):
        assert a[name]["sha256"] == b[name]["sha256"], name


def test_scenario_builds_shards_and_cli_runs(tmp_path: Path, cli) -> None:
    params = read_params(TransportParams, overrides=[*SMALL, "assignment.days=2"])
    model = SCENARIO.build(params, seed=3, out=tmp_path / "sharded", shard=2)
    with model:
        model.run(2)
    assert (tmp_path / "sharded/trips/shard=00002/part-00000.parquet").is_file()
    export_matsim(tmp_path / "sharded")
    assert (tmp_path / "sharded/matsim/shard=00002/output_events.xml.gz").is_file()
    result = cli(
        "run", "transport", "--steps", "2", "--set", "sample=0.05", "--out", tmp_path / "cli"
    )
    assert result.code == 0, result.err
    assert "share_car" in result.out and "trips.parquet" in result.out


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["cordon_toll.districts=['D9']"], "unknown district `D9`"),
        (["closure.links=['bridge 7']"], "no link is named `bridge 7`. Hint: did you mean"),
        (["speed_limit.kmh=30", "speed_limit.kinds=['locl']"], "unknown kind `locl`"),
        (["cordon_toll.start_hour=20"], "`cordon_toll.end_hour` = 19.0 is before"),
    ],
)
def test_bad_parameters_name_the_key(overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        run_model(extra=overrides)


def test_bad_population_or_network_is_refused() -> None:
    persons = pl.DataFrame({"person_id": [1], "zone": ["A"], "age": [30]})
    with pytest.raises(ConfigError, match="`persons` has no column `household_id`, `employment`"):
        TransportModel(seed=1, persons=persons)
    import networkx as nx

    g = nx.DiGraph()
    g.add_node("a", zone="A")
    g.add_edge("a", "b", length=10.0, capacity=100.0, speed=30.0)
    persons = pl.DataFrame(
        {
            "person_id": [1, 2],
            "household_id": [1, 1],
            "zone": ["A", "B"],
            "age": [30, 40],
            "employment": ["employed", "retired"],
        }
    )
    with pytest.raises(ConfigError, match="lives in zone `B`, which the road network does not"):
        TransportModel(seed=1, persons=persons, network=g)
