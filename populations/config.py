"""The population configuration file: TOML that ties marginals, seed sample and settings together.

Read with the standard library's `tomllib`; the file is data, nothing in it is evaluated. Paths
are relative to the file's folder. Every key is checked: an unknown one is refused with the
closest known name.

Example (the demo city's file, ``populations/demo/demo.toml``)::

    [geography]
    file = "data/zones.csv"      # zone -> district; marginals may use either column
    zone = "zone"

    [seed]
    households = "data/seed_households.csv"
    persons = "data/seed_persons.csv"
    household_id = "household_id"
    weight = "weight"

    [[marginals]]
    name = "age_sex"
    file = "data/persons_age_sex.csv"
    level = "person"             # or "household"

    [attributes.age]             # age in years, drawn within each person's band
    band = "age_band"

    [attributes.income]          # income drawn from a distribution fitted per group
    by = ["employment"]

    [fit]
    tol = 1e-6
    # persons-only fits may declare impossible cells:
    # structural_zeros = [{ age_band = ["0-4"], employment = ["employed"] }]

    [privacy]                    # optional: disclosure report and protections (docs/privacy.md)
    quasi_identifiers = ["age_band", "sex", "district", "hh_size", "employment", "income_band"]
    resample_uniques = true      # exchange attributes of persons replicating a seed unique
    merge_small = ["age_band"]   # or true: every categorical quasi-identifier but geography
    min_category_size = 30       # categories with fewer seed records are merged
    top_code = { income = "p99" }   # a number, or the seed's percentile
    fit_tolerance = 0.005        # largest rise in a marginal's SRMSE that protection may cause
"""

from __future__ import annotations

import tomllib
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any

from populations.errors import ConfigError, closest_hint

__all__ = [
    "AgeConfig",
    "FitConfig",
    "IncomeConfig",
    "PROTECTIONS",
    "MarginalConfig",
    "PopulationConfig",
    "PrivacyConfig",
    "SeedConfig",
    "load_config",
    "read_toml",
]


@dataclass(frozen=True)
class MarginalConfig:
    file: Path
    name: str = ""
    level: str = "person"
    count: str = "count"


@dataclass(frozen=True)
class SeedConfig:
    persons: Path
    households: Path | None = None
    household_id: str = "household_id"
    weight: str | None = None


@dataclass(frozen=True)
class GeographyConfig:
    file: Path
    zone: str = "zone"


@dataclass(frozen=True)
class AgeConfig:
    band: str = "age_band"
    column: str = "age"
    max_age: int = 100


@dataclass(frozen=True)
class IncomeConfig:
    column: str = "income"
    by: tuple[str, ...] = ()
    min_group: int = 30


@dataclass(frozen=True)
class FitConfig:
    tol: float = 1e-6
    max_iter: int = 2000
    rescale: bool = False
    integerise: str = "exact"
    prior: float | None = None
    structural_zeros: tuple[dict[str, tuple[str, ...]], ...] = ()


@dataclass(frozen=True)
class PrivacyConfig:
    """The ``[privacy]`` table: quasi-identifiers of the disclosure report, and protections.

    Every protection is off by default (see `populations.protection` for each one's cost in
    fit); `fit_tolerance` is the largest rise in any marginal's SRMSE that the fit report
    accepts from protection.
    """

    quasi_identifiers: tuple[str, ...] = ()
    resample_uniques: bool = False
    merge_small: tuple[str, ...] | bool = False
    min_category_size: int = 30
    top_code: dict[str, float | str] = field(default_factory=dict)
    fit_tolerance: float = 0.005

    @property
    def protects(self) -> bool:
        """Whether any protection is on."""
        return self.resample_uniques or bool(self.merge_small) or bool(self.top_code)


PROTECTIONS = ("uniques", "merge", "top-code", "all")


@dataclass(frozen=True)
class PopulationConfig:
    """Everything `synthworld populate` needs, read from one TOML file."""

    marginals: tuple[MarginalConfig, ...]
    seed: SeedConfig | None = None
    geography: GeographyConfig | None = None
    age: AgeConfig | None = None
    income: IncomeConfig | None = None
    fit: FitConfig = field(default_factory=FitConfig)
    privacy: PrivacyConfig | None = None
    source: Path | None = None


def _build(cls: type, data: Any, where: str, base: Path, paths: tuple[str, ...] = ()) -> Any:
    if not isinstance(data, dict):
        msg = f"{where}: expected a table, found {type(data).__name__}"
        raise ConfigError(msg)
    known = {f.name: f for f in fields(cls)}
    kwargs = {}
    for key, value in data.items():
        if key not in known:
            msg = f"{where}: unknown key `{key}`. {closest_hint(key, known)}"
            raise ConfigError(msg)
        if key in paths:
            if not isinstance(value, str):
                msg = f"{where}.{key}: expected a file path (text), found {value!r}"
                raise ConfigError(msg)
            value = base / value
        elif key == "structural_zeros":
            value = _structural_zeros(value, f"{where}.{key}")
        elif key == "by":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                msg = f"{where}.by: expected a list of column names, found {value!r}"
                raise ConfigError(msg)
            value = tuple(value)
        else:
            default = known[key].default
            expected = float if key == "prior" else type(default) if default is not None else str
            if expected is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            if expected is not None and not isinstance(value, expected):
                msg = (
                    f"{where}.{key}: expected {expected.__name__}, found {value!r} "
                    f"({type(value).__name__})"
                )
                raise ConfigError(msg)
        kwargs[key] = value
    try:
        return cls(**kwargs)
    except TypeError as exc:
        missing = [
            f.name
            for f in fields(cls)
            if f.name not in kwargs and f.default is MISSING and f.default_factory is MISSING
        ]
        msg = f"{where}: missing key(s) {', '.join(f'`{m}`' for m in missing) or str(exc)}"
        raise ConfigError(msg) from exc


