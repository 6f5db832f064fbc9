"""What every report has, whatever the folder's kind: the context (how to name time, labels,
the scenario's parameter descriptions), what was run, the assumptions and the manifest; and the
helpers the kinds' sections share."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from abm.report import plots, wording
from abm.report.folders import ResultFolder
from abm.report.html import Markup, Section, figure, paragraph, table, tag
from abm.report.wording import Steps
from populations.errors import ConfigError, closest_hint

MAX_CATEGORIES = 60
"""Group columns with more categories than this get no bar chart (too many bars to read)."""


@dataclass
class Context:
    """What every section needs: the folder, how to name time, the user's labels and choice of
    outcomes, and the scenario's parameter descriptions (when it is installed)."""

    folder: ResultFolder
    steps: Steps
    labels: dict[str, str] = field(default_factory=dict)
    outcomes: list[str] | None = None
    params_info: dict[str, dict[str, Any]] = field(default_factory=dict)
    summary: str = ""

    def outcome(self, name: str) -> str:
        return wording.outcome_label(name, self.steps, self.labels)

    def kpi(self, name: str) -> str:
        return wording.kpi_label(name, self.labels)


# --------------------------------------------------------------------------- helpers


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def show(value: Any) -> str:
    """A parameter value as it would be typed (TOML-like)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        short = f"{value:g}"
        return short if float(short) == value else repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(show(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k} = {show(v)}" for k, v in value.items()) + "}"
    if value is None:
        return "(none)"
    return str(value)


def scenario_info(name: str | None) -> tuple[str | None, dict[str, dict[str, Any]], str]:
    """The installed scenario's steps parameter, parameter descriptions and summary (or
    nothing, when it is not installed: a report is still made from the files alone)."""
    if not name:
        return None, {}, ""
    try:
        from abm.params import describe_params
        from abm.registry import load_scenario

        scenario = load_scenario(name)
        rows = {r["name"]: r for r in describe_params(scenario.parameters)}
    except Exception:  # a missing or broken plugin only costs the descriptions
        return None, {}, ""
    return scenario.steps, rows, scenario.summary


def make_context(
    folder: ResultFolder, *, labels: Mapping[str, str] | None, outcomes: Sequence[str] | None
) -> Context:
    steps_param, info, summary = scenario_info(folder.scenario)
    params = flatten(folder.manifest.get("parameters") or {})
    count: int | None = None
    unit = "step"
    if steps_param and isinstance(params.get(steps_param), int):
        count = int(params[steps_param])
        raw_unit = str(info.get(steps_param, {}).get("unit") or "")
        if raw_unit:
            unit = raw_unit[:-1] if raw_unit.endswith("s") else raw_unit
    elif folder.kpis is not None and folder.kpis.height:
        count = int(folder.kpis["step"].n_unique())
    return Context(
        folder=folder,
        steps=Steps(count, unit),
        labels=dict(labels or {}),
        outcomes=list(outcomes) if outcomes else None,
        params_info=info,
        summary=summary,
    )


def choose(ctx: Context, available: Sequence[str], what: str) -> list[str]:
    """The outcomes to show: the user's choice (checked, in their order) or all available."""
    if ctx.outcomes is None:
        return list(available)
    for name in ctx.outcomes:
        if name not in available:
            msg = f"unknown outcome `{name}` for this {what}. " + closest_hint(name, available)
            raise ConfigError(msg)
    return list(ctx.outcomes)


def confidence_of(ctx: Context) -> float:
    value = ctx.folder.manifest.get("confidence", 0.95)
    return float(value) if isinstance(value, int | float) and 0 < value < 1 else 0.95


def embed(uri_fig: Any, alt: str, caption: str | Markup) -> Markup:
    uri = plots.to_data_uri(uri_fig)
    return figure(uri, alt, caption)


def headline_list(items: Sequence[tuple[str, bool]]) -> Markup:
    """The headline list: (sentence, clear) pairs; unclear ones are shown muted."""
    return tag(
        "ul",
        *(tag("li", s, class_=None if clear else "unclear") for s, clear in items),
        class_="headline",
    )


def replicate_count(ctx: Context) -> int:
    n = ctx.folder.manifest.get("replicates")
    if isinstance(n, int) and n > 0:
        return n
    kpis = ctx.folder.kpis
    return int(kpis["replicate"].n_unique()) if kpis is not None and kpis.height else 1


# --------------------------------------------------------------------------- what was run


_KIND_WORDS = {
    "run": "One simulation run",
    "replicates": "Replicate runs: the same parameters, each run with its own random streams",
    "whatif": "What-if comparison: a baseline against policies, run on paired replicates",
    "sweep": "Parameter sweep: the scenario run at each point of a design",
    "sensitivity": "Global sensitivity analysis: how much each parameter drives the outcomes",
}


def _describe_vary(vary: Any) -> str:
    """What a sweep varied, in words: ``rate from 0.01 to 0.04; priority in oldest, random``.

    Takes a range as ``[low, high]`` or ``{"low": .., "high": ..}`` and values as a list or
    ``{"values": [...]}``."""
    if isinstance(vary, Mapping):
        parts = []
        for name, spec in vary.items():
            if isinstance(spec, Mapping) and "low" in spec and "high" in spec:
                parts.append(f"{name} from {show(spec['low'])} to {show(spec['high'])}")
            elif isinstance(spec, Mapping) and isinstance(spec.get("values"), list | tuple):
                parts.append(f"{name} in {', '.join(show(v) for v in spec['values'])}")
            elif (
                isinstance(spec, list | tuple)
                and len(spec) == 2
                and all(isinstance(v, int | float) for v in spec)
            ):
                parts.append(f"{name} from {show(spec[0])} to {show(spec[1])}")
            elif isinstance(spec, list | tuple):
                parts.append(f"{name} in {', '.join(show(v) for v in spec)}")
            else:
                parts.append(f"{name}: {show(spec)}")
        return "; ".join(parts)
    if isinstance(vary, list | tuple):
        return ", ".join(show(v) for v in vary)
    return show(vary)


