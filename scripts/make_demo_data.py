"""Generate the embedded demo city "Riverton" used by synthworld's examples and tests.

Riverton is entirely FICTIONAL: no real place, survey or person underlies it.
The data are produced deterministically as follows:

1. A complete "true" population is simulated zone by zone: 48 zones (Z01..Z48)
   in 8 districts (D1..D8, six consecutive zones each).  Districts have a type
   (dense centre, inner suburb, outer suburb, older population) that shapes the
   household-type mix, ages, employment, car ownership and tenure.  Households
   are drawn until each zone reaches its target size (600..4,000 persons,
   about 100,000 persons in total); ages within a household are coherent
   (e.g. parents are 20-55 years older than their children).
2. All zone marginals (age band x sex, employment, household size, cars) are
   counted exactly from that population, so they are mutually consistent.
3. A simple random sample of 1,400 true households (about 3.3% of the ~41,800;
   with all their persons) forms the seed sample, topped up with a household
   for any marginal category the draw happens to miss.  Every household
   carries the same expansion weight (true households / sampled households).

All randomness comes from ``numpy.random.default_rng(20261123)``, so the output
is byte-identical on every run.  Regenerate the CSV files in
``populations/demo/data/`` with::

    python scripts/make_demo_data.py
"""

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

SEED = 20261123
OUT_DIR = Path(__file__).resolve().parents[1] / "populations" / "demo" / "data"

ZONES = [f"Z{i:02d}" for i in range(1, 49)]
DISTRICTS = [f"D{i}" for i in range(1, 9)]
DISTRICT_TYPE = {
    "D1": "centre",
    "D2": "centre",
    "D3": "inner",
    "D4": "inner",
    "D5": "outer",
    "D6": "outer",
    "D7": "older",
    "D8": "outer",
}
TOTAL_PERSONS = 100_000
SAMPLE_HOUSEHOLDS = 1_400

AGE_BANDS = [f"{a}-{a + 4}" for a in range(0, 85, 5)] + ["85+"]
SEXES = ["female", "male"]
EMPLOYMENT = ["employed", "unemployed", "student", "retired", "inactive"]
HH_SIZES = ["1", "2", "3", "4", "5", "6+"]
CARS = ["0", "1", "2", "3+"]
TENURE = ["owned", "rented", "social"]

HH_TYPES = [
    "single",
    "couple",
    "family",
    "single_parent",
    "retired_single",
    "retired_couple",
    "shared",
]
HH_TYPE_PROBS = {  # order as HH_TYPES
    "centre": [0.30, 0.18, 0.10, 0.06, 0.08, 0.04, 0.24],
    "inner": [0.20, 0.20, 0.25, 0.08, 0.10, 0.07, 0.10],
    "outer": [0.12, 0.18, 0.40, 0.08, 0.08, 0.10, 0.04],
    "older": [0.12, 0.14, 0.14, 0.05, 0.25, 0.27, 0.03],
}
ADULT_AGE_MEAN = {  # (single, couple) mean age of working-age adults
    "centre": (30, 32),
    "inner": (38, 40),
    "outer": (42, 44),
    "older": (48, 52),
}
CAR_BASE = {"centre": 0.35, "inner": 0.75, "outer": 1.15, "older": 0.85}
TENURE_BASE = {
    "centre": [0.30, 0.55, 0.15],
    "inner": [0.50, 0.35, 0.15],
    "outer": [0.72, 0.18, 0.10],
    "older": [0.70, 0.15, 0.15],
}


@dataclass
class Household:
    zone: int
    members: list[tuple[int, int, int, float]] = field(
        default_factory=list
    )  # age, sex, emp, income
    cars: int = 0
    tenure: int = 0


def draw_age(rng: np.random.Generator, mean: float, sd: float, lo: int, hi: int) -> int:
    """Normal age truncated to [lo, hi] by rejection."""
    while True:
        age = int(round(rng.normal(mean, sd)))
        if lo <= age <= hi:
            return age


def partner_age(rng: np.random.Generator, age: int, lo: int) -> int:
    return int(np.clip(age + np.clip(round(rng.normal(0, 3)), -8, 8), lo, 99))


