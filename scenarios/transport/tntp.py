"""Read the transport research community's TNTP files (``*_net.tntp``, ``*_trips.tntp``,
``*_node.tntp``), as published in the Transportation Networks for Research repository.

The format: a metadata header of ``<KEY> value`` lines (``<NUMBER OF ZONES>``, ``<NUMBER OF
NODES>``, ``<FIRST THRU NODE>``, ``<NUMBER OF LINKS>``, ``<TOTAL OD FLOW>``...) closed by
``<END OF METADATA>``; ``~`` starts a comment (to the end of the line); a ``;`` ends a record.
A network file has one link a line: init node, term node, capacity, length, free-flow time, B,
power, speed limit, toll, link type (the column order is read from the ``~`` header line above
the links when there is one). A trips file has ``Origin i`` followed by ``j : flow;`` entries. A
node file has ``node X Y`` rows.

Zones are nodes ``1 .. <NUMBER OF ZONES>``; those below ``<FIRST THRU NODE>`` may start and end
trips but not be passed through (`scenarios.transport.network` gives them a twin).

Units: free-flow times are read as minutes (``time_unit=60`` seconds each) and lengths as
given (``length_unit=1``; pass 1609.344 for miles, 1000 for km). A mistake in a file (a missing
column, a value that is not a number, a negative capacity, a link to a node the node file does
not list) raises `populations.errors.ConfigError` naming the file and line.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np

from populations.errors import ConfigError

__all__ = ["read_tntp_network", "read_tntp_nodes", "read_tntp_trips"]

_META = re.compile(r"^\s*<([^>]+)>\s*(.*?)\s*$")
_ENTRY = re.compile(r"(\d+)\s*:\s*([^;\s]+)\s*;?")
_COLUMNS = {
    "initnode": "init",
    "init": "init",
    "from": "init",
    "termnode": "term",
    "term": "term",
    "to": "term",
    "capacity": "capacity",
    "length": "length",
    "freeflowtime": "free_flow_time",
    "fft": "free_flow_time",
    "b": "b",
    "power": "power",
    "speedlimit": "speed",
    "speed": "speed",
    "toll": "toll",
    "type": "link_type",
    "linktype": "link_type",
}
_STANDARD = (
    "init",
    "term",
    "capacity",
    "length",
    "free_flow_time",
    "b",
    "power",
    "speed",
    "toll",
    "link_type",
)
_REQUIRED = ("init", "term", "capacity", "length", "free_flow_time")


def _read(path: str | Path) -> tuple[Path, list[str]]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig", errors="replace")
    except FileNotFoundError:
        msg = f"TNTP file `{path}` does not exist."
        raise ConfigError(msg) from None
    except OSError as exc:
        msg = f"TNTP file `{path}` cannot be read: {exc.strerror}."
        raise ConfigError(msg) from None
    return path, text.splitlines()


def _metadata(path: Path, lines: list[str]) -> tuple[dict[str, str], int, list[str]]:
    """The metadata, the index of the first line after it, and the comment lines met."""
    meta: dict[str, str] = {}
    comments: list[str] = []
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("~"):
            comments.append(stripped)
            continue
        m = _META.match(line)
        if m:
            key = m.group(1).strip().upper()
            if key == "END OF METADATA":
                return meta, i + 1, comments
            meta[key] = m.group(2).split("~")[0].strip()
            continue
        if stripped:
            break
    if meta:
        msg = f"{path}: the metadata has no `<END OF METADATA>` line."
        raise ConfigError(msg)
    return meta, 0, comments


def _meta_int(path: Path, meta: dict[str, str], key: str) -> int | None:
    if key not in meta:
        return None
    try:
        return int(float(meta[key]))
    except ValueError:
        msg = f"{path}: metadata `<{key}>` = {meta[key]!r} is not a number."
        raise ConfigError(msg) from None


def _header(comment: str) -> list[str] | None:
    """Column names from a ``~ Init node Term node ...`` line (None if it is not one).

    Words are joined into the longest known column name (``free flow time``), so the header
    may be separated by tabs or single spaces.
    """
    words = [w for w in re.split(r"\s+", comment.lstrip("~").replace(";", " ")) if w]
    keys = [re.sub(r"[^a-z]", "", w.lower()) for w in words]
    names: list[str] = []
    i = 0
    while i < len(keys):
        for span in (3, 2, 1):
            joined = "".join(keys[i : i + span])
            if joined in _COLUMNS and (span == 1 or i + span <= len(keys)):
                names.append(_COLUMNS[joined])
                i += span
                break
        else:
            names.append(keys[i])
            i += 1
    if "init" not in names or "term" not in names:
        return None
    return names


def read_tntp_nodes(path: str | Path) -> dict[int, tuple[float, float]]:
    """Node coordinates ``{node: (x, y)}`` from a ``*_node.tntp`` file.

    Raises
    ------
    ConfigError
        For a row without three numbers (the file and line named).
    """
    path, lines = _read(path)
    _, start, _ = _metadata(path, lines)
    coords: dict[int, tuple[float, float]] = {}
    for lineno, line in enumerate(lines[start:], start=start + 1):
        text = line.split("~")[0].replace(";", " ").strip()
        if not text:
            continue
        parts = text.split()
        if not coords and not _is_number(parts[0]):
            continue  # the header row: "Node X Y"
        if len(parts) < 3:
            msg = f"{path}:{lineno}: expected `node x y`, found {line.strip()!r}."
            raise ConfigError(msg)
        try:
            node, x, y = int(float(parts[0])), float(parts[1]), float(parts[2])
        except ValueError:
            msg = f"{path}:{lineno}: `node x y` must be numbers, found {line.strip()!r}."
            raise ConfigError(msg) from None
        coords[node] = (x, y)
    if not coords:
        msg = f"{path}: no node rows found. Hint: rows are `node x y`, one a line."
        raise ConfigError(msg)
    return coords


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_tntp_network(
    path: str | Path,
    *,
    nodes: str | Path | None = None,
    time_unit: float = 60.0,
    length_unit: float = 1.0,
) -> nx.MultiDiGraph:
    """A road network from a ``*_net.tntp`` file (and coordinates from a ``*_node.tntp``).

    Parameters
    ----------
    path : path of the network file.
    nodes : path of the node file, optional: gives the nodes ``x`` and ``y``, and every link's
        ends must then be listed there.
    time_unit : seconds per unit of free-flow time in the file (60: minutes).
    length_unit : metres per unit of length in the file.

    Returns
    -------
    networkx.MultiDiGraph
        Links with ``length`` (m), ``capacity``, ``free_time`` (s), ``alpha`` (B), ``beta``
        (power), ``toll`` and ``speed`` when given; nodes ``1 .. <NUMBER OF ZONES>`` carry
        ``zone`` (the zone number as text); ``graph.graph`` holds ``metadata``,
        ``no_through`` and ``comments`` (the ``~`` lines).

    Examples
    --------
    >>> from scenarios.transport.data import data_file
    >>> g = read_tntp_network(data_file("two_route_net.tntp"))
    >>> g.number_of_edges(), g.graph["metadata"]["NUMBER OF ZONES"]
    (4, '2')
    """
    path, lines = _read(path)
    meta, start, comments = _metadata(path, lines)
    n_zones = _meta_int(path, meta, "NUMBER OF ZONES")
    first_thru = _meta_int(path, meta, "FIRST THRU NODE") or 1
    n_links = _meta_int(path, meta, "NUMBER OF LINKS")
    coords = read_tntp_nodes(nodes) if nodes is not None else None

    columns: list[str] | None = None
    for comment in reversed(comments):
        columns = _header(comment)
        if columns:
            break
    g = nx.MultiDiGraph(name=path.stem)
    count = 0
    for lineno, line in enumerate(lines[start:], start=start + 1):
        body, _, comment = line.partition("~")
        if comment and not body.strip():
            comments.append(line.strip())
            if count == 0 and columns is None:
                columns = _header("~" + comment)
        text = body.replace(";", " ").strip()
        if not text:
            continue
        parts = text.split()
        names = columns or list(_STANDARD[: len(parts)])
        missing = [c for c in _REQUIRED if c not in names]
        if missing:
            msg = (
                f"{path}:{lineno}: the links have no column "
                + ", ".join(f"`{m.replace('_', ' ')}`" for m in missing)
                + f" (columns: {', '.join(names)}). Hint: TNTP links give init node, term "
                "node, capacity, length and free flow time, in that order."
            )
            raise ConfigError(msg)
        if len(parts) < len(names):
            need = max(names.index(c) for c in _REQUIRED) + 1
            if len(parts) < need:
                msg = (
                    f"{path}:{lineno}: expected {len(names)} values ({', '.join(names)}), "
                    f"found {len(parts)}: {line.strip()!r}."
                )
                raise ConfigError(msg)
        row: dict[str, float] = {}
        for name, value in zip(names, parts, strict=False):
            try:
                row[name] = float(value)
            except ValueError:
                msg = f"{path}:{lineno}: `{name.replace('_', ' ')}` = {value!r} is not a number."
                raise ConfigError(msg) from None
        u, v = int(row["init"]), int(row["term"])
        for name in ("capacity", "length", "free_flow_time", "b", "power", "toll"):
            if row.get(name, 0.0) < 0:
                msg = (
                    f"{path}:{lineno}: link ({u}, {v}) has a negative "
                    f"{name.replace('_', ' ')} ({row[name]:g})."
                )
                raise ConfigError(msg)
        if row["capacity"] == 0:
            msg = f"{path}:{lineno}: link ({u}, {v}) has capacity 0; it would never carry flow."
            raise ConfigError(msg)
        if coords is not None:
            for end in (u, v):
                if end not in coords:
                    msg = (
                        f"{path}:{lineno}: link ({u}, {v}) leads to node {end}, which the "
                        f"node file {nodes} does not list."
                    )
                    raise ConfigError(msg)
        attrs: dict[str, Any] = {
            "capacity": row["capacity"],
            "length": row["length"] * length_unit,
            "free_time": row["free_flow_time"] * time_unit,
            "toll": row.get("toll", 0.0),
            "kind": "road",
        }
        if "b" in row:
            attrs["alpha"] = row["b"]
        if "power" in row:
            attrs["beta"] = row["power"]
        if row.get("speed", 0.0) > 0:
            attrs["speed_limit"] = row["speed"]
        g.add_edge(u, v, **attrs)
        count += 1
    if count == 0:
        msg = f"{path}: no links found after the metadata."
        raise ConfigError(msg)
    if n_links is not None and n_links != count:
        msg = f"{path}: the metadata says {n_links} links, the file has {count}."
        raise ConfigError(msg)
    if coords is not None:
        for node, (x, y) in coords.items():
            g.add_node(node, x=x, y=y)
    n_zones = n_zones if n_zones is not None else 0
    for z in range(1, n_zones + 1):
        if z not in g:
            msg = f"{path}: zone {z} (of <NUMBER OF ZONES> {n_zones}) is on no link."
            raise ConfigError(msg)
        g.nodes[z]["zone"] = str(z)
    g.graph["metadata"] = meta
    g.graph["comments"] = comments
    g.graph["no_through"] = [z for z in range(1, min(first_thru, n_zones + 1))]
    return g


def read_tntp_trips(path: str | Path) -> np.ndarray:
    """The trip table of a ``*_trips.tntp`` file: ``trips[i - 1, j - 1]`` from zone i to j.

    Raises
    ------
    ConfigError
        For an entry before any ``Origin`` line, a zone outside ``1 .. <NUMBER OF ZONES>``, a
        flow that is not a number or negative, or a total that differs from
        ``<TOTAL OD FLOW>`` by more than 0.1%.

    Examples
    --------
    >>> from scenarios.transport.data import data_file
    >>> read_tntp_trips(data_file("two_route_trips.tntp"))
    array([[   0., 4000.],
           [   0.,    0.]])
    """
    path, lines = _read(path)
    meta, start, _ = _metadata(path, lines)
    n_zones = _meta_int(path, meta, "NUMBER OF ZONES")
    if n_zones is None or n_zones < 1:
        msg = (
            f"{path}: the metadata has no `<NUMBER OF ZONES>`. "
            "Hint: TNTP trips files start with it."
        )
        raise ConfigError(msg)
    trips = np.zeros((n_zones, n_zones))
    origin: int | None = None
    for lineno, line in enumerate(lines[start:], start=start + 1):
        text = line.split("~")[0].strip()
        if not text:
            continue
        if text.lower().startswith("origin"):
            parts = text.split()
            try:
                origin = int(float(parts[1]))
            except (IndexError, ValueError):
                msg = f"{path}:{lineno}: expected `Origin <zone>`, found {line.strip()!r}."
                raise ConfigError(msg) from None
            if not 1 <= origin <= n_zones:
                msg = f"{path}:{lineno}: origin {origin} is not a zone (1 .. {n_zones})."
                raise ConfigError(msg)
            continue
        entries = _ENTRY.findall(text)
        if not entries:
            msg = f"{path}:{lineno}: expected `zone : flow;` entries, found {line.strip()!r}."
            raise ConfigError(msg)
        if origin is None:
            msg = f"{path}:{lineno}: flows before any `Origin` line."
            raise ConfigError(msg)
        for dest_text, flow_text in entries:
            dest = int(dest_text)
            if not 1 <= dest <= n_zones:
                msg = f"{path}:{lineno}: destination {dest} is not a zone (1 .. {n_zones})."
                raise ConfigError(msg)
            try:
                flow = float(flow_text)
            except ValueError:
                msg = f"{path}:{lineno}: the flow to {dest} = {flow_text!r} is not a number."
                raise ConfigError(msg) from None
            if flow < 0:
                msg = f"{path}:{lineno}: the flow from {origin} to {dest} is negative ({flow:g})."
                raise ConfigError(msg)
            trips[origin - 1, dest - 1] += flow
    total = meta.get("TOTAL OD FLOW")
    if total is not None:
        try:
            expected = float(total)
        except ValueError:
            msg = f"{path}: metadata `<TOTAL OD FLOW>` = {total!r} is not a number."
            raise ConfigError(msg) from None
        found = float(trips.sum())
        if abs(found - expected) > 1e-3 * max(abs(expected), 1.0):
            msg = (
                f"{path}: the flows add up to {found:,.6g}, but <TOTAL OD FLOW> says "
                f"{expected:,.6g}."
            )
            raise ConfigError(msg)
    return trips
