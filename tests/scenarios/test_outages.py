"""The outages scenario: interruptions start and end, customer minutes add up, cascades respect
capacities, the reliability indices are IEEE 1366's, labels tell roots from cascades, crews
follow their jobs, policies act on common random numbers, runs repeat byte for byte, and
importance sampling agrees with crude Monte Carlo."""

from __future__ import annotations

import math
from pathlib import Path

import networkx as nx
import numpy as np
import polars as pl
import pytest

from abm.events import read_events
from abm.params import read_params
from abm.rare import crude_monte_carlo, importance_sampling
from populations.errors import ConfigError
from scenarios.outages import OutageModel, OutageParams
from scenarios.outages.cascade import cascade, overloaded
from scenarios.outages.flows import PowerFlow
from scenarios.outages.rare import long_outage_event
from scenarios.outages.reliability import (
    long_interruption_share,
    major_event_days,
    outage_records,
    outage_sizes,
    reliability_indices,
)
from scenarios.outages.world import build_world

STORMY = ["hours=240", "heat_waves.scheduled_days=[1]", "heat_waves.amplitude=12"]


@pytest.fixture(scope="module")
def world(demo_population):
    """A quarter of the demo city's households, with its own network (built once)."""
    _, population = demo_population
    persons = population.persons.filter(pl.col("household_id") % 4 == 0)
    p = OutageParams()
    return build_world(p.network, city_seed=0, diurnal_range=p.diurnal_range, persons=persons)


def _storm_run(world, out: Path | None, *, seed: int = 5, overrides=(), check=None) -> OutageModel:
    """240 hours: a heat wave from day 1, a severe storm at hour 100 and another at hour 225
    (so interruptions are still open at the end)."""
    params = read_params(OutageParams, overrides=[*STORMY, *overrides])
    model = OutageModel(params, seed=seed, world=world, out=out)
    model.schedule(100, lambda m: m.start_storm(peak=47.0))
    model.schedule(225, lambda m: m.start_storm(peak=50.0))
    for _ in range(params.hours):
        model.step()
        if check is not None:
            check(model)
    model.close()
    return model


@pytest.fixture(scope="module")
def run(world, tmp_path_factory):
    out = tmp_path_factory.mktemp("outages") / "run"
    worst = []

    def loading(model: OutageModel) -> None:
        c = model.components
        live = c["in_service"] & c["closed"]
        worst.append(float((np.abs(c["flow_kw"][live]) / c["capacity_kw"][live]).max()))

    model = _storm_run(world, out, check=loading)
    return {
        "model": model,
        "out": out,
        "events": read_events(out),
        "kpis": pl.read_parquet(out / "kpis.parquet"),
        "worst": worst,
    }


# ------------------------------------------------------------------------------- outages


def test_every_outage_that_starts_ends_or_is_reported_open_at_the_horizon(run):
    ev = run["events"]
    starts = ev.filter(pl.col("event") == "outage_start").select("customer", "minute")
    ends = outage_records(ev)
    assert starts.height > 1000 and ends["open"].any() and (~ends["open"]).any()
    # each start has exactly one end (or open report) with the same customer and start minute
    pairs = starts.join(
        ends.select("customer", pl.col("start").alias("minute"), "open"),
        on=["customer", "minute"],
        how="full",
        coalesce=True,
    )
    assert pairs.height == starts.height == ends.height
    assert pairs["open"].null_count() == 0
    horizon = run["model"].clock.step * 60
    assert (ends.filter("open")["end"] == horizon).all()
    assert (ends.filter(~pl.col("open"))["end"] < horizon).all()
    assert (ends["duration_min"] > 0).all()
    # a customer's interruptions never overlap
    ordered = ends.sort("customer", "start")
    gaps = ordered.with_columns(pl.col("end").shift(1).over("customer").alias("prev_end"))
    assert (
        (gaps.drop_nulls("prev_end").select(pl.col("start") >= pl.col("prev_end")))
        .to_series()
        .all()
    )
    # nobody is left out at the end who is not reported open
    model = run["model"]
    assert ends.filter("open").height == model.customers_out


