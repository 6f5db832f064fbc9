"""Plain-words sentences for reports: effects with their uncertainty, rounded sensibly.

A number is shown to the precision its uncertainty allows: an estimate and its interval are
rounded to the leading digit of the interval's half-width, or its first two digits when the
leading one is 1 (the convention of the Particle Data Group), so 3,412.7 with interval 2,913 to
3,912 reads "3,400 (95% interval 2,900 to 3,900)"; never to more than four significant digits
of the estimate itself. A change is "increases" or "reduces" only when its interval excludes
zero; otherwise the sentence says there is no clear effect.

Outcomes follow `abm.experiments.whatif.default_summary`: ``NAME_sum`` is a KPI summed over the
run's steps and ``NAME_last`` its value at the last step. KPIs named ``new_...`` count what
happened in a step, so their sum is a total ("new infections over the 120 days"); other KPIs
are levels (persons in a state), read at the end of the run.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Steps",
    "effect_sentence",
    "fmt_interval",
    "fmt_number",
    "fmt_percent",
    "fmt_value",
    "kpi_label",
    "outcome_label",
    "round_place",
    "spread_sentence",
]


@dataclass(frozen=True)
class Steps:
    """How a report names time: ``Steps(120, "day")`` reads "the 120 days", "day 45"."""

    count: int | None = None
    unit: str = "step"

    @property
    def plural(self) -> str:
        return self.unit if self.unit.endswith("s") else self.unit + "s"

    def span(self) -> str:
        """``the 120 days`` (or ``the run`` when the length is unknown)."""
        if self.count is None:
            return "the run"
        return f"the {self.count:,} {self.unit if self.count == 1 else self.plural}"

    def at(self, step: int) -> str:
        return f"{self.unit} {step:,}"


def round_place(half_width: float | None, value: float) -> float:
    """The decimal place to round `value` (and its interval) to.

    The leading digit of `half_width` (two digits when it is a 1) when there is one, else four
    significant digits of `value`; never finer than four significant digits of `value`.

    >>> round_place(499.5, 3412.7), round_place(1.5, 12.3), round_place(None, 3412.7)
    (100.0, 0.1, 1.0)
    >>> round_place(0.004, 0.0123)
    0.001
    """
    candidates = []
    if half_width is not None and math.isfinite(half_width) and half_width > 0:
        exponent = math.floor(math.log10(half_width))
        leading = int(half_width / 10.0**exponent + 1e-9)
        candidates.append(exponent - 1 if leading == 1 else exponent)
    if value and math.isfinite(value):
        candidates.append(math.floor(math.log10(abs(value))) - 3)
    if not candidates:
        return 1.0
    exponent = max(candidates) if len(candidates) == 2 else candidates[0]
    return 10.0**exponent


def fmt_number(x: float, place: float = 1.0) -> str:
    """`x` rounded to `place` (a power of ten) with thousands separators.

    >>> fmt_number(3412.7, 10.0), fmt_number(-0.012345, 0.001), fmt_number(-0.0004, 0.001)
    ('3,410', '-0.012', '0')
    """
    if not math.isfinite(x):
        return "n/a" if math.isnan(x) else ("infinite" if x > 0 else "minus infinite")
    decimals = max(0, -round(math.log10(place)))
    rounded = round(x / place) * place
    text = f"{rounded:,.{decimals}f}"
    return "0" if float(rounded) == 0 else text


def fmt_value(x: float) -> str:
    """A number without an interval: whole numbers in full, others to four significant digits.

    >>> fmt_value(12345.0), fmt_value(0.012345), fmt_value(1234.5678), fmt_value(0.67)
    ('12,345', '0.01234', '1,235', '0.67')
    """
    if math.isfinite(x) and float(x).is_integer() and abs(x) < 1e15:
        return f"{int(x):,}"
    text = fmt_number(x, round_place(None, x))
    return text.rstrip("0").rstrip(".") if "." in text else text


def fmt_interval(mean: float, low: float, high: float) -> tuple[str, str, str]:
    """`mean`, `low` and `high` rounded alike (see `round_place`).

    >>> fmt_interval(3412.7, 2913.0, 3912.0)
    ('3,400', '2,900', '3,900')
    """
    half = (high - low) / 2 if math.isfinite(high - low) else None
    place = round_place(half, mean if mean else max(abs(low), abs(high)))
    return fmt_number(mean, place), fmt_number(low, place), fmt_number(high, place)


def fmt_percent(ratio: float) -> str:
    """A ratio as a percentage: whole percents from 10% up, two significant digits below.

    >>> fmt_percent(0.2834), fmt_percent(0.0341), fmt_percent(1.52)
    ('28%', '3.4%', '152%')
    """
    pct = abs(ratio) * 100
    if pct == 0 or not math.isfinite(pct):
        return "0%"
    place = 1.0 if pct >= 10 else 10.0 ** (math.floor(math.log10(pct)) - 1)
    return fmt_number(pct, place) + "%"


def kpi_label(name: str, labels: Mapping[str, str] | None = None) -> str:
    """What a KPI is called in sentences: the user's label, else its name in words.

    >>> kpi_label("new_infections"), kpi_label("D", {"D": "deaths"})
    ('new infections', 'deaths')
    """
    if labels and name in labels:
        return labels[name]
    return name.replace("_", " ")


def outcome_label(
    outcome: str, steps: Steps = Steps(), labels: Mapping[str, str] | None = None
) -> str:
    """An outcome of `default_summary` in words.

    >>> outcome_label("new_infections_sum", Steps(120, "day"))
    'new infections over the 120 days'
    >>> outcome_label("H_sum", Steps(120, "day"), {"H": "persons in hospital"})
    'persons in hospital, summed over the 120 days'
    >>> outcome_label("D_last", Steps(120, "day"), {"D": "deaths"})
    'deaths at the end of the 120 days'
    """
    if labels and outcome in labels:
        return labels[outcome]
    for suffix in ("_sum", "_last"):
        if outcome.endswith(suffix) and len(outcome) > len(suffix):
            kpi = outcome[: -len(suffix)]
            words = kpi_label(kpi, labels)
            if suffix == "_last":
                return f"{words} at the end of {steps.span()}"
            if kpi.startswith("new_"):
                return f"{words} over {steps.span()}"
            return f"{words}, summed over {steps.span()}"
    return kpi_label(outcome, labels)


def effect_sentence(subject: str, outcome: str, row: Mapping[str, Any], confidence: float) -> str:
    """One sentence on a paired difference (a row of ``WhatIfResult.comparisons``).

    >>> row = {"n": 20, "baseline_mean": 12000.0, "policy_mean": 8587.3, "diff_mean": -3412.7,
    ...        "diff_sd": 1000.0, "ci_low": -3912.0, "ci_high": -2913.0}
    >>> effect_sentence("Vaccinating 60% from day 20", "new infections over 100 days", row, 0.95)
    'Vaccinating 60% from day 20 reduces new infections over 100 days by 3,400 (95% interval 2,900 to 3,900), or 28%: from 12,000 to 8,600 on average over 20 paired runs.'
    """  # noqa: E501
    n = int(row.get("n") or 0)
    d, lo, hi = (float(row[k]) for k in ("diff_mean", "ci_low", "ci_high"))
    base, pol = float(row["baseline_mean"]), float(row["policy_mean"])
    sd = row.get("diff_sd")
    level = f"{confidence * 100:g}%"
    runs = f"{n} paired run{'s' * (n != 1)}"
    if d == 0 and (sd == 0 or (lo == 0 and hi == 0)):
        return (
            f"{subject} leaves {outcome} unchanged in every one of the {runs} "
            f"({fmt_value(base)} on average)."
        )
    if not (math.isfinite(lo) and math.isfinite(hi)):
        place = round_place(None, d)
        verb = "increases" if d > 0 else "reduces"
        return (
            f"{subject} {verb} {outcome} by {fmt_number(abs(d), place)} in the {runs} (too "
            "few runs for an interval)."
        )
    mean_s, lo_s, hi_s = fmt_interval(d, lo, hi)
    place = round_place((hi - lo) / 2, base)
    levels = f"from {fmt_number(base, place)} to {fmt_number(pol, place)} on average over {runs}"
    if lo <= 0 <= hi:
        return (
            f"{subject} has no clear effect on {outcome}: the change is {mean_s} ({level} "
            f"interval {lo_s} to {hi_s}, which includes no change), {levels}."
        )
    if d > 0:
        verb, amount, low_s, high_s = "increases", mean_s, lo_s, hi_s
    else:  # a reduction, stated as positive amounts
        verb, amount, low_s, high_s = (
            "reduces",
            mean_s.lstrip("-"),
            hi_s.lstrip("-"),
            (lo_s.lstrip("-")),
        )
    pct = f", or {fmt_percent(d / base)}" if base else ""
    return (
        f"{subject} {verb} {outcome} by {amount} ({level} interval {low_s} to {high_s}){pct}: "
        f"{levels}."
    )


def spread_sentence(
    label: str, values: Sequence[float], *, mean_ci: tuple[float, float] | None = None
) -> str:
    """An outcome over replicates: its mean (with the interval of the mean, if given) and the
    spread of the runs (the middle 90% from 10 runs up, else the lowest and highest run).

    When every run is at least 0 (counts), a lower bound below 0 is shown as 0.

    >>> spread_sentence("new infections over the 60 days", [100.0, 120.0, 110.0])
    'New infections over the 60 days: 110 on average; the 3 runs ranged from 100 to 120.'
    """
    values = [float(v) for v in values]
    n = len(values)
    text = label[:1].upper() + label[1:]
    if n == 1:
        return f"{text}: {fmt_value(values[0])}."
    ordered = sorted(values)
    mean = sum(values) / n
    if ordered[0] == ordered[-1]:
        return f"{text}: {fmt_value(mean)} in every one of the {n} runs."
    if n >= 10:
        _, lo_s, hi_s = fmt_interval(mean, _quantile(ordered, 0.05), _quantile(ordered, 0.95))
        spread = f"90% of the {n} runs fell between {lo_s} and {hi_s}"
    else:
        spread = f"the {n} runs ranged from {fmt_value(ordered[0])} to {fmt_value(ordered[-1])}"
    if mean_ci is not None and all(map(math.isfinite, mean_ci)) and mean_ci[1] > mean_ci[0]:
        low = max(mean_ci[0], 0.0) if ordered[0] >= 0 else mean_ci[0]
        m, a, b = fmt_interval(mean, low, mean_ci[1])
        return f"{text}: {m} on average (95% interval {a} to {b}); {spread}."
    return f"{text}: {fmt_interval(mean, ordered[0], ordered[-1])[0]} on average; {spread}."


def _quantile(ordered: Sequence[float], q: float) -> float:
    """Linear-interpolation quantile of sorted values (numpy's default method)."""
    pos = q * (len(ordered) - 1)
    i = math.floor(pos)
    j = min(i + 1, len(ordered) - 1)
    return ordered[i] + (ordered[j] - ordered[i]) * (pos - i)
