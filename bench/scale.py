"""Scale: a population of about 1,000,000 persons in households from 1,000 zones.

The zones' marginals come from a made-up "true" city: each zone draws whole households from the
demo seed sample (zones differ by which district's households they favour) until it holds about
1,000 persons, so the marginals are consistent and the fit is realistic. The demo seed sample
(1,400 households) then anchors the fit, as `synthworld populate` would use it: list balancing,
exact household-level integerisation, ages and incomes drawn, both tables written to Parquet.

Prints one JSON line: seconds for each stage and in total, peak RSS of this process, persons and
households made, the fit's status and person-level SRMSE; and, as the yardstick measured in the
same run, the time of the same persons-level marginals fitted as one flat table by `ipf` (no
households), so the cost of households on top of table IPF shows as a ratio.

    python bench/scale.py [--zones 1000] [--persons-per-zone 1000]
"""

from __future__ import annotations

import argparse
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

from populations import IPF, PopulationSynthesizer  # noqa: E402
from populations.demo import load_demo  # noqa: E402
from populations.marginals import Geography, Marginal  # noqa: E402
from populations.output import write_frame  # noqa: E402
from populations.synthesis import Inputs  # noqa: E402


def make_city(n_zones: int, per_zone: int, rng: np.random.Generator):
    """Marginals of a city whose zones are made of whole seed households."""
    demo = load_demo()
    seed = demo.seed
    hh = seed.households
    size = np.bincount(seed.person_household, minlength=hh.height)
    district = hh["district"].to_numpy()
    districts = np.unique(district)
    zones = [f"Z{i:04d}" for i in range(n_zones)]
    zone_district = [districts[i % districts.size] for i in range(n_zones)]
    picks = []
    for z in range(n_zones):
        p = np.where(district == zone_district[z], 6.0, 1.0)
        p /= p.sum()
        n = int(per_zone / size.mean() * 1.1)
        draw = rng.choice(hh.height, size=n, p=p)
        keep = draw[np.cumsum(size[draw]) <= per_zone]
        picks.append(keep)
    zone_of = np.concatenate([np.full(k.size, z) for z, k in enumerate(picks)])
    hh_rows = np.concatenate(picks)
    households = hh[hh_rows].with_columns(pl.Series("zone", np.array(zones)[zone_of]))
    owner = np.repeat(np.arange(hh_rows.size), size[hh_rows])
    first = np.concatenate([[0], np.cumsum(size)[:-1]])
    sizes = size[hh_rows]
    offset = np.arange(owner.size) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    persons = seed.persons[first[hh_rows][owner] + offset].with_columns(
        pl.Series("zone", np.array(zones)[zone_of][owner])
    )

    def tidy(frame: pl.DataFrame, dims: list[str], name: str, level: str) -> Marginal:
        counts = frame.group_by(dims).len("count")
        return Marginal.from_frame(counts, name=name, level=level)

    marginals = [
        tidy(persons, ["zone", "age_band", "sex"], "age_sex", "person"),
        tidy(persons, ["zone", "employment"], "employment", "person"),
        tidy(households, ["zone", "hh_size"], "household_size", "household"),
        tidy(households, ["zone", "cars"], "cars", "household"),
    ]
    geography = Geography("zone", tuple(zones), {"district": tuple(zone_district)})
    return demo, marginals, geography, persons.height


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zones", type=int, default=1000)
    parser.add_argument("--persons-per-zone", type=int, default=1000)
    args = parser.parse_args()
    rng = np.random.default_rng(2026)
    demo, marginals, geography, true_persons = make_city(args.zones, args.persons_per_zone, rng)
    inputs = Inputs(demo.config, marginals, geography, demo.seed, None, {})
    stages = {}
    start = time.perf_counter()
    synth = PopulationSynthesizer.from_config(demo.config).fit(inputs)
    stages["fit_s"] = time.perf_counter() - start
    t = time.perf_counter()
    pop = synth.sample(rng=np.random.default_rng(1))
    stages["sample_s"] = time.perf_counter() - t
    t = time.perf_counter()
    report = synth.report(pop)
    stages["report_s"] = time.perf_counter() - t
    t = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for name, frame in (("persons", pop.persons), ("households", pop.households)):
            write_frame(frame, Path(tmp) / name, "parquet")
    stages["write_parquet_s"] = time.perf_counter() - t
    total = time.perf_counter() - start
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # Zones are polished in worker processes: their peak counts too.
    child_peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    # Yardstick: the person-level marginals as one flat table (zone x age x sex x employment).
    t = time.perf_counter()
    flat = IPF(tol=1e-6).fit(marginals[:2])
    flat.sample(rng=np.random.default_rng(1))
    flat_s = time.perf_counter() - t
    fits = {m.name: m for m in report.marginals}
    print(
        json.dumps(
            {
                "bench": "scale",
                "zones": args.zones,
                "persons": pop.persons.height,
                "households": pop.households.height,
                "target_persons": true_persons,
                "status": synth.status_.value,
                "iterations": synth.fitter_.n_iter_,
                "polished_zones": len(synth.fitter_.polished_zones_),
                **{k: round(v, 3) for k, v in stages.items()},
                "total_s": round(total, 3),
                "peak_rss_mib": round(peak_mib, 1),
                "peak_rss_worker_mib": round(child_peak_mib, 1),
                "household_marginals_exact": all(
                    m.exact for m in report.marginals if m.level == "household"
                ),
                "srmse": {k: round(m.srmse, 4) for k, m in fits.items()},
                "yardstick_flat_table_ipf_s": round(flat_s, 3),
                "ratio_to_flat_table": round(total / flat_s, 1),
                "goal": "total_s < 30 and peak_rss_mib < 2048",
            }
        )
    )


if __name__ == "__main__":
    main()
