"""The fraud scenario: money is conserved, schemes have their shapes, labels do not leak,
the PaySim preset matches PaySim, the exports have the peers' layouts, runs repeat exactly."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from scipy import optimize, stats

from abm.events import read_events
from abm.params import read_params
from populations.errors import ConfigError
from scenarios.fraud import PRESETS, FraudModel, FraudParams
from scenarios.fraud.formats import AMLWORLD_COLUMNS, PAYSIM_COLUMNS, SAMLD_COLUMNS, export
from scenarios.fraud.params import CURRENCIES, LAUNDERING_TYPOLOGIES

SMALL = [
    "customers=3000",
    "days=20",
    "fraud.rate=0.004",
    "laundering.rate=0.03",
    "laundering.oversample=1",
]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One run written to disk, with the balances of every account at the end of each day."""
    out = tmp_path_factory.mktemp("fraud") / "run"
    params = read_params(FraudParams, overrides=SMALL)
    model = FraudModel(params, seed=11, out=out)
    w = model.world
    tracked = w.kind <= 1
    per_day = []
    with model:
        initial = np.bincount(w.currency[tracked], w.balance[tracked], minlength=len(w.currencies))
        for _ in range(params.days):
            model.step()
            per_day.append(
                np.bincount(w.currency[tracked], w.balance[tracked], minlength=len(w.currencies))
            )
    return {
        "out": out,
        "events": read_events(out),
        "initial": initial,
        "per_day": np.array(per_day),
        "currencies": w.currencies,
        "model": model,
    }


def test_money_is_conserved_currency_by_currency_every_day(run: dict) -> None:
    ev = run["events"]
    tracked_kinds = ["customer", "merchant"]
    into = (
        ev.filter(pl.col("dest_kind").cast(pl.String).is_in(tracked_kinds))
        .group_by("day", pl.col("currency_received").cast(pl.String).alias("cur"))
        .agg(pl.col("amount_received").sum().alias("flow"))
    )
    out_of = (
        ev.filter(pl.col("orig_kind").cast(pl.String).is_in(tracked_kinds))
        .group_by("day", pl.col("currency").cast(pl.String).alias("cur"))
        .agg((-pl.col("amount")).sum().alias("flow"))
    )
    flows = pl.concat([into, out_of]).group_by("day", "cur").agg(pl.col("flow").sum())
    days = run["per_day"].shape[0]
    expected = np.zeros((days, len(run["currencies"])))
    for day, cur, flow in flows.iter_rows():
        expected[day, run["currencies"].index(cur)] += flow
    expected = run["initial"] + np.cumsum(expected, axis=0)
    np.testing.assert_allclose(run["per_day"], expected, rtol=1e-9, atol=0.05)
    assert ev.filter(pl.col("orig_kind").cast(pl.String).is_in(["cash_agent", "outside"])).height


def test_balances_are_consistent_and_never_negative(run: dict) -> None:
    ev = run["events"]
    orig = ev.filter(pl.col("orig_balance_before").is_not_null())
    dest = ev.filter(pl.col("dest_balance_before").is_not_null())
    assert orig.height > 0.8 * ev.height
    np.testing.assert_allclose(
        orig["orig_balance_before"] - orig["amount"], orig["orig_balance_after"], atol=0.011
    )
    np.testing.assert_allclose(
        dest["dest_balance_before"] + dest["amount_received"],
        dest["dest_balance_after"],
        atol=0.011,
    )
    assert orig["orig_balance_after"].min() >= 0
    assert dest["dest_balance_after"].min() >= 0
    # what an account holds after one row is what it holds before its next one
    sides = pl.concat(
        [
            ev.select(
                "tx_id",
                pl.col("orig_account").alias("acc"),
                pl.col("orig_balance_before").alias("before"),
                pl.col("orig_balance_after").alias("after"),
            ),
            ev.select(
                "tx_id",
                pl.col("dest_account").alias("acc"),
                pl.col("dest_balance_before").alias("before"),
                pl.col("dest_balance_after").alias("after"),
            ),
        ]
    ).drop_nulls("before")
    chained = sides.sort("acc", "tx_id").with_columns(
        pl.col("after").shift(1).over("acc").alias("prev")
    )
    chained = chained.drop_nulls("prev")
    np.testing.assert_allclose(chained["before"], chained["prev"], atol=0.011)