def couple_sexes(rng: np.random.Generator) -> tuple[int, int]:
    if rng.random() < 0.05:  # same-sex couple
        s = int(rng.integers(2))
        return s, s
    return 0, 1


def children_ages(rng: np.random.Generator, youngest_parent: int, n: int) -> list[int]:
    """Children aged 0..24, 20-45 years younger than the youngest parent."""
    lo, hi = max(20, youngest_parent - 24), min(45, youngest_parent)
    return [youngest_parent - int(rng.integers(lo, hi + 1)) for _ in range(n)]


def household_ages_sexes(
    rng: np.random.Generator, hh_type: str, ztype: str
) -> list[tuple[int, int]]:
    """Ages and sexes (0=female, 1=male) of the members of one household."""
    single_mean, couple_mean = ADULT_AGE_MEAN[ztype]
    if hh_type == "single":
        return [(draw_age(rng, single_mean, 10, 18, 64), int(rng.integers(2)))]
    if hh_type in ("couple", "retired_couple"):
        a = (
            draw_age(rng, couple_mean, 11, 20, 64)
            if hh_type == "couple"
            else draw_age(rng, 72, 6, 62, 95)
        )
        s1, s2 = couple_sexes(rng)
        return [(a, s1), (partner_age(rng, a, 18 if hh_type == "couple" else 60), s2)]
    if hh_type == "family":
        a = draw_age(rng, 38, 7, 25, 55)
        b = partner_age(rng, a, 22)
        s1, s2 = couple_sexes(rng)
        n_kids = int(rng.choice([1, 2, 3, 4, 5], p=[0.33, 0.40, 0.17, 0.07, 0.03]))
        kids = children_ages(rng, min(a, b), n_kids)
        return [(a, s1), (b, s2)] + [(k, int(rng.integers(2))) for k in kids]
    if hh_type == "single_parent":
        a = draw_age(rng, 38, 8, 22, 58)
        sex = 0 if rng.random() < 0.85 else 1
        n_kids = int(rng.choice([1, 2, 3, 4], p=[0.50, 0.33, 0.13, 0.04]))
        return [(a, sex)] + [(k, int(rng.integers(2))) for k in children_ages(rng, a, n_kids)]
    if hh_type == "retired_single":
        return [(draw_age(rng, 78, 8, 65, 99), 0 if rng.random() < 0.65 else 1)]
    n_adults = int(rng.choice([2, 3, 4, 5, 6], p=[0.40, 0.32, 0.18, 0.07, 0.03]))  # shared
    return [(draw_age(rng, 25, 4, 18, 35), int(rng.integers(2))) for _ in range(n_adults)]


def employment_probs(age: int, ztype: str) -> list[float]:
    """Probabilities over EMPLOYMENT for a person aged 16+."""
    if age < 20:
        p = [0.15, 0.05, 0.75, 0.00, 0.05]
    elif age < 25:
        p = [0.35, 0.07, 0.52, 0.00, 0.06] if ztype == "centre" else [0.50, 0.08, 0.34, 0.00, 0.08]
    elif age < 30:
        p = [0.74, 0.07, 0.10, 0.00, 0.09]
    elif age < 55:
        p = [0.80, 0.05, 0.01, 0.00, 0.14]
    elif age < 60:
        p = [0.74, 0.05, 0.00, 0.06, 0.15]
    elif age < 65:
        p = [0.42, 0.04, 0.00, 0.42, 0.12]
    elif age < 70:
        p = [0.12, 0.00, 0.00, 0.85, 0.03]
    else:
        p = [0.02, 0.00, 0.00, 0.96, 0.02]
    if ztype == "centre" and p[0] > 0.1:  # somewhat higher unemployment downtown
        p = [p[0] - 0.02, p[1] + 0.02] + p[2:]
    return p


def draw_employment(rng: np.random.Generator, age: int, ztype: str) -> int:
    if age < 5:
        return EMPLOYMENT.index("inactive")
    if age < 16:
        return EMPLOYMENT.index("student")
    return int(rng.choice(len(EMPLOYMENT), p=employment_probs(age, ztype)))


