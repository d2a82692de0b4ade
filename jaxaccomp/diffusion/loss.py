"""EDM denoising score matching with the reference's look-ahead context masking."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxaccomp.diffusion.masks import mask_future_context, sample_training_mask_starts
from jaxaccomp.nn.precond import Denoiser


def sample_sigmas(key: jax.Array, batch: int, p_mean: float, p_std: float) -> jax.Array:
    """sigma = exp(p_mean + p_std n), n ~ N(0, 1): EDM's log-normal training distribution."""
    return jnp.exp(p_mean + p_std * jax.random.normal(key, (batch,)))


def loss_weight(sigma: jax.Array, sigma_data: float) -> jax.Array:
    """lambda(sigma) = (sigma^2 + sigma_data^2) / (sigma sigma_data)^2, which makes the target unit-variance."""
    return (sigma**2 + sigma_data**2) / (sigma * sigma_data) ** 2


def dsm_loss(
    denoiser: Denoiser,
    target: jax.Array,
    context: jax.Array,
    labels: jax.Array,
    key: jax.Array,
    mask_context: bool = True,
) -> jax.Array:
    """Batch-mean weighted MSE of D(target + sigma eps) against target; [B, H, W] latents.

    With `mask_context` the future context columns are zeroed per example as in the reference's
    masked training; the target itself is never masked.
    """
    sigma_key, noise_key, mask_key, dropout_key = jax.random.split(key, 4)
    d = denoiser.diffusion
    batch = target.shape[0]
    sigma = sample_sigmas(sigma_key, batch, d.p_mean, d.p_std)
    if mask_context:
        context = mask_future_context(context, sample_training_mask_starts(mask_key, batch, context.shape[-1]))
    noisy = target + sigma[:, None, None] * jax.random.normal(noise_key, target.shape)
    denoised = denoiser(noisy, sigma, context, labels, dropout_key)
    per_example = jnp.mean((denoised - target) ** 2, axis=(1, 2)) * loss_weight(sigma, d.sigma_data)
    return jnp.mean(per_example)