def _edges(rows: pl.DataFrame) -> tuple[set[tuple[int, int]], dict, dict]:
    edges = {(a, b) for a, b in rows.select("orig_account", "dest_account").iter_rows()}
    out, inn = defaultdict(set), defaultdict(set)
    for a, b in edges:
        out[a].add(b)
        inn[b].add(a)
    return edges, out, inn


def _check_shape(typology: str, rows: pl.DataFrame) -> None:
    edges, out, inn = _edges(rows)
    nodes = set(out) | set(inn)
    sources = {n for n in nodes if n not in inn}
    sinks = {n for n in nodes if n not in out}
    middles = nodes - sources - sinks
    assert all(a != b for a, b in edges), typology
    if typology == "fan_out":
        assert len(sources) == 1 and len(sinks) >= 2 and not middles
    elif typology == "fan_in":
        assert len(sinks) == 1 and len(sources) >= 2 and not middles
    elif typology == "cycle":
        assert all(len(out[n]) == 1 and len(inn[n]) == 1 for n in nodes)
        start = next(iter(nodes))
        seen, node = {start}, next(iter(out[start]))
        while node != start:
            seen.add(node)
            node = next(iter(out[node]))
        assert seen == nodes  # one cycle through every account
    elif typology == "scatter_gather":
        assert len(sources) == 1 and len(sinks) == 1 and len(middles) >= 2
        (src,), (sink,) = sources, sinks
        assert out[src] == middles and inn[sink] == middles
    elif typology == "gather_scatter":
        assert len(middles) == 1 and len(sources) >= 2 and len(sinks) >= 2
        (hub,) = middles
        assert inn[hub] == sources and out[hub] == sinks
    elif typology == "bipartite":
        assert not middles and len(sources) >= 2 and len(sinks) >= 2
    elif typology == "stack":
        assert sources and middles and sinks
        assert all(a in sources and b in middles or a in middles and b in sinks for a, b in edges)
    elif typology == "random":
        hops = rows.sort("timestamp").select("orig_account", "dest_account").rows()
        walk = [hops[0]]
        for hop in hops[1:]:
            if hop != walk[-1]:  # an edge's money may move in several pieces
                walk.append(hop)
        assert all(walk[i][1] == walk[i + 1][0] for i in range(len(walk) - 1))
    else:
        pytest.fail(f"no shape check for {typology}")


def test_every_laundering_case_has_its_typologys_shape(run: dict) -> None:
    ev = run["events"].filter(pl.col("is_laundering"))
    layering = ev.filter(pl.col("stage").cast(pl.String) == "layering")
    checked = defaultdict(int)
    for (_case, typology), rows in layering.group_by("case_id", pl.col("typology").cast(pl.String)):
        _check_shape(typology, rows)
        checked[typology] += 1
    assert set(checked) == set(LAUNDERING_TYPOLOGIES) - {"unnamed"}, checked
    # every case has the three stages, and its placement is structured below the cap
    stages = ev.group_by("case_id").agg(pl.col("stage").cast(pl.String).unique())
    assert all({"placement", "integration"} <= set(s) for s in stages["stage"])
    placement = ev.filter(pl.col("stage").cast(pl.String) == "placement")
    usd = placement["amount"].max() * CURRENCIES["EUR"]  # the default home currency
    assert usd < FraudParams().laundering.placement_cap


