"""The preconditioned denoiser against an independent float64 numpy implementation of the formulas."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jaxaccomp.config import DiffusionConfig, UNetConfig
from jaxaccomp.nn.precond import Denoiser, scalings
from jaxaccomp.nn.songunet import abstract_unet

SIGMAS = np.array([1e-4, 2e-3, 0.05, 0.64, 1.0, 7.35, 50.0, 80.0])


def edm64(sigma, sd):
    return sd**2 / (sigma**2 + sd**2), sigma * sd / np.sqrt(sigma**2 + sd**2), 1 / np.sqrt(sigma**2 + sd**2)


def consistency64(sigma, sd, smin):
    return (sd**2 / ((sigma - smin) ** 2 + sd**2), (sigma - smin) * sd / np.sqrt(sigma**2 + sd**2),
            1 / np.sqrt(sigma**2 + sd**2))


@pytest.fixture(scope="module")
def net(tiny_net):
    model = nnx.clone(tiny_net)
    # Make the output head carry signal: the stock 1e-5 init would hide c_out errors.
    model.aux_conv.kernel[...] = jax.random.normal(jax.random.key(1), model.aux_conv.kernel.shape) * 0.1
    return model


@pytest.mark.parametrize("mode, sigma_data", [("diffusion", 1.0), ("consistency", 1.0), ("diffusion", 0.5)])
def test_denoiser_matches_float64_formulas(net, mode, sigma_data):
    diffusion = DiffusionConfig(sigma_data=sigma_data)
    denoiser = Denoiser(net, diffusion, mode)
    rng = np.random.default_rng(0)
    b = len(SIGMAS)
    x = rng.standard_normal((b, 64, 64)) * SIGMAS[:, None, None]
    context = rng.standard_normal((b, 64, 64))
    labels = np.eye(4)[np.arange(b) % 4]
    actual = np.asarray(jax.jit(lambda d, *a: d(*a))(denoiser, x.astype(np.float32), SIGMAS.astype(np.float32),
                                                     context.astype(np.float32), labels.astype(np.float32)))

    scalings = edm64(SIGMAS, sigma_data) if mode == "diffusion" else consistency64(SIGMAS, sigma_data, diffusion.sigma_min)
    c_skip, c_out, c_in = (c[:, None, None] for c in scalings)
    # F sees the c_in-scaled target and the raw context; its noise label is ln(sigma) / 4.
    net_in = np.stack([c_in * x, context], axis=-1).astype(np.float32)
    f = np.asarray(jax.jit(lambda m, *a: m(*a))(net, jnp.asarray(net_in), jnp.asarray(np.log(SIGMAS) / 4, jnp.float32), jnp.asarray(labels, jnp.float32)))
    expected = c_skip * x + c_out * f[..., 0].astype(np.float64)
    scale = np.abs(expected).max(axis=(1, 2), keepdims=True)
    assert np.max(np.abs(actual - expected) / scale) < 1e-5


def test_scalings_match_float64_over_the_sigma_range():
    sigma = jnp.asarray(SIGMAS, jnp.float32)
    for mode, ref in (("diffusion", edm64(SIGMAS, 1.0)), ("consistency", consistency64(SIGMAS, 1.0, 1e-4))):
        for got, want in zip(scalings(sigma, DiffusionConfig(), mode), ref):
            np.testing.assert_allclose(np.asarray(got), want, rtol=2e-6, atol=1e-9)


def test_consistency_denoiser_is_the_identity_at_sigma_min(net):
    denoiser = Denoiser(net, DiffusionConfig(), "consistency")
    x = jax.random.normal(jax.random.key(0), (2, 64, 64))
    out = jax.jit(lambda d: d(x, jnp.full((2,), 1e-4), jnp.ones((2, 64, 64)), jnp.eye(4)[:2]))(denoiser)
    np.testing.assert_allclose(np.asarray(out), np.asarray(x), rtol=0, atol=1e-6)


def test_denoiser_refuses_a_net_without_context_channel():
    with pytest.raises(ValueError, match="in_channels 2"):
        config = UNetConfig(in_channels=1, model_channels=8, channel_mult=(1, 2), num_blocks=1, attn_resolutions=())
        Denoiser(abstract_unet(config))