def test_customer_minutes_equal_the_sum_over_outage_records(run):
    ev, kpis, model = run["events"], run["kpis"], run["model"]
    records = outage_records(ev)
    hourly = kpis.filter(
        pl.col("name") == "customer_minutes", pl.col("zone").is_null(), pl.col("day").is_null()
    )
    assert hourly.height == model.params.hours
    total = records["duration_min"].sum()
    assert hourly["value"].sum() == total
    # the model's own records are the log's
    mine = model.outage_records().sort("customer", "start")
    theirs = records.sort("customer", "start")
    assert mine.select("customer", "start", "end", "failure", "root").equals(
        theirs.select("customer", "start", "end", "failure", "root")
    )
    # the season's CML (sustained interruptions only) and per-zone CML add up
    season = kpis.filter(pl.col("name") == "CML", pl.col("zone").is_null(), pl.col("day").is_null())
    sustained = records.filter(pl.col("duration_min") > 5)["duration_min"].sum()
    assert season["value"].item() == sustained
    by_zone = kpis.filter(
        pl.col("name") == "CML", pl.col("zone").is_not_null(), pl.col("day").is_null()
    )
    assert by_zone["value"].sum() == sustained
    # unserved energy: the hourly KPI sums to the season's
    ens = kpis.filter(pl.col("name") == "unserved_energy_kwh")["value"].sum()
    season_ens = kpis.filter(pl.col("name") == "unserved_energy_mwh")["value"].item()
    assert ens > 0 and math.isclose(ens / 1000.0, season_ens, rel_tol=1e-9)


def test_long_outage_kpi_counts_customers_with_an_interruption_over_a_day(run):
    ev, kpis, model = run["events"], run["kpis"], run["model"]
    records = outage_records(ev)
    long = records.filter(pl.col("duration_min") > 24 * 60)["customer"].n_unique()
    series = kpis.filter(pl.col("name") == "long_outage_customers")["value"].to_numpy()
    assert long > 0 and series[-1] == long
    assert (np.diff(series) >= 0).all()
    share = long_interruption_share(records, customers_served=model.n_customers, hours=24)
    assert share == long / model.n_customers


# ------------------------------------------------------------------------------- cascades


def test_no_component_above_its_capacity_stays_in_service(run):
    assert max(run["worst"]) <= 1.0 + 1e-9
    failures = run["events"].filter(pl.col("event") == "failure")
    assert failures.filter(pl.col("cause") == "overload").height > 0  # the heat wave tripped some


def test_cascade_on_random_meshes_ends_within_capacities():
    rng = np.random.default_rng(3)
    cascades = 0
    for _ in range(40):
        g = nx.connected_watts_strogatz_graph(30, 4, 0.3, seed=int(rng.integers(1 << 30)))
        u, v = (np.array(x) for x in zip(*g.edges, strict=True))
        pf = PowerFlow(30, u=u, v=v, reactance=rng.uniform(0.5, 2.0, u.size), sources=np.array([0]))
        load = np.r_[0.0, rng.uniform(1.0, 10.0, 29)]
        usable = np.ones(u.size, dtype=bool)
        flows, _ = pf.solve(usable, load)
        capacity = np.maximum(np.abs(flows) * rng.uniform(1.0, 1.6, u.size), 1.0)
        hit = rng.choice(u.size, 2, replace=False)
        usable[hit] = False
        result = cascade(pf, usable, load, capacity, triggers=hit.tolist())
        assert not overloaded(result.flows, capacity, result.usable).any()
        assert not result.usable[hit].any()
        tripped = {t.edge for t in result.trips}
        assert not (tripped & set(result.usable.nonzero()[0]))
        depth = {int(e): 0 for e in hit}
        for t in result.trips:  # a parent failed before its child, one generation up
            if t.parent >= 0:
                assert t.parent in depth and t.generation == depth[t.parent] + 1
            else:
                assert t.generation == 0
            assert t.loading > 1.0
            depth[t.edge] = t.generation
        cascades += any(t.parent >= 0 for t in result.trips)
    assert cascades >= 5