def test_account_takeovers_run_victim_to_mules_to_cash_out(run: dict) -> None:
    ato = run["events"].filter(pl.col("typology").cast(pl.String) == "account_takeover")
    assert ato.height > 0 and ato["is_fraud"].all()
    for _, rows in ato.group_by("case_id"):
        rows = rows.sort("timestamp", "tx_id")
        kinds = rows["type"].cast(pl.String).to_list()
        assert kinds[:-1] == ["TRANSFER"] * (len(kinds) - 1) and kinds[-1] == "CASH_OUT"
        assert rows["orig_role"].cast(pl.String)[0] == "victim"
        hops = rows.select("orig_account", "dest_account").rows()
        assert all(hops[i][1] == hops[i + 1][0] for i in range(len(hops) - 1))


def test_card_bursts_and_bust_outs_have_their_shapes(run: dict) -> None:
    ev = run["events"].filter(pl.col("is_fraud"))
    cnp = ev.filter(pl.col("typology").cast(pl.String) == "card_not_present")
    bust = ev.filter(pl.col("typology").cast(pl.String) == "bust_out")
    assert cnp.height and bust.height
    for _, rows in cnp.group_by("case_id"):
        # one victim's card, 3 to 8 online purchases at merchants within a few hours
        assert rows["orig_account"].n_unique() == 1 and 3 <= rows.height <= 8
        assert set(rows["type"].cast(pl.String)) == {"PAYMENT"}
        assert set(rows["dest_kind"].cast(pl.String)) == {"merchant"}
        assert (rows["timestamp"].max() - rows["timestamp"].min()).total_seconds() < 6 * 3600
    for _, rows in bust.group_by("case_id"):
        rows = rows.sort("timestamp", "tx_id")
        first, rest = rows.row(0, named=True), rows.slice(1)
        # a cheque deposited, then the same account spends and withdraws most of it
        assert first["type"] == "CASH_IN" and first["channel"] == "cheque"
        assert set(rest["orig_account"]) == {first["dest_account"]}
        assert 0.8 * first["amount_received"] <= rest["amount"].sum() <= first["amount_received"]


def test_illicit_accounts_also_live_ordinary_lives(run: dict) -> None:
    ev = run["events"]
    illicit = ev.filter(pl.col("is_laundering") | pl.col("is_fraud"))
    roles = illicit.filter(pl.col("orig_role").cast(pl.String).is_in(["mule", "launderer"]))
    accounts = set(roles["orig_account"].to_list())
    ordinary = ev.filter(~pl.col("is_laundering") & ~pl.col("is_fraud"))
    active = accounts & set(ordinary["orig_account"].to_list())
    assert len(active) >= 0.8 * len(accounts)


def _auc(score: np.ndarray, label: np.ndarray) -> float:
    pos, neg = score[label], score[~label]
    return float(stats.mannwhitneyu(pos, neg).statistic / (pos.size * neg.size))


def test_labels_do_not_leak_through_ids_step_parity_or_balance_rules(run: dict) -> None:
    """PaySim's frauds were found from id prefixes and a balance-error rule; here a classifier
    on those artefacts alone stays near chance."""
    ev = run["events"].filter(pl.col("type").cast(pl.String).is_in(["TRANSFER", "CASH_OUT"]))
    label = ev["is_fraud"].to_numpy()
    assert label.sum() >= 30
    features = np.column_stack(
        [
            ev["orig_account"].to_numpy() % 10**10 / 1e10,
            ev["dest_account"].to_numpy() % 10**10 / 1e10,
            ev["hour"].to_numpy() % 2,
            (ev["orig_balance_before"] - ev["amount"] - ev["orig_balance_after"])
            .fill_null(0)
            .round(2)
            .to_numpy(),
            (ev["dest_balance_before"] + ev["amount_received"] - ev["dest_balance_after"])
            .fill_null(0)
            .round(2)
            .to_numpy(),
        ]
    )
    for j in range(features.shape[1]):
        assert abs(_auc(features[:, j], label) - 0.5) < 0.1, j
    # logistic regression on all of them together, scored in-sample (the most it can find)
    x = np.column_stack(
        [np.ones(len(label)), (features - features.mean(0)) / (features.std(0) + 1e-12)]
    )

    def loss(beta: np.ndarray) -> float:
        z = x @ beta
        return float(np.mean(np.logaddexp(0, z) - label * z))

    beta = optimize.minimize(loss, np.zeros(x.shape[1]), method="BFGS").x
    assert abs(_auc(x @ beta, label) - 0.5) < 0.1