def what_was_run(ctx: Context, *, now: datetime) -> Section:
    folder, m = ctx.folder, ctx.folder.manifest
    facts: list[tuple[str, object]] = [("What", _KIND_WORDS[folder.kind])]
    if folder.scenario:
        summary = f" ({ctx.summary})" if ctx.summary else ""
        facts.append(("Scenario", f"{folder.scenario}{summary}"))
    if ctx.steps.count is not None:
        facts.append(("Length", f"{ctx.steps.count:,} {ctx.steps.plural}"))
    if "seed" in m:
        facts.append(("Random seed", m["seed"]))
    if folder.kind != "run":
        facts.append(("Replicates", replicate_count(ctx)))
    if folder.kind == "whatif":
        crn = m.get("common_random_numbers")
        if crn is not None:
            crn_words = (
                "yes: each policy run reuses its baseline run's random draws, so a difference "
                "is the policy's effect, not chance"
                if crn
                else "no: arms use independent random streams"
            )
            facts.append(("Common random numbers", crn_words))
        facts.append(("Confidence level", f"{confidence_of(ctx) * 100:g}%"))
    for key, label in (("design", "Design"), ("method", "Method")):
        if key in m:
            facts.append((label, show(m[key])))
    if "vary" in m:
        facts.append(("Varied", _describe_vary(m["vary"])))
    version = m.get("version") or m.get("synthworld")
    if version:
        facts.append(("synthworld version", version))
    created = m.get("created")
    facts.append(
        (
            "Run date",
            created
            if created
            else "not recorded (run files carry no timestamp, so the same seed "
            "gives the same files)",
        )
    )
    if "parameters_sha256" in m:
        facts.append(("Parameters hash", Markup(tag("code", str(m["parameters_sha256"])[:16]))))
    facts.append(("Results folder", Markup(tag("code", str(folder.path)))))
    facts.append(("Report made", now.strftime("%Y-%m-%d %H:%M UTC")))
    body = tag("dl", *(Markup(tag("dt", k) + tag("dd", v)) for k, v in facts), class_="facts")
    return Section("what-was-run", "What was run", [body])


# --------------------------------------------------------------------------- what-if


def policy_names(ctx: Context) -> list[str]:
    declared = ctx.folder.manifest.get("policies")
    found = ctx.folder.tables["comparisons"]["policy"].unique(maintain_order=True).to_list()
    if isinstance(declared, Mapping):
        return [p for p in declared if p in found] + [p for p in found if p not in declared]
    return found


def policy_changes(ctx: Context, policy: str) -> list[tuple[str, Any, Any]]:
    declared = ctx.folder.manifest.get("policies")
    changes = declared.get(policy) if isinstance(declared, Mapping) else None
    if not isinstance(changes, Mapping):
        return []
    base = flatten(ctx.folder.manifest.get("parameters") or {})
    return [(k, base.get(k), v) for k, v in flatten(changes).items()]


# --------------------------------------------------------------------------- assumptions


def assumptions(ctx: Context) -> Section:
    section = Section("assumptions", "Assumptions")
    params = flatten(ctx.folder.manifest.get("parameters") or {})
    if ctx.folder.kind == "whatif":
        rows = []
        for policy in policy_names(ctx):
            for key, base, value in policy_changes(ctx, policy):
                info = ctx.params_info.get(key, {})
                rows.append(
                    (
                        policy,
                        Markup(tag("code", key)),
                        show(base),
                        show(value),
                        str(info.get("unit", "")),
                        str(info.get("help", "")),
                    )
                )
        if rows:
            section.add(
                table(
                    ["policy", "parameter", "baseline", "policy", "unit", "meaning"],
                    rows,
                    caption="What each policy changes.",
                )
            )
    if params:
        rows = []
        for key, value in params.items():
            info = ctx.params_info.get(key, {})
            rows.append(
                (
                    Markup(tag("code", key)),
                    show(value),
                    str(info.get("unit", "")),
                    str(info.get("help", "")),
                )
            )
        caption = (
            "The parameters every run used"
            + (" (the baseline's, for a what-if)" if ctx.folder.kind == "whatif" else "")
            + (
                "; design points change the varied ones"
                if ctx.folder.kind in ("sweep", "sensitivity")
                else ""
            )
            + "."
        )
        section.add(table(["parameter", "value", "unit", "meaning"], rows, caption=caption))
    else:
        section.add(paragraph("The manifest records no parameters.", class_="note"))
    return section


def manifest_section(ctx: Context) -> Section:
    text = json.dumps(ctx.folder.manifest, indent=2, sort_keys=False, default=str)
    section = Section("manifest", "Manifest")
    section.add(
        paragraph(
            "What is needed to repeat or audit these results: the version, seed and "
            "parameters (and, where recorded, each file's rows and sha256), as written in ",
            tag("code", ctx.folder.manifest_name),
            ".",
        )
    )
    section.add(
        tag("details", tag("summary", f"Show {ctx.folder.manifest_name}"), tag("pre", text))
    )
    return section


def headline_outcomes(available: Sequence[str]) -> list[str]:
    """By default the headline shows each KPI by its measure (`summaries.measure`): totals of
    ``new_...`` counts, levels at the end; all outcomes if none has that form."""
    preferred = [
        o
        for o in available
        if (o.startswith("new_") and o.endswith("_sum"))
        or (not o.startswith("new_") and o.endswith("_last"))
    ]
    return preferred or list(available)