def test_labels_tell_root_causes_from_cascade_effects(demo_population):
    # a weak 33 kV network (rated on the intact flows, 10% over them) so storms cascade
    weak = ["network.n_minus_1=false", "network.margin_subtransmission=0.1"]
    p = read_params(OutageParams, overrides=weak)
    persons = demo_population[1].persons.filter(pl.col("household_id") % 4 == 0)
    world = build_world(p.network, city_seed=0, diurnal_range=p.diurnal_range, persons=persons)
    model = _storm_run(world, None, overrides=weak)
    f = model.failure_table()
    by_id = {r["failure"]: r for r in f.iter_rows(named=True)}
    roots = f.filter(pl.col("generation") == 0)
    assert (roots["root"] == roots["failure"]).all()
    assert (roots["root_cause"] == roots["cause"]).all()
    assert set(roots["cause"].unique().to_list()) <= {"storm", "equipment", "cyber", "overload"}
    effects = f.filter(pl.col("generation") > 0)
    assert effects.height > 0 and (effects["cause"] == "cascade").all()
    for row in effects.iter_rows(named=True):
        parent = by_id[row["parent"]]
        assert parent["minute"] <= row["minute"]
        assert row["generation"] == parent["generation"] + 1
        assert row["root"] == parent["root"]
        assert row["root_cause"] == by_id[row["root"]]["cause"]
    # each interruption carries the labels of the failure that cut it off
    rec = model.outage_records().join(
        f.select("failure", pl.col("cause").alias("f_cause"), pl.col("root").alias("f_root")),
        on="failure",
    )
    assert (rec["cause"] == rec["f_cause"]).all() and (rec["root"] == rec["f_root"]).all()
    assert rec.filter(pl.col("cause") == "cascade").height > 0


# ------------------------------------------------------------------------------- indices


def test_reliability_indices_as_ieee_1366_defines_them():
    # 10 customers in two zones (6 in a, 4 in b), three interruption events:
    #   day 0: a storm cuts off 4 customers of zone a for 90 minutes
    #   day 0: a fault cuts off 2 customers of zone b for 30 minutes
    #   day 1: a recloser cuts off 1 customer of zone b for 3 minutes (momentary: not counted)
    #   day 1: a transformer cuts off 1 customer of zone a for 240 minutes
    records = pl.DataFrame(
        {
            "customer": [0, 1, 2, 3, 6, 7, 8, 4],
            "zone": ["a", "a", "a", "a", "b", "b", "b", "a"],
            "start": [60, 60, 60, 60, 600, 600, 1500, 2000],
            "duration_min": [90, 90, 90, 90, 30, 30, 3, 240],
        }
    )
    season = reliability_indices(records, customers_served=10).row(0, named=True)
    # SAIFI = sum N_i / N_T = (4 + 2 + 1) / 10; SAIDI = sum r_i N_i / N_T = (360 + 60 + 240) / 10
    assert season["SAIFI"] == pytest.approx(0.7)
    assert season["SAIDI"] == pytest.approx(66.0)
    assert season["CAIDI"] == pytest.approx(66.0 / 0.7)  # = 660 / 7 minutes
    assert season["CML"] == 660.0 and season["momentary"] == 1
    zones = reliability_indices(records, customers_served={"a": 6, "b": 4}, by="zone")
    a, b = zones.rows(named=True)
    assert (a["SAIFI"], a["SAIDI"], a["CAIDI"]) == pytest.approx((5 / 6, 600 / 6, 120.0))
    assert (b["SAIFI"], b["SAIDI"], b["CAIDI"]) == pytest.approx((2 / 4, 60 / 4, 30.0))
    days = reliability_indices(records, customers_served=10, by="day", days=3)
    assert days["day"].to_list() == [0, 1, 2]
    assert days["SAIFI"].to_list() == pytest.approx([0.6, 0.1, 0.0])
    assert days["SAIDI"].to_list() == pytest.approx([42.0, 24.0, 0.0])
    assert days["CAIDI"].to_list()[2] is None
    # a zone must be served to be counted
    with pytest.raises(ConfigError, match="zone `b` has interruptions but no entry"):
        reliability_indices(records, customers_served={"a": 6}, by="zone")


def test_major_event_days_and_outage_sizes():
    threshold, major = major_event_days(
        [1.0, np.e, np.e**2, 0.0, 400.0], history=[1.0, np.e, np.e**2]
    )
    assert threshold == pytest.approx(np.exp(3.5)) and major.tolist() == [False] * 4 + [True]
    records = pl.DataFrame(
        {"root": [3, 3, 3, 8], "start": [10, 10, 70, 5], "duration_min": [60, 60, 20, 15],
         "critical": [False, True, False, False]}
    )  # fmt: skip
    sizes = outage_sizes(records)
    assert sizes.rows() == [(3, 10, 3, 140.0, 1), (8, 5, 1, 15.0, 0)]