def _structural_zeros(value: Any, where: str) -> tuple[dict[str, tuple[str, ...]], ...]:
    rules = []
    ok = isinstance(value, list)
    for rule in value if ok else ():
        ok = ok and isinstance(rule, dict)
        if not ok:
            break
        for labels in rule.values():
            ok = ok and isinstance(labels, list) and all(isinstance(v, str) for v in labels)
        rules.append({k: tuple(v) for k, v in rule.items()} if ok else {})
    if not ok:
        msg = (
            f"{where}: expected a list of tables of category lists, found {value!r}. "
            'Hint: structural_zeros = [{ age_band = ["0-4"], employment = ["employed"] }]'
        )
        raise ConfigError(msg)
    return tuple(rules)


def _privacy(data: Any, where: str) -> PrivacyConfig:
    """The ``[privacy]`` table, every key checked."""
    if not isinstance(data, dict):
        msg = f"{where}: expected a table, found {type(data).__name__}"
        raise ConfigError(msg)
    known = {f.name for f in fields(PrivacyConfig)}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in known:
            msg = f"{where}: unknown key `{key}`. {closest_hint(key, known)}"
            raise ConfigError(msg)
        if key == "quasi_identifiers" or (key == "merge_small" and not isinstance(value, bool)):
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                also = " (or true)" if key == "merge_small" else ""
                msg = f"{where}.{key}: expected a list of column names{also}, found {value!r}"
                raise ConfigError(msg)
            value = tuple(value)
        elif key == "top_code":
            ok = isinstance(value, dict) and all(
                isinstance(v, int | float | str) and not isinstance(v, bool) for v in value.values()
            )
            if not ok:
                msg = (
                    f"{where}.top_code: expected a table of caps, found {value!r}. "
                    'Hint: top_code = { income = 150000, age = "p99" }'
                )
                raise ConfigError(msg)
            value = dict(value)
        elif key in {"resample_uniques", "merge_small"}:
            if not isinstance(value, bool):
                msg = f"{where}.{key}: expected true or false, found {value!r}"
                raise ConfigError(msg)
        elif key == "min_category_size":
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                msg = f"{where}.{key}: expected a whole number of at least 1, found {value!r}"
                raise ConfigError(msg)
        elif key == "fit_tolerance":
            if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                msg = f"{where}.{key}: expected a number of at least 0, found {value!r}"
                raise ConfigError(msg)
            value = float(value)
        kwargs[key] = value
    return PrivacyConfig(**kwargs)


def read_toml(path: str | Path, *, what: str = "configuration file") -> dict[str, Any]:
    """A TOML file as data (`tomllib`: nothing in it is evaluated), or one clear `ConfigError`."""
    path = Path(path)
    if not path.is_file():
        msg = f"{what} `{path}` does not exist"
        raise ConfigError(msg)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        msg = f"{what} `{path}` is not valid TOML: {exc}"
        raise ConfigError(msg) from exc


def load_config(path: str | Path) -> PopulationConfig:
    """Read and check a population configuration file."""
    path = Path(path)
    data = read_toml(path)
    base = path.parent
    sections = {"marginals", "seed", "geography", "attributes", "fit", "privacy"}
    for key in data:
        if key not in sections:
            msg = f"`{path}`: unknown section `{key}`. {closest_hint(key, sections)}"
            raise ConfigError(msg)
    raw_marginals = data.get("marginals")
    if not isinstance(raw_marginals, list) or not raw_marginals:
        msg = (
            f"`{path}`: expected at least one [[marginals]] table with a `file`. "
            'Hint: add [[marginals]] file = "counts.csv".'
        )
        raise ConfigError(msg)
    marginals = []
    for i, m in enumerate(raw_marginals):
        mc = _build(MarginalConfig, m, f"`{path}` marginals[{i}]", base, ("file",))
        if not mc.name:
            mc = MarginalConfig(mc.file, mc.file.stem, mc.level, mc.count)
        marginals.append(mc)
    if "privacy" in data and "seed" not in data:
        msg = (
            f"`{path}`: a [privacy] table needs a [seed] sample: disclosure risk is measured "
            "against the seed records a population copies, and without a seed nothing is copied."
        )
        raise ConfigError(msg)
    attributes = data.get("attributes", {})
    for key in attributes:
        if key not in {"age", "income"}:
            hint = closest_hint(key, ["age", "income"])
            msg = f"`{path}` attributes: unknown attribute `{key}`. {hint}"
            raise ConfigError(msg)
    return PopulationConfig(
        marginals=tuple(marginals),
        seed=_build(SeedConfig, data["seed"], f"`{path}` seed", base, ("persons", "households"))
        if "seed" in data
        else None,
        geography=_build(GeographyConfig, data["geography"], f"`{path}` geography", base, ("file",))
        if "geography" in data
        else None,
        age=_build(AgeConfig, attributes["age"], f"`{path}` attributes.age", base)
        if "age" in attributes
        else None,
        income=_build(IncomeConfig, attributes["income"], f"`{path}` attributes.income", base)
        if "income" in attributes
        else None,
        fit=_build(FitConfig, data.get("fit", {}), f"`{path}` fit", base),
        privacy=_privacy(data["privacy"], f"`{path}` privacy") if "privacy" in data else None,
        source=path,
    )
