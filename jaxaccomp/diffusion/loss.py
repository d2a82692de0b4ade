"""EDM denoising score matching with look-ahead context masking.

The reference's SongUNet sees only the context, masked as the reference trains it (0/16/32 of 64
columns). A network that also sees the known target columns is trained on the streaming masks
themselves: per example a step size and look-ahead, the context masked and the target known up to
where a server would have them.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jaxaccomp.diffusion.masks import (augment_known_target, generated_column_weights, known_target_context,
                                       mask_future_context, sample_stream_masks, sample_training_mask_starts)
from jaxaccomp.nn.precond import Denoiser


def sample_sigmas(key: jax.Array, batch: int, p_mean: float, p_std: float) -> jax.Array:
    """sigma = exp(p_mean + p_std n), n ~ N(0, 1): EDM's log-normal training distribution."""
    return jnp.exp(p_mean + p_std * jax.random.normal(key, (batch,)))


def loss_weight(sigma: jax.Array, sigma_data: float) -> jax.Array:
    """lambda(sigma) = (sigma^2 + sigma_data^2) / (sigma sigma_data)^2, which makes the target unit-variance."""
    return (sigma**2 + sigma_data**2) / (sigma * sigma_data) ** 2


def balanced_channel_weights(groups: Sequence[slice], channels: int) -> np.ndarray:
    """[channels] loss weights giving each group of latent channels the same share, averaging 1.

    Uniform weights give a group a share proportional to its size: the embedded codec's 36 mel bands
    would carry 56 % of the loss and its 8 block energies, which hold the rhythm, 12 %."""
    weights = np.zeros(channels, np.float32)
    for group in groups:
        weights[group] = channels / (len(groups) * len(range(channels)[group]))
    if not np.all(weights > 0):
        raise ValueError("the channel groups must cover every latent channel")
    return weights


def conditioning(denoiser: Denoiser, target: jax.Array, context: jax.Array, key: jax.Array,
                 mask_context: bool = True, known_hide: float = 0.0, known_noise: float = 0.0,
                 rollout: jax.Array | None = None, known_rollout: float = 0.0,
                 context_drop: float = 0.0) -> tuple[jax.Array, jax.Array]:
    """(what the network is conditioned on, [B, 1, W] weights of the columns the loss scores).

    The reference's network sees the masked context and is scored on every column. A network that
    sees the known target is scored on the columns it has to generate (`generated_column_weights`),
    its known target withheld or perturbed as `masks.augment_known_target` says; with `rollout` (a
    model's own free-running output of the same columns, `data.rollouts`) that output replaces the
    true known target in a `known_rollout` share of the examples, as a stream would feed it. A
    `context_drop` share of the examples sees no song at all (the whole context zeroed), which trains
    the unconditional branch that context guidance (`diffusion.guidance`) subtracts.
    """
    batch, width = target.shape[0], target.shape[-1]
    if context_drop:
        dropped = jax.random.bernoulli(jax.random.fold_in(key, 2), context_drop, (batch, 1, 1))
        context = jnp.where(dropped, 0.0, context)
    if denoiser.conditions_on_target:
        mask_key, augment_key = jax.random.split(key)
        first_masked, first_generated = sample_stream_masks(mask_key, batch, width)
        if not mask_context:
            first_masked = jnp.full((batch,), width, jnp.int32)
        weights = generated_column_weights(first_generated, width)
        known = target
        if rollout is not None:
            own = jax.random.bernoulli(jax.random.fold_in(augment_key, 1), known_rollout, (batch, 1, 1))
            known = jnp.where(own, rollout, target)
        source, visible = augment_known_target(augment_key, known, first_generated, known_hide, known_noise)
        return known_target_context(mask_future_context(context, first_masked), source, visible), weights
    if mask_context:
        context = mask_future_context(context, sample_training_mask_starts(key, batch, width))
    return context, jnp.ones((batch, 1, width), jnp.float32)


def dsm_loss(
    denoiser: Denoiser,
    target: jax.Array,
    context: jax.Array,
    labels: jax.Array,
    key: jax.Array,
    mask_context: bool = True,
    known_hide: float = 0.0,
    known_noise: float = 0.0,
    channel_weights: np.ndarray | None = None,
    rollout: jax.Array | None = None,
    known_rollout: float = 0.0,
    context_drop: float = 0.0,
) -> jax.Array:
    """Batch-mean weighted MSE of D(target + sigma eps) against target; [B, H, W] latents.

    With `mask_context` the future context columns are zeroed per example (`conditioning`); the
    target itself is never masked. `known_hide`/`known_noise`: `masks.augment_known_target`.
    `channel_weights` ([H], e.g. `balanced_channel_weights`) weigh the latent channels' errors.
    `rollout`/`known_rollout`: the model's own output as the known target, `context_drop`: examples
    without the song (`conditioning`).
    """
    sigma_key, noise_key, mask_key, dropout_key = jax.random.split(key, 4)
    d = denoiser.diffusion
    batch = target.shape[0]
    sigma = sample_sigmas(sigma_key, batch, d.p_mean, d.p_std)
    context, columns = conditioning(denoiser, target, context, mask_key, mask_context, known_hide, known_noise,
                                    rollout, known_rollout, context_drop)
    noisy = target + sigma[:, None, None] * jax.random.normal(noise_key, target.shape)
    denoised = denoiser(noisy, sigma, context, labels, dropout_key)
    error = (denoised - target) ** 2
    if channel_weights is not None:
        error = error * jnp.asarray(channel_weights)[None, :, None]
    per_example = jnp.mean(columns * error, axis=(1, 2)) * loss_weight(sigma, d.sigma_data)
    return jnp.mean(per_example)


# Noise levels of `stream_loss`: from nearly clean to nearly pure noise, where the conditioning decides.
STREAM_LOSS_SIGMAS = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0)


def stream_loss(denoiser: Denoiser, target: jax.Array, context: jax.Array, labels: jax.Array, key: jax.Array,
                first_masked: int, first_generated: int) -> jax.Array:
    """Weighted DSM error on the columns one streaming step generates, at fixed noise levels.

    Every network family is scored on the same task (the served masks: context up to
    `first_masked`, target known up to `first_generated`), so their validation figures compare.
    """
    batch, width = target.shape[0], target.shape[-1]
    context = mask_future_context(context, jnp.full((batch,), first_masked))
    if denoiser.conditions_on_target:
        context = known_target_context(context, target, jnp.full((batch,), first_generated))
    columns = generated_column_weights(jnp.full((batch,), first_generated), width)
    losses = []
    for i, level in enumerate(STREAM_LOSS_SIGMAS):
        sigma = jnp.full((batch,), level)
        noisy = target + level * jax.random.normal(jax.random.fold_in(key, i), target.shape)
        error = jnp.mean(columns * (denoiser(noisy, sigma, context, labels) - target) ** 2, axis=(1, 2))
        losses.append(jnp.mean(error * loss_weight(sigma, denoiser.diffusion.sigma_data)))
    return jnp.mean(jnp.stack(losses))