def test_season_kpis_by_day_and_zone_match_the_records(run):
    kpis, model = run["kpis"], run["model"]
    records = model.outage_records()
    table = reliability_indices(
        records, customers_served=model.customers_served(), by=("day", "zone"), days=10
    )
    got = kpis.filter(
        pl.col("name") == "SAIDI", pl.col("day").is_not_null(), pl.col("zone").is_not_null()
    )
    joined = table.join(
        got.select(pl.col("day"), pl.col("zone").cast(pl.String), "value", "step"),
        on=["day", "zone"],
    )
    assert joined.height == table.height == 10 * len(model.zones)
    np.testing.assert_allclose(joined["SAIDI"], joined["value"])
    assert (joined["step"] == joined["day"] * 24 + 23).all()
    sizes = kpis.filter(pl.col("name") == "outages")
    assert sizes["value"].sum() == outage_sizes(records).height


# ------------------------------------------------------------------------------- crews, policies


def test_crews_dispatch_arrive_and_repair_in_order(run):
    ev = run["events"]
    crew = ev.filter(pl.col("event").is_in(["dispatch", "arrival", "repair"])).sort("minute")
    jobs = crew.group_by("crew", "failure", maintain_order=True).agg(
        pl.col("event").cast(pl.String), pl.col("minute"), pl.col("duration_min")
    )
    assert jobs.height > 20
    for row in jobs.iter_rows(named=True):
        events, minutes = row["event"], row["minute"]
        assert events[: len(events)] == ["dispatch", "arrival", "repair"][: len(events)]
        if len(events) >= 2:
            assert minutes[1] - minutes[0] == row["duration_min"][0]  # the drive
        if len(events) == 3:
            assert minutes[2] - minutes[1] == row["duration_min"][2] >= 20  # time on site
    # a crew does one job at a time
    for _, per_crew in crew.group_by("crew"):
        state = 0
        for event in per_crew["event"].cast(pl.String):
            state += {"dispatch": 1, "arrival": 0, "repair": -1}[event]
            assert state in (0, 1)
    # every damaged failure repaired was dispatched first; trips are re-closed, not repaired
    failures = ev.filter(pl.col("event") == "failure")
    repaired = set(ev.filter(pl.col("event") == "repair")["failure"].to_list())
    trips = set(
        failures.filter(pl.col("cause").is_in(["overload", "cascade"]))["failure"].to_list()
    )
    assert not (repaired & trips)
    assert repaired <= set(ev.filter(pl.col("event") == "dispatch")["failure"].to_list())
    assert ev.filter(pl.col("event") == "reclose").height > 0


def test_policies_on_common_random_numbers(world):
    base = _storm_run(world, None, seed=9)
    crews = _storm_run(world, None, seed=9, overrides=["crews.count=12"])
    under = _storm_run(world, None, seed=9, overrides=["undergrounding.share=0.6"])
    first = base.failure_table().filter(pl.col("cause") == "storm")["minute"].min()

    def storm_hits(model: OutageModel) -> set[int]:
        f = model.failure_table()
        return set(f.filter(pl.col("cause") == "storm", pl.col("minute") == first)["component"])

    # same weather, same draws: the first storm hour breaks the same components with more crews
    assert storm_hits(base) == storm_hits(crews) and len(storm_hits(base)) > 5
    # undergrounded sections see the same draws at a lower hazard: a subset fails
    assert storm_hits(under) < storm_hits(base)
    cml = {name: m.reliability().row(0, named=True)["CML"] for name, m in
           (("base", base), ("crews", crews), ("under", under))}  # fmt: skip
    assert cml["crews"] < cml["base"] and cml["under"] < cml["base"]
    assert under.undergrounded.size > 0


def test_same_seed_same_bytes(world, tmp_path):
    a = _storm_run(world, tmp_path / "a", seed=2)
    b = _storm_run(world, tmp_path / "b", seed=2)
    c = _storm_run(world, tmp_path / "c", seed=3)
    files = sorted(
        p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file()
    )
    assert {f.name for f in files} == {"events.parquet", "kpis.parquet", "manifest.json"}
    for f in files:
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f
    assert (tmp_path / "a" / "events.parquet").read_bytes() != (
        tmp_path / "c" / "events.parquet"
    ).read_bytes()
    assert a.manifest["rows"] == b.manifest["rows"] > 0 and c.manifest["seed"] == 3


