import numpy as np
import pytest


@pytest.fixture(scope="session")
def demo_population():
    """The demo city fitted once and sampled with seed 0: (synthesizer, population)."""
    from populations.demo import load_demo
    from populations.synthesis import PopulationSynthesizer

    inputs = load_demo()
    synth = PopulationSynthesizer.from_config(inputs.config).fit(inputs)
    return synth, synth.sample(rng=np.random.default_rng(0))
