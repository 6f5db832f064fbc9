"""The transport log as MATSim writes its outputs: ``output_events.xml.gz`` and
``output_network.xml.gz`` (``synthworld run transport --format matsim``).

The events file is MATSim's ``<events version="1.0">`` with one ``<event .../>`` per row of
the native log, in time order, the attributes named as the native columns (``time``,
``type``, ``person``, ``link``, ``vehicle``, ``actType``, ``legMode``, ``networkMode``,
``relativePosition``, ``distance``, ``mode``); a null column is left out of its event, as
MATSim does. The network file is MATSim's ``network_v2`` layout: nodes with ``x``, ``y``
(0 where the network has no coordinates) and links with ``from``, ``to``, ``length`` (m),
``freespeed`` (m/s), ``capacity`` (veh/h, ``capperiod`` one hour), ``permlanes`` and
``modes="car"``; ids are the compiled network's link and node numbers used by the log.
MATSim's own Python tools read both (``matsim.event_reader``, ``matsim.read_network``; package
``matsim-tools``).

The native log is read a row group at a time (``pyarrow``) and the XML lines are built by
polars, so memory stays bounded; the files are gzipped under a temporary name and renamed when
complete. A run with replicates gets one pair of files per shard in ``matsim/shard=0000k/``.
"""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from populations.errors import ConfigError
from populations.output import file_sha256

__all__ = ["export_matsim", "write_events_xml", "write_network_xml"]

_ATTRS = (
    "time",
    "type",
    "person",
    "link",
    "vehicle",
    "actType",
    "legMode",
    "networkMode",
    "relativePosition",
    "distance",
    "mode",
)


def _escaped(expr: pl.Expr) -> pl.Expr:
    return (
        expr.str.replace_all("&", "&amp;", literal=True)
        .str.replace_all("<", "&lt;", literal=True)
        .str.replace_all(">", "&gt;", literal=True)
        .str.replace_all('"', "&quot;", literal=True)
    )


def _lines(frame: pl.DataFrame) -> pl.Series:
    pieces = [pl.lit("\t<event")]
    for name in _ATTRS:
        if name not in frame.columns:
            continue
        col = pl.col(name)
        dtype = frame.schema[name]
        text = col.cast(pl.String)
        if dtype == pl.Float64:
            text = col.round(3).cast(pl.String)
        if dtype == pl.String or isinstance(dtype, pl.Enum):
            text = _escaped(text)
        pieces.append(
            pl.when(col.is_not_null())
            .then(pl.lit(f' {name}="') + text + pl.lit('"'))
            .otherwise(pl.lit(""))
        )
    pieces.append(pl.lit(" />\n"))
    return frame.select(pl.concat_str(pieces).alias("line"))["line"]


def write_events_xml(events_parquet: Path, target: Path) -> int:
    """Write MATSim events XML (gzipped) from a native Parquet log; return the events."""
    tmp = target.with_name(f".{target.name}.tmp")
    count = 0
    with gzip.open(tmp, "wt", encoding="utf-8", compresslevel=1, newline="\n") as out:
        out.write('<?xml version="1.0" encoding="utf-8"?>\n<events version="1.0">\n')
        source = pq.ParquetFile(events_parquet)
        for batch in source.iter_batches(batch_size=500_000):
            frame = pl.from_arrow(batch)
            assert isinstance(frame, pl.DataFrame)
            out.write("".join(_lines(frame).to_list()))
            count += frame.height
        out.write("</events>\n")
    os.replace(tmp, target)
    return count


def write_network_xml(links: pl.DataFrame, nodes: pl.DataFrame, target: Path) -> int:
    """Write a MATSim network (``network_v2``, gzipped) from the run's network tables."""
    tmp = target.with_name(f".{target.name}.tmp")
    node_lines = nodes.select(
        pl.format(
            '\t\t<node id="{}" x="{}" y="{}" />\n',
            pl.col("node"),
            pl.col("x").fill_nan(0.0).round(3),
            pl.col("y").fill_nan(0.0).round(3),
        )
    ).to_series()
    link_lines = links.select(
        pl.format(
            '\t\t<link id="{}" from="{}" to="{}" length="{}" freespeed="{}" capacity="{}" '
            'permlanes="{}" oneway="1" modes="car" />\n',
            pl.col("link"),
            pl.col("from_node"),
            pl.col("to_node"),
            pl.col("length").round(3),
            pl.col("freespeed").round(4),
            pl.col("capacity").round(3),
            pl.col("lanes").round(2),
        )
    ).to_series()
    with gzip.open(tmp, "wt", encoding="utf-8", compresslevel=6, newline="\n") as out:
        out.write(
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<!DOCTYPE network SYSTEM "http://www.matsim.org/files/dtd/network_v2.dtd">\n'
            "<network>\n\t<nodes>\n"
        )
        out.write("".join(node_lines.to_list()))
        out.write(
            '\t</nodes>\n\t<links capperiod="01:00:00" effectivecellsize="7.5" '
            'effectivelanewidth="3.75">\n'
        )
        out.write("".join(link_lines.to_list()))
        out.write("\t</links>\n</network>\n")
    os.replace(tmp, target)
    return links.height


def _record(manifest_file: Path, run: Path, files: dict[str, int]) -> None:
    manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
    exports = manifest.setdefault("exports", {})
    for rel, rows in files.items():
        exports[rel] = {"rows": rows, "sha256": file_sha256(run / rel)}
    tmp = manifest_file.with_name(f".{manifest_file.name}.tmp")
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, manifest_file)


def export_matsim(run: str | Path) -> dict[str, int]:
    """Write ``output_events.xml.gz`` and ``output_network.xml.gz`` for the run in `run`.

    Returns the files written (relative to `run`) and their rows (events, links).

    Raises
    ------
    ConfigError
        If `run` holds no Parquet transport log.
    """
    run = Path(run)
    files: dict[str, int] = {}
    if (run / "manifest.json").is_file():
        units = [(run / "manifest.json", "")]
    else:
        shards = sorted((run / "manifests").glob("shard=*.json"))
        units = [(m, f"matsim/{m.stem}/") for m in shards]
        if not units:
            msg = f"`{run}` holds no finished run (no manifest.json). Hint: run the scenario first."
            raise ConfigError(msg)
    for manifest_file, prefix in units:
        manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
        if manifest.get("format") != "parquet":
            msg = (
                f"the MATSim export reads the Parquet log, but `{run}` holds a "
                f"{manifest.get('format')} log. Hint: run with --format matsim."
            )
            raise ConfigError(msg)
        extras = manifest.get("extras", {})
        if "network_links" not in extras:
            msg = f"`{run}` has no network tables. Hint: is it a transport run?"
            raise ConfigError(msg)
        if prefix:
            (run / prefix).mkdir(parents=True, exist_ok=True)
        events = run / manifest["events"]
        rel_events = f"{prefix}output_events.xml.gz"
        rel_network = f"{prefix}output_network.xml.gz"
        written = {
            rel_events: write_events_xml(events, run / rel_events),
            rel_network: write_network_xml(
                pl.read_parquet(run / extras["network_links"]),
                pl.read_parquet(run / extras["network_nodes"]),
                run / rel_network,
            ),
        }
        _record(manifest_file, run, written)
        files.update(written)
    return files


EXPORTS = {"matsim": export_matsim}
"""Export formats of the transport scenario (``synthworld run transport --format NAME``)."""