def draw_income(rng: np.random.Generator, age: int, emp: str) -> float:
    """Annual personal income (0.0 for children and most inactive persons)."""
    if age < 16:
        return 0.0
    if emp == "employed":
        factor = 0.6 if age < 25 else 0.9 if age < 35 else 1.15 if age < 55 else 1.05
        value = rng.lognormal(np.log(32_000 * factor), 0.55)
    elif emp == "retired":
        value = rng.lognormal(np.log(15_000), 0.40)
    elif emp == "unemployed":
        value = rng.lognormal(np.log(6_000), 0.30)
    elif emp == "student":
        value = 0.0 if rng.random() < 0.6 else rng.lognormal(np.log(4_000), 0.60)
    else:
        value = 0.0 if rng.random() < 0.85 else rng.lognormal(np.log(3_000), 0.60)
    return round(float(value), 2)


def draw_cars(rng: np.random.Generator, hh: Household, ztype: str) -> int:
    adults = sum(1 for age, *_ in hh.members if age >= 18)
    income = sum(m[3] for m in hh.members)
    lam = CAR_BASE[ztype] * max(adults, 1) ** 0.7 * (max(income, 5_000) / 40_000) ** 0.35
    return min(int(rng.poisson(lam)), 3)


def draw_tenure(rng: np.random.Generator, hh: Household, hh_type: str, ztype: str) -> int:
    p = np.array([0.10, 0.80, 0.10] if hh_type == "shared" else TENURE_BASE[ztype])
    if sum(m[3] for m in hh.members) < 25_000:
        p[2] *= 2.5
    if hh_type.startswith("retired"):
        p[0] *= 1.5
    return int(rng.choice(3, p=p / p.sum()))


def zone_targets(rng: np.random.Generator) -> np.ndarray:
    """Target persons per zone: varied sizes in 600..~4,000, total about TOTAL_PERSONS."""
    raw = rng.integers(600, 4_001, size=len(ZONES)).astype(float)
    return np.clip(np.round(raw * TOTAL_PERSONS / raw.sum()), 600, 3_990).astype(int)


