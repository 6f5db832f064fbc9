"""Benchmark: one SIR epidemic three ways: hybrid Mesa model, numpy kernel, per-agent Mesa.

What is measured
----------------
An SIR epidemic on a Watts-Strogatz graph (default 100,000 nodes, k = 10, p = 0.1, built by
networkx and compiled once to CSR with ``nx.to_scipy_sparse_array``). Each step: infected
agents recover with probability `gamma`; then susceptible agents with ``k`` neighbours infected
before this step are infected with probability ``1 - (1 - beta)**k``.

* ``hybrid``: `abm.model.SynthModel` with `abm.agents.ColumnAgent` agents (one Mesa agent per
  node, state in numpy columns) and the two rules vectorised over the columns, drawing from
  keyed draws (`abm.rng.KeyedDraws`) by agent id;
* ``numpy``: the yardstick, the same two rules as a plain numpy / scipy.sparse loop with the
  same keyed draws, so its final state must equal the hybrid's (``identical``);
* ``mesa``: a plain Mesa model, one ``mesa.Agent`` per node with its neighbours in a list and
  a Python ``step()`` (``agents.shuffle_do("step")``), drawing from Mesa's own ``random``
  (the cheapest draw per agent: this flatters Mesa). By default it runs the same graph for the
  same steps (about 12 s), once (``--mesa-repeat``): its cost per agent-step depends on the phase
  of the epidemic (a susceptible agent loops over its neighbours, a recovered one does nothing)
  and on the population's size (100,000 agents miss the CPU caches more than 10,000: per
  agent-step, Mesa on a 10,000-node subgraph is about twice as fast), so a shorter or smaller
  run would not compare like with like. ``--mesa-n`` runs it on the subgraph of the first nodes
  instead (initial infections scaled down), for quick runs.

Throughput is agent-steps per second (nodes x steps / seconds), timed over `steps` steps after
the model is built (build times are reported apart: ``*_build_s``; ``hybrid_lazy_build_s`` is
the hybrid built with ``create_views=False``, columns only). Each figure is the median of
``--repeat`` runs, taken round robin. Goals: hybrid/numpy >= 0.8 and hybrid/mesa >= 50
(DESIGN.md §2).

How to run
----------
From the project root::

    python bench/outbreak.py
    python bench/outbreak.py --n 20000 --steps 50 --mesa-n 5000 --repeat 3

One JSON object on stdout.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time

import mesa
import networkx as nx
import numpy as np
import scipy
from _common import emit, log

from abm.agents import ColumnAgent, column
from abm.model import SynthModel
from abm.rng import Streams

SUS, INF, REC = 0, 1, 2
GOAL_NUMPY = 0.8
GOAL_MESA = 50.0


def watts_strogatz_csr(n: int, k: int, p: float, seed: int):
    graph = nx.watts_strogatz_graph(n, k, p, seed=seed)
    adjacency = nx.to_scipy_sparse_array(graph, nodelist=range(n), format="csr")
    return adjacency.astype(np.float32)


def infection_table(adjacency, beta: float) -> np.ndarray:
    degree_max = int(np.diff(adjacency.indptr).max())
    return 1.0 - (1.0 - beta) ** np.arange(degree_max + 1)


def first_infected(seed: int, n: int, initial: int) -> np.ndarray:
    return Streams(seed)["seeding"].choice(n, initial, replace=False)


# ------------------------------------------------------------------------------ (i) hybrid


class Person(ColumnAgent):
    state = column(np.int8, default=SUS)
    infected_on = column(np.int32, default=-1)


class HybridSIR(SynthModel):
    """SIR on a contact graph. Rules: `recover`, then `infect`."""

    rules = ("recover", "infect")

    def __init__(self, adjacency, *, seed, beta, gamma, initial, create_views=True):
        super().__init__(seed=seed)
        self.adjacency = adjacency
        self.gamma = gamma
        self.p_infect = infection_table(adjacency, beta)
        n = adjacency.shape[0]
        people = self.add_agent_type(Person, n, create_views=create_views)
        people["state"][first_infected(seed, n, initial)] = INF
        self.recovers = self.keyed("recover")
        self.infects = self.keyed("infect")

    def recover(self):
        people, t = self.table(Person), self.clock.step
        rows = people.where(people["state"] == INF)
        people["state"][rows[self.recovers.bernoulli(t, people.ids[rows], self.gamma)]] = REC

    def infect(self):
        people, t = self.table(Person), self.clock.step
        state = people["state"]
        infectious = (state == INF) & (people["infected_on"] < t) & people.alive
        pressure = self.adjacency @ infectious.astype(np.float32)
        rows = people.where((state == SUS) & (pressure > 0))
        p = self.p_infect[pressure[rows].astype(np.intp)]
        new = rows[self.infects.uniform(t, people.ids[rows]) < p]
        state[new] = INF
        people["infected_on"][new] = t


# ------------------------------------------------------------------------------ (ii) numpy


def numpy_sir(adjacency, *, seed, beta, gamma, initial, steps) -> np.ndarray:
    n = adjacency.shape[0]
    streams = Streams(seed)
    recovers, infects = streams.keyed("recover"), streams.keyed("infect")
    p_infect = infection_table(adjacency, beta)
    state = np.zeros(n, np.int8)
    infected_on = np.full(n, -1, np.int32)
    state[first_infected(seed, n, initial)] = INF
    for t in range(steps):
        rows = np.flatnonzero(state == INF)
        state[rows[recovers.bernoulli(t, rows, gamma)]] = REC
        infectious = (state == INF) & (infected_on < t)
        pressure = adjacency @ infectious.astype(np.float32)
        rows = np.flatnonzero((state == SUS) & (pressure > 0))
        p = p_infect[pressure[rows].astype(np.intp)]
        new = rows[infects.uniform(t, rows) < p]
        state[new] = INF
        infected_on[new] = t
    return state


# ------------------------------------------------------------------------------ (iii) Mesa


class MesaPerson(mesa.Agent):
    def __init__(self, model, node):
        super().__init__(model)
        self.node = node
        self.state = SUS
        self.infected_on = -1
        self.neighbors = []

    def step(self):
        model = self.model
        if self.state == INF:
            if self.random.random() < model.gamma:
                self.state = REC
        elif self.state == SUS:
            t = model.t
            k = 0
            for other in self.neighbors:
                if other.state == INF and other.infected_on < t:
                    k += 1
            if k and self.random.random() < model.p_infect[k]:
                self.state = INF
                self.infected_on = t


class MesaSIR(mesa.Model):
    def __init__(self, adjacency, *, seed, beta, gamma, initial):
        super().__init__(rng=Streams(seed)["model"])
        n = adjacency.shape[0]
        self.gamma = gamma
        self.p_infect = infection_table(adjacency, beta).tolist()
        self.t = 0
        people = list(MesaPerson.create_agents(self, n, node=list(range(n))))
        indptr, indices = adjacency.indptr, adjacency.indices
        for agent in people:
            agent.neighbors = [
                people[j] for j in indices[indptr[agent.node] : indptr[agent.node + 1]]
            ]
        for i in first_infected(seed, n, initial).tolist():
            people[i].state = INF

    def step(self):
        self.agents.shuffle_do("step")
        self.t += 1


def _release(model: mesa.Model) -> None:
    counters = getattr(mesa.Agent, "_ids", None)  # Mesa 3.3 keeps every model alive here
    if isinstance(counters, dict):
        counters.pop(model, None)


# ------------------------------------------------------------------------------ the run


def run(args: argparse.Namespace) -> dict:
    t0 = time.perf_counter()
    adjacency = watts_strogatz_csr(args.n, args.k, args.p, args.seed)
    graph_s = time.perf_counter() - t0
    n = adjacency.shape[0]
    epi = {"seed": args.seed, "beta": args.beta, "gamma": args.gamma, "initial": args.initial}
    numpy_sir(adjacency, steps=2, **epi)  # warm-up
    mesa_n = min(args.mesa_n, n) if args.mesa_n > 0 else n
    mesa_adjacency = adjacency if mesa_n == n else adjacency[:mesa_n, :mesa_n].tocsr()
    mesa_epi = {**epi, "initial": max(1, round(args.initial * mesa_n / n))}

    seconds: dict[str, list[float]] = {"hybrid": [], "numpy": [], "mesa": []}
    builds: dict[str, list[float]] = {"hybrid": [], "hybrid_lazy": [], "mesa": []}
    identical = True
    final = None
    for r in range(args.repeat):
        t0 = time.perf_counter()
        state = numpy_sir(adjacency, steps=args.steps, **epi)
        seconds["numpy"].append(time.perf_counter() - t0)

        t0 = time.perf_counter()
        model = HybridSIR(adjacency, **epi)
        builds["hybrid"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        model.run(args.steps)
        seconds["hybrid"].append(time.perf_counter() - t0)
        hybrid_state = model.table(Person)["state"]
        identical &= bool(np.array_equal(hybrid_state, state))
        final = np.bincount(hybrid_state, minlength=3).tolist()
        model.close()
        del model

        t0 = time.perf_counter()
        lazy = HybridSIR(adjacency, create_views=False, **epi)
        builds["hybrid_lazy"].append(time.perf_counter() - t0)
        lazy.close()
        del lazy

        if r < args.mesa_repeat:
            t0 = time.perf_counter()
            mesa_model = MesaSIR(mesa_adjacency, **mesa_epi)
            builds["mesa"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            for _ in range(args.steps):
                mesa_model.step()
            seconds["mesa"].append(time.perf_counter() - t0)
            _release(mesa_model)
            del mesa_model
        log(f"repeat {r + 1}/{args.repeat} done")

    def rate(key: str, steps: int) -> float:
        return n * steps / statistics.median(seconds[key])

    hybrid = rate("hybrid", args.steps)
    numpy_rate = rate("numpy", args.steps)
    mesa_rate = mesa_n * args.steps / statistics.median(seconds["mesa"])
    vs_numpy, vs_mesa = hybrid / numpy_rate, hybrid / mesa_rate
    return {
        "bench": "outbreak",
        "model": "sir_watts_strogatz",
        "n": n,
        "edges": int(adjacency.nnz // 2),
        "steps": args.steps,
        "mesa_n": mesa_n,
        "hybrid_agent_steps_per_s": round(hybrid),
        "numpy_agent_steps_per_s": round(numpy_rate),
        "mesa_agent_steps_per_s": round(mesa_rate),
        "ratio_hybrid_numpy": round(vs_numpy, 3),
        "ratio_hybrid_mesa": round(vs_mesa, 1),
        "goal": f"hybrid/numpy >= {GOAL_NUMPY}, hybrid/mesa >= {GOAL_MESA:g}",
        "meets_goal": vs_numpy >= GOAL_NUMPY and vs_mesa >= GOAL_MESA,
        "identical_hybrid_numpy": identical,
        "final_sir": final,
        "graph_s": round(graph_s, 2),
        **{f"{k}_build_s": round(statistics.median(v), 3) for k, v in builds.items() if v},
        "runs": {k: len(v) for k, v in seconds.items()},
        "draws": "hybrid, numpy: keyed by agent id; mesa: Mesa's model.random",
        "python": platform.python_version(),
        "mesa": mesa.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--p", type=float, default=0.1)
    parser.add_argument("--beta", type=float, default=0.05)
    parser.add_argument("--gamma", type=float, default=0.1)
    parser.add_argument("--initial", type=int, default=100)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--mesa-n", type=int, default=0, help="nodes of the Mesa run (0: all)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--mesa-repeat", type=int, default=1)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    if args.mesa_repeat > args.repeat:
        sys.exit("--mesa-repeat cannot exceed --repeat")
    emit(run(args))


if __name__ == "__main__":
    main()
