"""Small networks shipped with the transport scenario, for tests, docs and examples.

``two_route_*.tntp``: two zones joined by two routes, in TNTP format (written by hand for
synthworld): from zone 1 to zone 2 either by node 3 (10 minutes free-flow, capacity 2,000
veh/h) or by node 4 (15 minutes, 3,000 veh/h), BPR with B = 0.15 and power 4, and 4,000
vehicles an hour from 1 to 2. At the user equilibrium both routes take the same time, which
`scipy.optimize.brentq` finds from that one equation (the known answer the Frank-Wolfe
assignment is tested against).
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

__all__ = ["data_file"]


def data_file(name: str) -> Path:
    """The path of a file shipped in this folder (e.g. ``two_route_net.tntp``)."""
    return Path(str(files("scenarios.transport.data") / name))