def test_observed_layer_differs_from_the_truth(run: dict) -> None:
    ev = run["events"]
    fraud = ev.filter(pl.col("is_fraud"))
    share = fraud["is_reported_fraud"].mean()
    n = fraud.height
    assert abs(share - 0.8) < 4 * np.sqrt(0.8 * 0.2 / n)  # victims report 80 % (default)
    assert ev.filter(~pl.col("is_fraud"))["is_reported_fraud"].sum() < 0.001 * ev.height
    flagged = ev.filter(pl.col("is_flagged"))
    assert flagged.height > 0
    assert set(flagged["alert_rule"].cast(pl.String)) <= {"large_amount", "velocity", "fan_in"}
    assert (flagged["alert_bank"].cast(pl.String) != "external").all()
    assert 0 < flagged["is_laundering"].mean() < 1  # alerts catch some laundering, not only


def test_paysim_preset_matches_paysims_type_shares_and_fraud_rate(tmp_path: Path) -> None:
    params = read_params(
        FraudParams, toml=PRESETS["paysim"], overrides=["customers=4000", "days=31"]
    )
    with FraudModel(params, seed=3, out=tmp_path / "ps") as model:
        model.run(params.days)
    files = export(tmp_path / "ps", "paysim")
    assert files == {"paysim.csv": model.totals["rows"]}
    import pandas as pd

    frame = pd.read_csv(tmp_path / "ps" / "paysim.csv")
    assert tuple(frame.columns) == PAYSIM_COLUMNS
    dtypes = {c: str(t) for c, t in frame.dtypes.items()}
    for col in ("step", "isFraud", "isFlaggedFraud"):
        assert dtypes[col] == "int64"
    for col in ("amount", "oldbalanceOrg", "newbalanceOrig", "oldbalanceDest", "newbalanceDest"):
        assert dtypes[col] == "float64"
    assert frame["nameOrig"].str.match(r"^C\d+$").all()
    assert frame["nameDest"].str.match(r"^[CM]\d+$").all()
    assert frame.loc[frame["type"] == "PAYMENT", "nameDest"].str.startswith("M").all()
    assert frame["step"].between(1, 31 * 24).all()  # PaySim: 743 hourly steps
    published = {  # PaySim's Kaggle file: rows by type out of 6,362,620
        "CASH_OUT": 2_237_500,
        "PAYMENT": 2_151_495,
        "CASH_IN": 1_399_284,
        "TRANSFER": 532_909,
        "DEBIT": 41_432,
    }
    shares = frame["type"].value_counts(normalize=True)
    for kind, count in published.items():
        assert abs(shares[kind] - count / 6_362_620) < 0.01, kind
    n = len(frame)
    rate = frame["isFraud"].mean()
    assert abs(rate - 8_213 / 6_362_620) < 4 * np.sqrt(0.00129 / n) + 0.0001
    assert set(frame.loc[frame["isFraud"] == 1, "type"]) == {"TRANSFER", "CASH_OUT"}
    # as in PaySim, CASH_IN raises nameOrig's balance
    cash_in = frame[frame["type"] == "CASH_IN"]
    np.testing.assert_allclose(
        cash_in["newbalanceOrig"] - cash_in["oldbalanceOrg"], cash_in["amount"], atol=0.011
    )


