"""The pipeline from inputs to population: reproducibility from any seed form."""

import numpy as np


def test_reusing_a_seed_sequence_gives_the_same_population(demo_population):
    synth, _ = demo_population
    stream = np.random.SeedSequence(11)
    a = synth.sample(rng=np.random.default_rng(stream))
    b = synth.sample(rng=np.random.default_rng(stream))
    assert a.persons.equals(b.persons) and a.households.equals(b.households)
    c = synth.sample(rng=np.random.default_rng(12))
    assert not a.persons.equals(c.persons)


def test_report_lists_polished_zones(demo_population):
    synth, pop = demo_population
    fit = synth.report(pop).fit
    assert fit["status"] == "converged"
    assert fit["infeasible_zones"] == []
    assert set(fit["polished_zones"]) <= set(synth.inputs_.geography.zones)