# ------------------------------------------------------------------------------- rare events


def test_importance_sampling_agrees_with_crude_monte_carlo(world):
    # a less rare event than the docs' question, so crude Monte Carlo can check it: more than
    # 2% of customers out for more than 6 hours in three stormy days
    params = read_params(
        OutageParams,
        overrides=["hours=72", "storms.rate=4", "storms.wind_min=30", "long_outage_hours=6"],
    )
    event = long_outage_event(params, share=0.02, world=world)
    assert event.threshold == math.floor(0.02 * world.customers.height) + 1
    mc = crude_monte_carlo(event, seed=1, target_rel_error=None, batch_size=100, max_runs=200)
    tilted = importance_sampling(
        event, seed=1, tilt={"storm": 3.0}, target_rel_error=None, batch_size=100, max_runs=100
    )
    assert 0.05 < mc.estimate < 0.5 and tilted.details["hits"] > mc.details["hits"] / 2
    gap = abs(mc.estimate - tilted.estimate)
    assert gap < 3.0 * math.hypot(mc.stderr, tilted.stderr)
    assert tilted.stderr < mc.stderr * 1.5  # half the runs, no worse


# ------------------------------------------------------------------------------- inputs


def test_a_user_graph_runs_with_its_own_capacities():
    persons = pl.DataFrame(
        {"household_id": np.repeat(np.arange(40), 2), "zone": ["n"] * 40 + ["s"] * 40}
    )
    g = nx.Graph()
    g.add_node("grid", kind="source", pos=(0.0, 0.0))
    g.add_node("bus", pos=(1.0, 0.0))
    g.add_node("north", kind="load", zone="n", pos=(1.0, 1.0))
    g.add_node("south", kind="load", zone="s", pos=(1.0, -1.0))
    g.add_edge("grid", "bus", capacity_kw=500.0, kind="subtransmission")
    g.add_edge("bus", "north", capacity_kw=12.0)  # too small for the evening peak
    g.add_edge("bus", "south")  # rated from the design day
    g.add_edge("north", "south", kind="tie")
    params = read_params(OutageParams, overrides=["hours=48", "storms.rate=0", "heat_waves.rate=0"])
    model = OutageModel(
        params, seed=1, persons=persons, graph=g, zone_xy=np.array([[1.0, 1.0], [1.0, -1.0]])
    )
    model.run(params.hours)
    f = model.failure_table()
    assert (f.filter(pl.col("component") == 1)["cause"] == "overload").all() and f.height > 0
    assert model.components["capacity_kw"][0] == 500.0 and model.world.grid.capacity[2] > 0
    model.close()


def test_bad_inputs_name_what_was_expected(world):
    params = OutageParams()
    g = nx.Graph()
    g.add_edge("a", "b")
    persons = pl.DataFrame({"household_id": [1], "zone": ["z"]})
    with pytest.raises(ConfigError, match="`graph` has no source node"):
        OutageModel(params, persons=persons, graph=g)
    g.add_node("a", kind="source")
    g.add_node("b", kind="load", zone="z")
    g.add_node("c", kind="load", zone="y")
    with pytest.raises(
        ConfigError, match="node 'c' of `graph` has zone 'y', which has no customers"
    ):
        OutageModel(params, persons=persons, graph=g)
    with pytest.raises(ConfigError, match="`travel` must be a .* matrix of minutes"):
        OutageModel(params, world=world, travel=np.zeros((2, 2)))
    other = read_params(OutageParams, overrides=["city_seed=4"])
    with pytest.raises(ConfigError, match="`world` was built with other network parameters"):
        OutageModel(other, world=world)
    with pytest.raises(
        ConfigError, match="unknown parameter `crews.cout`. Hint: did you mean `crews.count`"
    ):
        read_params(OutageParams, overrides=["crews.cout=3"])
    with pytest.raises(ConfigError, match="`heat_waves.days_max` = 2 is below"):
        read_params(OutageParams, overrides=["heat_waves.days_max=2"])
    with pytest.raises(ConfigError, match="`crews.dispatch` = 'fastest' is not allowed"):
        read_params(OutageParams, overrides=["crews.dispatch=fastest"])
    with pytest.raises(ConfigError, match="`share` must be a share of customers"):
        long_outage_event(params, share=1.5, customers=10)