def build_city(rng: np.random.Generator) -> list[Household]:
    households: list[Household] = []
    for z, target in enumerate(zone_targets(rng)):
        ztype = DISTRICT_TYPE[DISTRICTS[z // 6]]
        persons = 0
        while persons < target:
            hh_type = HH_TYPES[int(rng.choice(len(HH_TYPES), p=HH_TYPE_PROBS[ztype]))]
            hh = Household(zone=z)
            for age, sex in household_ages_sexes(rng, hh_type, ztype):
                emp = draw_employment(rng, age, ztype)
                hh.members.append((age, sex, emp, draw_income(rng, age, EMPLOYMENT[emp])))
            hh.cars = draw_cars(rng, hh, ztype)
            hh.tenure = draw_tenure(rng, hh, hh_type, ztype)
            households.append(hh)
            persons += len(hh.members)
    return households


def age_band(age: int) -> int:
    return min(age // 5, len(AGE_BANDS) - 1)


def size_cat(hh: Household) -> int:
    return min(len(hh.members), 6) - 1


def categories(hh: Household) -> set[tuple[str, object]]:
    """All marginal categories a household contributes to (used for seed coverage)."""
    cats: set[tuple[str, object]] = {
        ("hh_size", size_cat(hh)),
        ("cars", hh.cars),
        ("tenure", hh.tenure),
    }
    for age, sex, emp, _ in hh.members:
        cats |= {("age_sex", (age_band(age), sex)), ("employment", emp)}
    return cats


def all_categories() -> set[tuple[str, object]]:
    cats = {("age_sex", (b, s)) for b in range(len(AGE_BANDS)) for s in range(2)}
    cats |= {("employment", e) for e in range(len(EMPLOYMENT))}
    cats |= {("hh_size", i) for i in range(len(HH_SIZES))} | {("cars", c) for c in range(len(CARS))}
    return cats | {("tenure", t) for t in range(len(TENURE))}


def draw_sample(rng: np.random.Generator, households: list[Household]) -> list[int]:
    """Simple random sample of households, topped up so every category occurs."""
    chosen = [int(i) for i in rng.choice(len(households), size=SAMPLE_HOUSEHOLDS, replace=False)]
    covered = set().union(*(categories(households[i]) for i in chosen))
    # If the random sample misses a category, add a random true household that has it.
    for cat in sorted(all_categories() - covered, key=repr):
        if cat in covered:
            continue
        candidates = [
            i for i, hh in enumerate(households) if cat in categories(hh) and i not in chosen
        ]
        pick = int(rng.choice(candidates))
        chosen.append(pick)
        covered |= categories(households[pick])
    return [chosen[i] for i in rng.permutation(len(chosen))]  # shuffled: ids carry no information


def write_csv(name: str, header: list[str], rows: list[list[object]]) -> None:
    with open(OUT_DIR / name, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def count_table(zone_idx: list[int], cat_idx: list[int], n_cats: int) -> np.ndarray:
    flat = np.asarray(zone_idx) * n_cats + np.asarray(cat_idx)
    return np.bincount(flat, minlength=len(ZONES) * n_cats).reshape(len(ZONES), n_cats)


def write_marginals(households: list[Household]) -> None:
    people = [(hh.zone, m) for hh in households for m in hh.members]
    pz = [z for z, _ in people]
    age_sex = count_table(pz, [age_band(m[0]) * 2 + m[1] for _, m in people], len(AGE_BANDS) * 2)
    emp = count_table(pz, [m[2] for _, m in people], len(EMPLOYMENT))
    hz = [hh.zone for hh in households]
    sizes = count_table(hz, [size_cat(hh) for hh in households], len(HH_SIZES))
    cars = count_table(hz, [hh.cars for hh in households], len(CARS))
    write_csv(
        "zones.csv", ["zone", "district"], [[z, DISTRICTS[i // 6]] for i, z in enumerate(ZONES)]
    )
    write_csv(
        "persons_age_sex.csv",
        ["zone", "age_band", "sex", "count"],
        [
            [z, b, s, int(age_sex[i, bi * 2 + si])]
            for i, z in enumerate(ZONES)
            for bi, b in enumerate(AGE_BANDS)
            for si, s in enumerate(SEXES)
        ],
    )
    for name, col, labels, table in [
        ("employment.csv", "employment", EMPLOYMENT, emp),
        ("households_size.csv", "hh_size", HH_SIZES, sizes),
        ("cars.csv", "cars", CARS, cars),
    ]:
        write_csv(
            name,
            ["zone", col, "count"],
            [
                [z, lab, int(table[i, j])]
                for i, z in enumerate(ZONES)
                for j, lab in enumerate(labels)
            ],
        )


def write_seed(households: list[Household], sample: list[int]) -> None:
    weight = round(len(households) / len(sample), 3)
    hh_rows: list[list[object]] = []
    person_rows: list[list[object]] = []
    for hid, idx in enumerate(sample, start=1):
        hh = households[idx]
        hh_rows.append(
            [
                hid,
                DISTRICTS[hh.zone // 6],
                HH_SIZES[size_cat(hh)],
                CARS[hh.cars],
                TENURE[hh.tenure],
                f"{weight:.3f}",
            ]
        )
        for age, sex, emp, income in hh.members:
            person_rows.append(
                [
                    len(person_rows) + 1,
                    hid,
                    age,
                    AGE_BANDS[age_band(age)],
                    SEXES[sex],
                    EMPLOYMENT[emp],
                    f"{income:.2f}",
                ]
            )
    write_csv(
        "seed_households.csv",
        ["household_id", "district", "hh_size", "cars", "tenure", "weight"],
        hh_rows,
    )
    write_csv(
        "seed_persons.csv",
        ["person_id", "household_id", "age", "age_band", "sex", "employment", "income"],
        person_rows,
    )


def main() -> None:
    rng = np.random.default_rng(SEED)
    households = build_city(rng)
    sample = draw_sample(rng, households)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    write_marginals(households)
    write_seed(households, sample)
    n_persons = sum(len(hh.members) for hh in households)
    print(
        f"Riverton: {n_persons} persons in {len(households)} households; "
        f"seed sample {len(sample)} households -> {OUT_DIR}"
    )


if __name__ == "__main__":
    main()
