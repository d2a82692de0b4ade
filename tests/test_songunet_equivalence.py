"""Same random weights in physicsnemo (torch, fp32) and our Flax SongUNet give the same outputs.

The per-block version, which names the layer that differs, is tests/test_songunet_blocks.py.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxaccomp.config import preset
from jaxaccomp.convert.torch_weights import import_state_dict
from tests.support.torch_reference import compare_network, nchw_to_nhwc, randomized_reference, reference_inputs

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch


@pytest.mark.parametrize("name", ["tiny", "small"])
def test_flax_matches_physicsnemo(name):
    assert compare_network(preset(name), batch=2) < 1e-4


@pytest.mark.slow
def test_flax_matches_physicsnemo_paper():
    assert compare_network(preset("paper"), batch=1) < 1e-4


def test_dropout_key_gives_training_mode_and_no_key_gives_inference():
    config = preset("tiny")
    net = import_state_dict(config, randomized_reference(config).state_dict())
    x, noise, labels = (jnp.asarray(a) for a in reference_inputs(2))
    x = jnp.transpose(x, (0, 2, 3, 1))
    forward = jax.jit(lambda m, key: m(x, noise, labels, key))
    clean = forward(net, None)
    a, b, c = (forward(net, jax.random.key(seed)) for seed in (1, 1, 2))
    np.testing.assert_array_equal(a, b)
    assert float(jnp.abs(a - clean).max()) > 1e-3
    assert float(jnp.abs(a - c).max()) > 1e-3


def test_bfloat16_compute_stays_close_to_float32():
    config = preset("tiny")
    weights = randomized_reference(config).state_dict()
    x, noise, labels = reference_inputs(2)
    x = nchw_to_nhwc(x)
    forward = jax.jit(lambda m, *a: m(*a))
    full = np.asarray(forward(import_state_dict(config, weights), x, noise, labels))
    half = forward(import_state_dict(config, weights, dtype=jnp.bfloat16), x, noise, labels)
    assert half.dtype == jnp.bfloat16
    relative = np.abs(np.asarray(half, np.float32) - full).max() / np.abs(full).max()
    assert relative < 0.05
