"""Reference files: the statistics generated data should reproduce, in TOML (read by `tomllib`).

A reference file is data, never code. Its layout::

    [reference]                  # optional
    title = "Riverton, census 2021"
    table = "persons"            # the table checks read unless they say otherwise

    [[check]]
    name = "age and sex by zone" # optional; unique; default: the kind and the columns
    kind = "frequencies"         # frequencies | distribution | correlation | rate
    table = "persons"            # optional: which table of the data (file name without suffix)
    where = { age = { min = 18, max = 64 } }   # optional row filter: value, [values] or range
    columns = ["zone", "age_band", "sex"]
    expected = "census/age_sex.csv"            # the columns plus `count` (or `share`)
    statistic = "srmse"          # optional: the kind's default statistic
    threshold = 0.05             # pass when the statistic is at most this

Keys by kind (the statistics are described in `abm.validate.checks`):

* ``frequencies``: ``columns``, ``expected`` (a CSV, Parquet or JSON Lines file relative to the
  reference file, or an inline table of arrays ``{ sex = ["female", "male"], share = [0.52,
  0.48] }``), ``compare`` (``"counts"`` or ``"shares"``; default: what ``expected`` gives);
  statistic ``srmse`` (default) or ``tvd``.
* ``distribution``: ``column`` and either ``quantiles = { p = [...], value = [...] }`` or
  ``sample = "file"`` (with ``sample_column``, default the same name); statistic ``ks``.
* ``correlation``: ``columns`` (two), ``value`` and ``method`` (``pearson``, ``spearman`` or
  ``kendall``); statistic ``abs_diff``.
* ``rate``: ``column``, ``equals`` (a value or a list; leave it out for a true/false column) and
  ``value``; statistic ``abs_diff`` (default) or ``z`` (binomial z-score).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from abm.validate.checks import COMMON_KEYS, KINDS, Check, Spec
from populations.errors import ConfigError, closest_hint

__all__ = ["Reference", "parse_reference", "read_reference"]

_TOP = ("reference", "check")
_META = ("title", "table", "description")


@dataclass(frozen=True)
class Reference:
    """A parsed reference file: its checks, in file order."""

    source: str
    checks: tuple[Check, ...]
    title: str = ""
    table: str | None = None
    description: str = ""


def read_reference(path: str | Path) -> Reference:
    """Read and check a reference file (see the module docstring for its layout).

    Files a check names (``expected``, ``sample``) are read now, relative to the reference
    file's folder.

    Raises
    ------
    ConfigError
        If the file is missing or not TOML, or a check is malformed: an unknown kind or key
        (with the closest one), a missing key, a value of the wrong type, an unreadable file.
    """
    path = Path(path)
    if not path.is_file():
        msg = f"reference file `{path}` not found. Hint: give the path to a .toml file."
        raise ConfigError(msg)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        msg = f"reference file `{path}` is not valid TOML: {exc}"
        raise ConfigError(msg) from None
    return parse_reference(data, source=str(path), base=path.parent)


def parse_reference(
    data: Mapping[str, Any], *, source: str = "<reference>", base: str | Path = "."
) -> Reference:
    """A reference from already parsed TOML data; relative file names are taken from `base`."""
    base = Path(base)
    for key in data:
        if key not in _TOP:
            msg = f"`{source}`: unknown top-level key `{key}`. " + closest_hint(key, _TOP)
            raise ConfigError(msg)
    meta = data.get("reference", {})
    if not isinstance(meta, Mapping):
        msg = f"`{source}`: [reference] must be a table, got {meta!r}."
        raise ConfigError(msg)
    for key in meta:
        if key not in _META:
            msg = f"`{source}`: unknown key `reference.{key}`. " + closest_hint(key, _META)
            raise ConfigError(msg)
    for key in _META:
        if key in meta and not isinstance(meta[key], str):
            msg = f"`{source}`: `reference.{key}` must be a string, got {meta[key]!r}."
            raise ConfigError(msg)
    specs = data.get("check")
    if not isinstance(specs, list) or not specs:
        msg = (
            f"`{source}` lists no checks. Hint: add [[check]] tables, e.g.\n"
            '[[check]]\nkind = "rate"\ncolumn = "employed"\nvalue = 0.6\nthreshold = 0.02'
        )
        raise ConfigError(msg)
    checks: list[Check] = []
    names: set[str] = set()
    for i, raw in enumerate(specs, start=1):
        checks.append(_parse_check(raw, i, source, base, names))
    return Reference(
        source=source,
        checks=tuple(checks),
        title=meta.get("title", ""),
        table=meta.get("table"),
        description=meta.get("description", ""),
    )


def _parse_check(raw: Any, i: int, source: str, base: Path, names: set[str]) -> Check:
    label = f"`{source}`, check {i}"
    if not isinstance(raw, Mapping):
        msg = f"{label}: expected a [[check]] table, got {raw!r}."
        raise ConfigError(msg)
    given = raw.get("name")
    if given is not None:
        if not isinstance(given, str) or not given:
            msg = f"{label}: `name` must be a non-empty string, got {given!r}."
            raise ConfigError(msg)
        label = f"`{source}`, check {i} (`{given}`)"
    kind = raw.get("kind")
    if kind is None:
        msg = f"{label}: missing key `kind`. Hint: one of " + ", ".join(KINDS) + "."
        raise ConfigError(msg)
    if kind not in KINDS:
        msg = f"{label}: unknown kind `{kind}`. " + closest_hint(str(kind), KINDS)
        raise ConfigError(msg)
    cls = KINDS[kind]
    allowed = (*COMMON_KEYS, *cls.KEYS)
    for key in raw:
        if key not in allowed:
            msg = f"{label}: unknown key `{key}` for a {kind} check. " + closest_hint(key, allowed)
            raise ConfigError(msg)
    spec = Spec(raw, label, base)
    if given is None:
        cols = raw.get("columns", raw.get("column"))
        cols = [cols] if isinstance(cols, str) else cols
        name = f"{kind} of {'/'.join(map(str, cols))}" if isinstance(cols, list) else kind
        base_name, k = name, 2
        while name in names:
            name, k = f"{base_name} ({k})", k + 1
    else:
        name = given
        if name in names:
            msg = f"{label}: another check is named `{name}` already. Hint: names are unique."
            raise ConfigError(msg)
    names.add(name)
    return cls.from_spec(spec, name)