def test_amlworld_and_samld_exports_have_their_layouts(run: dict, tmp_path: Path) -> None:
    import shutil

    out = tmp_path / "copy"
    shutil.copytree(run["out"], out)
    files = export(out, "amlworld")
    header = (out / "amlworld.csv").read_text().splitlines()[0]
    assert tuple(header.split(",")) == AMLWORLD_COLUMNS
    aml = pl.read_csv(out / "amlworld.csv")
    assert aml.height == run["events"].height
    assert aml["Is Laundering"].sum() == run["events"]["is_laundering"].sum()
    assert set(aml["Payment Format"]) <= {"Credit Card", "ACH", "Wire", "Cash", "Cheque"}
    text = (out / "amlworld_patterns.txt").read_text()
    begins = [line for line in text.splitlines() if line.startswith("BEGIN LAUNDERING ATTEMPT")]
    ends = [line for line in text.splitlines() if line.startswith("END LAUNDERING ATTEMPT")]
    assert len(begins) == len(ends) == files["amlworld_patterns.txt"] > 0
    assert {b.split(" - ")[1] for b in begins} <= {
        "FAN-OUT",
        "FAN-IN",
        "CYCLE",
        "SCATTER-GATHER",
        "GATHER-SCATTER",
        "BIPARTITE",
        "STACK",
        "RANDOM",
    }
    export(out, "samld")
    samld = pl.read_csv(out / "samld.csv")
    assert tuple(samld.columns) == SAMLD_COLUMNS
    assert samld["Is_laundering"].sum() == run["events"]["is_laundering"].sum()
    manifest = (out / "manifest.json").read_text()
    assert "amlworld_patterns.txt" in manifest and "samld.csv" in manifest


def _digest(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_same_seed_same_bytes_with_one_or_two_processes(cli, tmp_path: Path) -> None:
    args = ["run", "fraud", "--set", "customers=400", "--steps", "4", "--replicates", "2"]
    one = cli(*args, "--processes", "1", "--out", tmp_path / "one")
    two = cli(*args, "--processes", "2", "--out", tmp_path / "two")
    assert one.code == two.code == 0, one.err + two.err
    assert _digest(tmp_path / "one") == _digest(tmp_path / "two")
    ids = read_events(tmp_path / "one").group_by("shard").agg(pl.col("orig_account").unique())
    a, b = (set(x) for x in ids.sort("shard")["orig_account"])
    assert not a & b  # shards' accounts never collide


def test_cli_preset_and_export(cli, tmp_path: Path) -> None:
    res = cli(
        "run",
        "fraud",
        "--preset",
        "paysim",
        "--set",
        "customers=300",
        "--steps",
        "3",
        "--format",
        "paysim",
        "--out",
        tmp_path / "p",
    )
    assert res.code == 0, res.err
    assert "paysim.csv" in res.out
    assert (tmp_path / "p" / "paysim.csv").read_text().splitlines()[0] == ",".join(PAYSIM_COLUMNS)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--set", "fraud.rat=0.1"],
            "unknown parameter `fraud.rat`. Hint: did you mean `fraud.rate`?",
        ),
        (["--set", "fraud.mix=[1, 2]"], "parameter `fraud.mix` needs 3 weights"),
        (["--set", "fraud.mule_chain=[3, 1]"], "expected [least, most]"),
        (["--set", "laundering.degree=[1, 5]"], "2 <= least <= most <= 50"),
        (["--set", "start_date='2025-13-01'"], "is not a date. Hint: write it as YYYY-MM-DD"),
        (["--set", "fraud.rate=0.5"], "fraud.rate"),
        (
            ["--format", "paysm"],
            "unknown format `paysm` for scenario `fraud`. Hint: did you mean `paysim`?",
        ),
        (
            ["--preset", "paysin"],
            "unknown preset `paysin` of scenario `fraud`. Hint: did you mean `paysim`?",
        ),
    ],
)
def test_bad_parameters_give_clear_messages(cli, tmp_path: Path, args, message) -> None:
    res = cli("run", "fraud", *args, "--out", tmp_path / "bad")
    assert res.code == 2
    assert message in res.err
    assert not (tmp_path / "bad").exists()


def test_a_population_without_the_needed_columns_is_refused() -> None:
    persons = pl.DataFrame({"person_id": [1, 2], "age": [30, 40]})
    with pytest.raises(ConfigError, match="lacks column\\(s\\) `household_id`, `zone`"):
        FraudModel(FraudParams(customers=10, days=1), seed=1, persons=persons)
