"""Outbreak at scale: 1,000,000 persons for 365 days, timed by stage, with peak memory.

The engine's scale goal: the outbreak scenario (`scenarios.outbreak.OutbreakModel`) on a city of
1,000,000 persons in households, run for 365 days, in under 60 s and under 4 GB peak memory.

The population is built directly from the demo seed sample, not fitted: zones of about 1,000
persons each draw whole seed households (zones favour one district's households, as in
``bench/scale.py``'s `make_city`), and the seed persons of those households are copied with a
new household id and the zone. The outbreak reads only ``household_id``, ``zone``, ``age``,
``age_band`` and ``employment``, so fitting (``bench/scale.py``, ~18 s) is not needed for this
benchmark; the population's time is reported separately and not counted in ``total_s``.

Stages timed: ``build_s`` (the model: contact layers, columns, scheduled events, with
``create_views=False`` so no Mesa agent is made per person), ``run_s`` (365 days; the event log
writes full chunks during the run), ``close_s`` (last chunk, KPIs, manifest, to a temporary
folder). ``total_s`` = build + run + close.

Yardstick measured in the same run: a plain numpy/scipy.sparse SEIR-like kernel on the same
combined (all-layer, weighted) adjacency: per day ``A @ infectious``, an infection probability
``1 - (1 - beta) ** n``, a Bernoulli draw over every node, and E -> I, I -> R as Bernoulli
draws; ``ratio_run_to_kernel`` shows the engine's overhead over the bare kernel.

Prints one JSON line. Peak RSS is ``ru_maxrss`` of this process (no child processes are used;
their peak is reported too as a check).

    python bench/outbreak_scale.py [--persons 1000000] [--days 365] [--seed 1]
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import polars as pl  # noqa: E402

from populations.demo import load_demo  # noqa: E402
from scenarios.outbreak.disease import STATES  # noqa: E402
from scenarios.outbreak.model import OutbreakModel  # noqa: E402
from scenarios.outbreak.params import OutbreakParams  # noqa: E402

AGE_BANDS = (
    "0-4", "5-9", "10-14", "15-19", "20-24", "25-29", "30-34", "35-39", "40-44",
    "45-49", "50-54", "55-59", "60-64", "65-69", "70-74", "75-79", "80-84", "85+",
)  # fmt: skip
EMPLOYMENT = ("employed", "unemployed", "student", "retired", "inactive")


def make_persons(n_persons: int, per_zone: int, rng: np.random.Generator) -> pl.DataFrame:
    """About `n_persons` persons in whole seed households, `per_zone` persons a zone."""
    seed = load_demo().seed
    hh = seed.households
    size = np.bincount(seed.person_household, minlength=hh.height)
    first = np.concatenate([[0], np.cumsum(size)[:-1]])
    district = hh["district"].to_numpy()
    districts = np.unique(district)
    n_zones = max(1, round(n_persons / per_zone))
    probs = {}
    for d in districts:
        p = np.where(district == d, 6.0, 1.0)
        probs[d] = p / p.sum()
    picks = []
    n_draw = int(per_zone / size.mean() * 1.1) + 5
    for z in range(n_zones):
        draw = rng.choice(hh.height, size=n_draw, p=probs[districts[z % districts.size]])
        picks.append(draw[np.cumsum(size[draw]) <= per_zone])
    zone_of = np.concatenate([np.full(k.size, z, np.int32) for z, k in enumerate(picks)])
    hh_rows = np.concatenate(picks)
    sizes = size[hh_rows]
    owner = np.repeat(np.arange(hh_rows.size), sizes)
    offset = np.arange(owner.size) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    rows = first[hh_rows][owner] + offset
    src = seed.persons.select("age", "age_band", "sex", "employment")[rows]
    zones = [f"Z{i:04d}" for i in range(n_zones)]
    return pl.DataFrame(
        {
            "person_id": np.arange(owner.size, dtype=np.int64),
            "household_id": owner.astype(np.int64),
            "zone": pl.Series(np.array(zones)[zone_of[owner]]).cast(pl.Enum(zones)),
        }
    ).with_columns(
        src["age"].cast(pl.Int16),
        src["age_band"].cast(pl.Enum(AGE_BANDS)),
        src["sex"].cast(pl.Enum(["female", "male"])),
        src["employment"].cast(pl.Enum(EMPLOYMENT)),
    )


def kernel(
    adjacency, days: int, beta: float, n_seed: int, rng: np.random.Generator
) -> tuple[float, float]:
    """Seconds for `days` steps of a bare SEIR-like kernel on `adjacency`, and its attack rate."""
    n = adjacency.shape[0]
    state = np.zeros(n, np.int8)  # 0 S, 1 E, 2 I, 3 R
    state[rng.choice(n, n_seed, replace=False)] = 1
    log_escape = np.log1p(-beta)
    start = time.perf_counter()
    for _ in range(days):
        infectious = (state == 2).astype(np.float64)
        counts = adjacency @ infectious
        prob = -np.expm1(log_escape * counts)
        u = rng.random(n)
        new = (state == 0) & (u < prob)
        u2 = rng.random(n)
        onset = (state == 1) & (u2 < 1 / 3)
        recover = (state == 2) & (u2 < 1 / 5)
        state[recover] = 3
        state[onset] = 2
        state[new] = 1
    seconds = time.perf_counter() - start
    return seconds, float(np.count_nonzero(state > 0) / n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--persons-per-zone", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-kernel", action="store_true", help="skip the yardstick")
    args = parser.parse_args()

    t = time.perf_counter()
    persons = make_persons(args.persons, args.persons_per_zone, np.random.default_rng(2026))
    population_s = time.perf_counter() - t
    rss_after_population = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    params = dataclasses.replace(OutbreakParams(), days=args.days)
    stages = {}
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        model = OutbreakModel(
            params, seed=args.seed, persons=persons, out=Path(tmp) / "run", create_views=False
        )
        stages["build_s"] = time.perf_counter() - t
        t = time.perf_counter()
        model.run(params.days)
        stages["run_s"] = time.perf_counter() - t
        t = time.perf_counter()
        manifest = model.close()
        stages["close_s"] = time.perf_counter() - t
        log_bytes = sum(f.stat().st_size for f in (Path(tmp) / "run").rglob("*") if f.is_file())
    total = sum(stages.values())
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child_peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024

    state = model.people["state"]
    counts = dict(zip(STATES, np.bincount(state, minlength=len(STATES)).tolist(), strict=True))
    ever = int(np.count_nonzero(model.people["t_infected"] >= 0))
    rows = int(manifest["rows"]) if manifest else 0
    network = model.contacts.network
    edges = {name: int(network.n_edges(name)) for name in network.layers}

    result = {
        "bench": "outbreak_scale",
        "persons": persons.height,
        "households": int(persons["household_id"].n_unique()),
        "zones": persons["zone"].n_unique(),
        "days": params.days,
        "population": "replicated seed households (no fit)",
        "population_s": round(population_s, 3),
        **{k: round(v, 3) for k, v in stages.items()},
        "total_s": round(total, 3),
        "peak_rss_mib": round(peak_mib, 1),
        "peak_rss_after_population_mib": round(rss_after_population, 1),
        "peak_rss_children_mib": round(child_peak_mib, 1),
        "edges": edges,
        "events_written": rows,
        "events_per_run_s": round(rows / stages["run_s"]) if stages["run_s"] else None,
        "events_per_total_s": round(rows / total) if total else None,
        "log_mib": round(log_bytes / 2**20, 1),
        "attack_rate": round(ever / persons.height, 4),
        "final_states": counts,
    }

    if not args.no_kernel:
        t = time.perf_counter()
        combined = network.adjacency()
        result["kernel_adjacency_s"] = round(time.perf_counter() - t, 3)
        del model
        gc.collect()
        kernel_s, kernel_attack = kernel(
            combined, params.days, params.beta_workplace, params.initial_infections,
            np.random.default_rng(args.seed),
        )  # fmt: skip
        result["kernel_run_s"] = round(kernel_s, 3)
        result["kernel_attack_rate"] = round(kernel_attack, 4)
        result["ratio_run_to_kernel"] = round(stages["run_s"] / kernel_s, 1)
        result["ratio_total_to_kernel"] = round(total / kernel_s, 1)
    result["peak_rss_final_mib"] = round(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
    )
    result["goal"] = "total_s < 60 and peak_rss_mib < 4096"
    result["goal_met"] = bool(total < 60 and peak_mib < 4096)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
