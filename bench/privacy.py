"""Disclosure-risk report at scale: 1,000,000 synthetic persons against a 10,000-person seed.

The seed sample is made from the demo seed's households, drawn with replacement and varied
(district, age within a few years, income) until it holds about 10,000 persons. The synthetic
population copies seed households the way list balancing does: whole households, each placed
in a random zone, ages and incomes drawn rather than copied. `disclosure_risk` then runs with
the default quasi-identifiers (age band, sex, district, household size, employment, income
band), as `synthworld privacy` would, household columns joined on.

Prints one JSON line per case (the default quasi-identifiers, and exact age instead of the age
band): seconds for the whole report, peak RSS of the process and RSS before the report, the
distinct synthetic combinations queried, the figures; and as the yardstick measured in the same
run, a brute-force numpy nearest-neighbour search (the same Gower distance on the same encoded
features) timed on a subsample of synthetic records and extrapolated, both to every synthetic
record (the naive report) and to the distinct combinations (the same deduplication, no
KD-tree). The subsample's distances are checked equal to the tree's. A last line times the
resampling of sample uniques (`populations.protection.resample_uniques`) on the same
population, against the report that then finds no replicated unique.

    python bench/privacy.py [--persons 1000000] [--seed-persons 10000] [--no-protect]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import polars as pl  # noqa: E402
from scipy.spatial import cKDTree  # noqa: E402

from populations.demo import load_demo  # noqa: E402
from populations.privacy import _features, disclosure_risk, qi_tables, records  # noqa: E402
from populations.protection import resample_uniques  # noqa: E402

BANDS = [f"{a}-{a + 4}" for a in range(0, 85, 5)] + ["85+"]
SIZES = ["1", "2", "3", "4", "5", "6+"]


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def copies(
    households: pl.DataFrame,
    persons: pl.DataFrame,
    n_persons: int,
    rng: np.random.Generator,
    *,
    zones: int,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Whole households drawn with replacement until `n_persons`, each in a random zone, with
    ages redrawn near the original (band recomputed) and incomes redrawn around it."""
    hid = households["household_id"].to_numpy()
    member = persons["household_id"].to_numpy()
    order = np.argsort(member, kind="stable")
    size = np.bincount(np.searchsorted(hid, member), minlength=hid.size)
    first = np.concatenate([[0], np.cumsum(size)[:-1]])
    draw = rng.integers(0, hid.size, size=int(n_persons / size.mean() * 1.05) + 10)
    draw = draw[np.cumsum(size[draw]) <= n_persons]
    n_new = draw.size
    zone = rng.integers(0, zones, n_new)
    district = np.array([f"D{1 + z % 8}" for z in range(zones)])[zone]
    new_hh = households[draw].with_columns(
        pl.Series("household_id", np.arange(1, n_new + 1)),
        pl.Series("zone", np.array([f"Z{z:04d}" for z in range(zones)])[zone]),
        pl.Series("district", district),
        pl.Series("hh_size", np.array(SIZES)[np.minimum(size[draw], 6) - 1]),
    )
    reps = size[draw]
    owner = np.repeat(np.arange(n_new), reps)
    offset = np.arange(owner.size) - np.repeat(np.cumsum(reps) - reps, reps)
    rows = order[first[draw][owner] + offset]
    p = persons[rows]
    age = np.clip(p["age"].to_numpy() + rng.integers(-2, 3, rows.size), 0, 99)
    income = p["income"].to_numpy() * rng.lognormal(0.0, 0.3, rows.size)
    new_p = p.with_columns(
        pl.Series("person_id", np.arange(1, rows.size + 1)),
        pl.Series("household_id", owner + 1),
        pl.Series("age", age),
        pl.Series("age_band", np.array(BANDS)[np.minimum(age // 5, 17)]),
        pl.Series("income", np.round(income, 2)),
    )
    return new_hh, new_p


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--seed-persons", type=int, default=10_000)
    parser.add_argument("--subsample", type=int, default=1000)
    parser.add_argument("--no-protect", action="store_true", help="Skip the protection line.")
    args = parser.parse_args()
    rng = np.random.default_rng(2026)
    demo = load_demo().seed
    hh = demo.households.with_columns(pl.col("household_id").cast(pl.Int64))
    pp = demo.persons.with_columns(
        pl.col("household_id").cast(pl.Int64),
        pl.col("age").cast(pl.Int64),
        pl.col("income").cast(pl.Float64),
    )
    seed_hh, seed_p = copies(hh, pp, args.seed_persons, rng, zones=8)
    seed = records(seed_p.drop("zone", strict=False), seed_hh.drop("zone"))
    syn_hh, syn_p = copies(seed_hh, seed_p, args.persons, rng, zones=1000)

    cases = {
        "default": None,
        "exact age": ["age", "sex", "district", "hh_size", "employment", "income_band"],
    }
    for case, qis in cases.items():
        emit_report(case, qis, syn_p, syn_hh, seed, rng, args.subsample)
    if not args.no_protect:
        emit_protection(syn_p, syn_hh, seed)


def emit_report(case, qis, syn_p, syn_hh, seed, rng, subsample) -> float:
    baseline = _rss_mib()
    start = time.perf_counter()
    risk = disclosure_risk(records(syn_p, syn_hh), seed, qis)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    # Yardstick: brute-force nearest neighbour, same features, on a subsample of records.
    tables = qi_tables(records(syn_p, syn_hh), seed, qis)
    qis = tables.quasi_identifiers
    distinct = tables.synthetic.unique(maintain_order=True)
    sub = tables.synthetic[rng.integers(0, tables.synthetic.height, subsample)]
    sub_x, seed_x, _ = _features([sub, tables.seed, distinct], qis, tables.numeric)
    t = time.perf_counter()
    brute = np.empty(sub_x.shape[0])
    for i in range(0, sub_x.shape[0], 50):
        chunk = sub_x[i : i + 50]
        brute[i : i + 50] = np.abs(chunk[:, None, :] - seed_x[None, :, :]).sum(axis=2).min(axis=1)
    per_query = (time.perf_counter() - t) / sub_x.shape[0]
    tree_d, _ = cKDTree(seed_x).query(sub_x, k=1, p=1)
    agree = bool(np.allclose(brute, tree_d, atol=1e-12))
    brute_all = per_query * tables.synthetic.height
    brute_distinct = per_query * distinct.height
    emit(
        {
            "bench": "privacy_report",
            "case": case,
            "synthetic_persons": risk.synthetic_records,
            "seed_persons": risk.seed_records,
            "quasi_identifiers": qis,
            "distinct_synthetic_combinations": distinct.height,
            "report_s": round(seconds, 3),
            "rss_before_report_mib": round(baseline, 1),
            "peak_rss_mib": round(peak, 1),
            "identical_share": round(risk.identical_share, 4),
            "seed_uniques": risk.seed_uniques,
            "replicated_uniques": risk.replicated_uniques,
            "min_class_size": risk.min_class_size,
            "dcr_mean": round(risk.dcr_synthetic["mean"], 4),
            "seed_nn_mean": round(risk.dcr_seed["mean"], 4),
            "yardstick_brute_force_per_record_ms": round(per_query * 1e3, 4),
            "yardstick_brute_force_every_record_s": round(brute_all, 1),
            "yardstick_brute_force_distinct_s": round(brute_distinct, 1),
            "ratio_brute_every_record_to_report": round(brute_all / seconds, 1),
            "ratio_brute_distinct_to_report": round(brute_distinct / seconds, 1),
            "brute_force_agrees_with_tree": agree,
            "goal": "report_s < 30",
        }
    )
    return seconds


def emit_protection(syn_p, syn_hh, seed) -> None:
    """Resampling of uniques on the same population, timed against the report it makes pass."""
    persons = syn_p.join(syn_hh.select("household_id", "zone", "district"), on="household_id")
    households = syn_hh.drop("zone", "district")
    start = time.perf_counter()
    protected, summary = resample_uniques(
        persons,
        seed,
        households=households,
        zone="zone",
        levels=["district"],
        keep_with=["age_band", "sex", "employment"],
        drawn={"age": ["age_band"], "income": ["employment"]},
        rng=np.random.default_rng(7),
    )
    seconds = time.perf_counter() - start
    t = time.perf_counter()
    after = disclosure_risk(records(protected, households), seed)
    report_s = time.perf_counter() - t
    emit(
        {
            "bench": "privacy_protect",
            "synthetic_persons": persons.height,
            "protect_s": round(seconds, 3),
            "persons_matching_seed_uniques": summary["persons_matching_seed_uniques"],
            "exchanges": summary["exchanges"],
            "persons_with_copied_attributes_changed": summary[
                "persons_with_copied_attributes_changed"
            ],
            "unresolved": summary["unresolved"],
            "replicated_uniques_after": after.replicated_uniques,
            "yardstick_report_s": round(report_s, 3),
            "ratio_protect_to_report": round(seconds / report_s, 1),
        }
    )


def emit(obj: dict) -> None:
    print(json.dumps(obj), flush=True)


if __name__ == "__main__":
    main()
