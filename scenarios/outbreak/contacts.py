"""The contact layers of the outbreak: built from the persons table, or taken from a graph.

`build_contacts` returns an `abm.networks.MultiLayerNetwork` over the persons' rows with the
layers ``household``, ``school``, ``workplace``, ``community`` (`LAYERS`): built by
`abm.networks.contact_layers` from a persons table, or read from a networkx graph whose edges
carry a ``layer`` attribute (edges without one are community contacts). `ContactState` keeps
which layers are open (school closure) and their contact multipliers (distancing), and returns
the adjacency matrices the transmission kernel reads, in `LAYERS` order.
"""

from __future__ import annotations

from typing import Any

import networkx as nx
import numpy as np
import polars as pl
from scipy import sparse

from abm.networks import LAYERS, MultiLayerNetwork, contact_layers
from populations.errors import ConfigError

__all__ = ["LAYERS", "ContactState", "build_contacts"]


def build_contacts(
    persons: pl.DataFrame,
    *,
    graph: Any = None,
    zone_distance: np.ndarray | None = None,
    rng: Any = None,
) -> MultiLayerNetwork:
    """The four contact layers of `persons` (row ``i`` is node ``i``).

    With `graph` (a networkx graph or a `MultiLayerNetwork`), its edges are the contacts: graph
    nodes are matched to ``persons["person_id"]``; an edge's ``layer`` attribute names its layer
    (default ``community``). Without it, `abm.networks.contact_layers` builds them from the
    households, ages, employment and zones of `persons`, from the seed `rng`; with
    `zone_distance` (zones x zones, in the order of the zone column's categories) community
    partners and commutes follow a distance-decay kernel between zones.
    """
    if graph is None:
        params = None
        if zone_distance is not None:
            kernel = {"distance": np.asarray(zone_distance, dtype=float), "p_within": None}
            params = {"community": kernel, "workplace": kernel}
        return contact_layers(persons, params=params, rng=rng)
    if isinstance(graph, MultiLayerNetwork):
        net = graph
    elif isinstance(graph, nx.Graph):
        net = MultiLayerNetwork.from_networkx(
            graph, default_layer="community", nodes=persons["person_id"].to_list()
        )
    else:
        msg = (
            f"`graph` must be a networkx graph or a MultiLayerNetwork, got {type(graph).__name__}."
        )
        raise ConfigError(msg)
    if net.n_nodes != persons.height:
        msg = f"the contact network has {net.n_nodes} nodes for {persons.height} persons."
        raise ConfigError(msg)
    unknown = [name for name in net.layers if name not in LAYERS]
    if unknown:
        msg = (
            f"the contact network has layer(s) {', '.join(f'`{u}`' for u in unknown)}, which the "
            f"outbreak has no transmission probability for. Hint: use {', '.join(LAYERS)}."
        )
        raise ConfigError(msg)
    return net


class ContactState:
    """Open layers and contact multipliers of a `MultiLayerNetwork`, changed by interventions."""

    def __init__(self, network: MultiLayerNetwork) -> None:
        self.network = network
        self.open = dict.fromkeys(LAYERS, True)
        self.multiplier = dict.fromkeys(LAYERS, 1.0)
        self._empty = sparse.csr_array((network.n_nodes, network.n_nodes), dtype=np.float64)

    def adjacencies(self) -> list[sparse.csr_array]:
        """One weighted CSR adjacency per layer of `LAYERS` (empty when closed or absent)."""
        return [
            self.network.adjacency(name)
            if self.open[name] and name in self.network
            else self._empty
            for name in LAYERS
        ]

    def multipliers(self) -> list[float]:
        return [self.multiplier[name] for name in LAYERS]