def test_command_line_runs_the_scenario(cli, tmp_path):
    result = cli("scenarios", "outages")
    assert result.code == 0 and "crews.dispatch" in result.out and "storms.rate" in result.out
    out = tmp_path / "run"
    result = cli(
        "run", "outages", "--steps", "24", "--set", "storms.scheduled_hours=[2]", "--out", out
    )
    assert result.code == 0, result.err
    assert "SAIFI" in result.out and (out / "events.parquet").is_file()
    kpis = pl.read_parquet(out / "kpis.parquet")
    assert kpis.filter(pl.col("name") == "customers_out").height == 24


def test_storm_classes_make_up_the_storm_law():
    from scipy import stats

    from scenarios.outages.weather import draw_storm, severe_share

    p = OutageParams().storms
    q = severe_share(p)
    assert q == pytest.approx(math.exp(-(38.0 - 20.0) / 4.0))
    rng = np.random.default_rng(0)
    centre = np.zeros(2)

    def peaks(severe):
        return [
            draw_storm(rng, p, id=0, start=0, centre=centre, extent_km=10.0, severe=s).peak
            for s in severe
        ]

    direct = peaks([None] * 4000)
    classes = rng.random(4000) < q
    mixed = peaks(classes.tolist())
    assert stats.ks_2samp(direct, mixed).pvalue > 0.01
    assert min(np.array(mixed)[classes]) >= 38.0 > max(np.array(mixed)[~classes])


def test_lean_runs_differ_only_in_their_kpis(world):
    params = read_params(OutageParams, overrides=["hours=120", "heat_waves.scheduled_days=[1]"])
    runs = []
    for hourly in (True, False):
        model = OutageModel(params, seed=4, world=world, hourly_kpis=hourly, create_views=hourly)
        model.schedule(30, lambda m: m.start_storm(peak=45.0))
        model.run(params.hours)
        model.close()
        runs.append(model)
    full, lean = runs
    assert full.failure_table().equals(lean.failure_table())
    assert full.outage_records().equals(lean.outage_records())
    hourly = lean.kpis.to_frame().filter(pl.col("step") < 119, pl.col("day").is_null())
    names = set(hourly["name"].unique())
    assert names == {"long_outage_customers"}
    assert full.datacollector is not None and lean.datacollector is None
    # Mesa sees the agents: components, customers (views only when asked) and crews
    from scenarios.outages.model import Crew, Customer

    assert len(full.agents_by_type[Crew]) == params.crews.count
    assert len(full.agents_by_type[Customer]) == full.n_customers
    assert Customer not in lean.agents_by_type
    table = full.datacollector.get_model_vars_dataframe()
    assert table["customers_out"].max() > 0


def test_a_cyber_incident_opens_two_substations_until_crews_arrive(world):
    params = read_params(
        OutageParams,
        overrides=["hours=24", "storms.rate=0", "heat_waves.rate=0", "cyber.scheduled_hours=[3]"],
    )
    model = OutageModel(params, seed=1, world=world)
    model.run(params.hours)
    model.close()
    f = model.failure_table().filter(pl.col("cause") == "cyber")
    assert f.height == 4 and (f["component_kind"] == "primary_transformer").all()
    assert (f["minute"] == 180).all() and f["customers"].sum() > 1000
    records = model.outage_records().filter(pl.col("root_cause") == "cyber")
    assert records.height == f["customers"].sum() and not records["open"].any()
    # restored within hours: by the crews' visits, or first by transfers over ties
    assert records["duration_min"].max() < 12 * 60


def test_the_docs_list_every_parameter_with_its_default():
    from abm.params import describe_params

    page = (Path(__file__).resolve().parents[2] / "docs" / "scenarios" / "outages.md").read_text(
        encoding="utf-8"
    )
    for row in describe_params(OutageParams):
        default = row["default"]
        shown = (
            {True: "true", False: "false"}.get(default, default)
            if isinstance(default, bool)
            else default
        )
        shown = "[]" if shown == [] else shown
        assert f"| `{row['name']}` | {shown} |" in page, row["name"]
