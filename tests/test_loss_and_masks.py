import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from jaxaccomp.diffusion.loss import conditioning, dsm_loss, loss_weight, sample_sigmas
from jaxaccomp.diffusion.masks import mask_future_context, sample_training_mask_starts
from jaxaccomp.nn.precond import Denoiser


def test_training_sigmas_are_lognormal():
    log_sigma = np.log(np.asarray(sample_sigmas(jax.random.key(0), 200_000, -1.2, 1.2)))
    assert abs(log_sigma.mean() + 1.2) < 0.01
    assert abs(log_sigma.std() - 1.2) < 0.01


def test_loss_weight_formula():
    sigma = np.array([0.1, 1.0, 10.0])
    np.testing.assert_allclose(np.asarray(loss_weight(jnp.asarray(sigma), 1.0)), (sigma**2 + 1) / sigma**2, rtol=1e-6)


def test_mask_zeroes_exactly_the_future_columns():
    context = jnp.ones((3, 4, 8))
    masked = np.asarray(mask_future_context(context, jnp.array([8, 5, 0])))
    assert masked[0].sum() == 32
    np.testing.assert_array_equal(masked[1, :, :5], 1)
    np.testing.assert_array_equal(masked[1, :, 5:], 0)
    assert masked[2].sum() == 0
    np.testing.assert_array_equal(np.asarray(mask_future_context(context, 6))[:, :, 6:], 0)


def test_training_masks_follow_the_reference_distribution():
    starts = np.asarray(sample_training_mask_starts(jax.random.key(0), 30_000, 64))
    values, counts = np.unique(starts, return_counts=True)
    np.testing.assert_array_equal(values, [32, 48, 64])  # 32, 16 or 0 zeroed columns
    np.testing.assert_allclose(counts / counts.sum(), 1 / 3, atol=0.015)


def test_loss_of_a_zero_network_on_unit_variance_data_is_one(tiny_net):
    # F = 0 gives D = c_skip (x + sigma eps); with unit-variance x the weighted error is 1 for every sigma.
    net = nnx.clone(tiny_net)
    net.aux_conv.kernel[...] = jnp.zeros_like(net.aux_conv.kernel[...])
    denoiser = Denoiser(net)
    target = jax.random.normal(jax.random.key(1), (8, 64, 64))
    context = jax.random.normal(jax.random.key(2), (8, 64, 64))
    labels = jnp.eye(4)[jnp.arange(8) % 4]
    loss = jax.jit(lambda d, k: dsm_loss(d, target, context, labels, k))(denoiser, jax.random.key(3))
    assert abs(float(loss) - 1.0) < 0.05


def test_masked_context_columns_get_no_gradient(tiny_net):
    denoiser = Denoiser(tiny_net)
    target = jax.random.normal(jax.random.key(1), (12, 64, 64))
    labels = jnp.eye(4)[jnp.arange(12) % 4]
    context = jax.random.normal(jax.random.key(2), (12, 64, 64))
    grad = jax.jit(jax.grad(lambda c: dsm_loss(denoiser, target, c, labels, jax.random.key(3))))(context)
    column_norms = np.abs(np.asarray(grad)).sum(axis=1)  # [B, W]
    masked_counts = []
    for norms in column_norms:
        live = np.nonzero(norms)[0]
        last_live = live.max() + 1
        assert np.all(norms[last_live:] == 0)
        masked_counts.append(64 - last_live)
    assert set(masked_counts) == {0, 16, 32}


def test_balanced_channel_weights_give_each_group_an_equal_share_and_weigh_the_loss(tiny_net):
    from jaxaccomp.codec.embedded import CHANNEL_GROUPS
    from jaxaccomp.diffusion.loss import balanced_channel_weights

    weights = balanced_channel_weights(list(CHANNEL_GROUPS.values()), 64)
    assert np.isclose(weights.mean(), 1.0)
    shares = [weights[group].sum() / 64 for group in CHANNEL_GROUPS.values()]
    np.testing.assert_allclose(shares, 1 / len(CHANNEL_GROUPS), rtol=1e-6)
    with np.testing.assert_raises(ValueError):
        balanced_channel_weights([slice(0, 32)], 64)  # channels 32-63 in no group
    denoiser = Denoiser(tiny_net)
    target = jax.random.normal(jax.random.key(0), (2, 64, 64))
    context = jax.random.normal(jax.random.key(1), (2, 64, 64))
    labels = jnp.zeros((2, 4)).at[:, 0].set(1.0)
    key = jax.random.key(2)
    plain = dsm_loss(denoiser, target, context, labels, key)
    assert np.isclose(dsm_loss(denoiser, target, context, labels, key, channel_weights=np.ones(64)), plain, rtol=1e-6)
    halves = np.r_[np.full(32, 2.0), np.zeros(32)], np.r_[np.zeros(32), np.full(32, 2.0)]
    parts = [dsm_loss(denoiser, target, context, labels, key, channel_weights=w) for w in halves]
    assert np.isclose((parts[0] + parts[1]) / 2, plain, rtol=1e-5) and not np.isclose(parts[0], parts[1])


def test_context_drop_zeroes_the_whole_song_in_its_share_of_examples(tiny_net):
    denoiser = Denoiser(tiny_net)  # a network without the known target: the conditioning is the context
    target = jnp.ones((64, 64, 64))
    context = jnp.ones((64, 64, 64))
    kept, _ = conditioning(denoiser, target, context, jax.random.key(0), mask_context=False)
    assert bool(jnp.all(kept == 1.0))
    conditioned, _ = conditioning(denoiser, target, context, jax.random.key(0), mask_context=False, context_drop=0.5)
    silent = np.asarray(jnp.all(conditioned == 0.0, axis=(1, 2)))
    whole = np.asarray(jnp.all(conditioned == 1.0, axis=(1, 2)))
    assert np.all(silent | whole) and 16 < silent.sum() < 48  # whole examples, about half of them
