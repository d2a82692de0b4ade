"""Same random weights in physicsnemo (torch, fp32) and our Flax SongUNet give the same outputs."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import nchw_to_nhwc, nhwc_to_nchw, randomized_reference, reference_inputs
from jaxaccomp.config import preset
from jaxaccomp.convert.torch_weights import import_state_dict

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch


def _compare(name: str, batch: int) -> float:
    config = preset(name)
    reference = randomized_reference(config)
    ours = import_state_dict(config, reference.state_dict())
    x, noise, labels = reference_inputs(batch)
    with torch.inference_mode():
        expected = reference(torch.from_numpy(x), torch.from_numpy(noise), torch.from_numpy(labels)).numpy()
    actual = nhwc_to_nchw(jax.jit(lambda m, *a: m(*a))(ours, nchw_to_nhwc(x), noise, labels))
    assert actual.shape == expected.shape == (batch, 1, 64, 64)
    assert np.abs(expected).max() > 0.1, "reference output too small for the comparison to mean anything"
    return float(np.abs(actual - expected).max())


@pytest.mark.parametrize("name", ["tiny", "small"])
def test_flax_matches_physicsnemo(name):
    assert _compare(name, batch=2) < 1e-4


@pytest.mark.slow
def test_flax_matches_physicsnemo_paper():
    assert _compare("paper", batch=1) < 1e-4


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
