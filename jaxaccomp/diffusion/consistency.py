"""Consistency distillation as the reference trains its CD student (CTM code base, `training_mode: cd`).

One step: draw k in 1..17 with P(k) proportional to k (once per batch) and, per example, a start
index n on the 18-point Karras grid (rho 9, 80 down to 1e-4); noise the clean latent to t = t_n; the
frozen EDM teacher takes k Heun steps to t' = t_{n+k}; the student's estimate at t must match the EMA
target's estimate at t' (MSE). The student is also trained with DSM: half the batch at log-normal
sigma, half in the upper 70 % of the schedule. Both terms weigh 1.

Denoisers are functions D(x, sigma, context, labels, dropout_key) on [B, H, W] latents (the
`Denoiser` module is one), so the loss works with any model and with analytic ones in tests.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jaxaccomp.diffusion.loss import loss_weight, sample_sigmas
from jaxaccomp.diffusion.masks import (augment_known_target, generated_column_weights, known_target_context,
                                       mask_future_context, sample_stream_masks, sample_training_mask_starts)
from jaxaccomp.diffusion.samplers import karras_sigmas

DenoiseFn = Callable[[jax.Array, jax.Array, jax.Array, jax.Array, jax.Array | None], jax.Array]

NUM_SCALES, SCALE_RHO = 18, 9.0
SIGMA_MAX, SIGMA_MIN = 80.0, 1e-4
MAX_HEUN_STEPS = 17
UPPER_SCHEDULE_FRACTION = 0.7  # `diffusion_mult`: the DSM half drawn from the top 70 % of the schedule


def distillation_scales() -> np.ndarray:
    """The 18 training noise levels t_0 = 80 > ... > t_17 = 1e-4 (no trailing 0)."""
    return karras_sigmas(SIGMA_MIN, SIGMA_MAX, SCALE_RHO, NUM_SCALES)[:-1]


@struct.dataclass
class Draws:
    """Every random choice of one distillation step, so a float64 reference can replay it."""

    k: jax.Array  # scalar: teacher Heun steps
    n: jax.Array  # [B] start indices
    noise: jax.Array  # [B, H, W] consistency noise
    dsm_sigma: jax.Array  # [B]
    dsm_noise: jax.Array  # [B, H, W]
    context_start: jax.Array  # [B] first masked context column
    first_generated: jax.Array  # [B] first target column the loss scores (width: every column)
    known_visible: jax.Array  # [B] first target column the network does not see (`augment_known_target`)
    known_noise: jax.Array  # [B, H, W] perturbation of the known target it sees
    student_dropout: jax.Array
    target_dropout: jax.Array
    dsm_dropout: jax.Array


def draw(key: jax.Array, shape: tuple[int, ...], mask_context: bool = True, known_target: bool = False,
         p_mean: float = -1.2, p_std: float = 1.2, known_hide: float = 0.0, known_noise: float = 0.0) -> Draws:
    """One step's random choices; `known_target` draws streaming masks (and `known_hide`/`known_noise`,
    `masks.augment_known_target`) for a network that sees the known target; (p_mean, p_std) is the
    log-normal of the DSM half (the reference's EDM values by default)."""
    batch, width = shape[0], shape[-1]
    keys = jax.random.split(key, 10)
    steps = jnp.arange(1, MAX_HEUN_STEPS + 1)
    k = jax.random.choice(keys[0], steps, p=steps / steps.sum())
    n = jax.random.randint(keys[1], (batch,), 0, NUM_SCALES - k)  # n + k <= 17
    log_normal = batch // 2
    u = jax.random.uniform(keys[2], (batch - log_normal,), maxval=UPPER_SCHEDULE_FRACTION)
    hi, lo = SIGMA_MAX ** (1 / SCALE_RHO), SIGMA_MIN ** (1 / SCALE_RHO)
    dsm_sigma = jnp.concatenate([sample_sigmas(keys[3], log_normal, p_mean, p_std), (hi + u * (lo - hi)) ** SCALE_RHO])
    everything = jnp.full((batch,), width, jnp.int32)
    if known_target:
        context_start, first_generated = sample_stream_masks(keys[4], batch, width)
    else:
        context_start, first_generated = sample_training_mask_starts(keys[4], batch, width), everything
    if not mask_context:
        context_start = everything
    perturbation, known_visible = augment_known_target(keys[9], jnp.zeros(shape), first_generated, known_hide, known_noise)
    return Draws(k, n, jax.random.normal(keys[5], shape), dsm_sigma, jax.random.normal(keys[6], shape),
                 context_start, first_generated, known_visible, perturbation, *jax.random.split(keys[7], 2), keys[8])


def heun_solve(teacher: DenoiseFn, x: jax.Array, n: jax.Array, k: jax.Array, context: jax.Array,
               labels: jax.Array, scales: jax.Array) -> jax.Array:
    """k Heun steps of the probability-flow ODE on the grid, from t_n to t_{n+k} per example."""

    def step(j: jax.Array, x: jax.Array) -> jax.Array:
        t, t_next = scales[n + j], scales[n + j + 1]
        slope = (x - teacher(x, t, context, labels, None)) / t[:, None, None]
        euler = x + (t_next - t)[:, None, None] * slope
        slope_next = (euler - teacher(euler, t_next, context, labels, None)) / t_next[:, None, None]
        return x + (t_next - t)[:, None, None] * (slope + slope_next) / 2

    return jax.lax.fori_loop(0, k, step, x)


def consistency_distillation_loss(
    student: DenoiseFn,
    target: DenoiseFn,
    teacher: DenoiseFn,
    clean: jax.Array,
    context: jax.Array,
    labels: jax.Array,
    draws: Draws,
    *,
    target_dropout: bool = False,
    sigma_data: float = 1.0,
    known_target: bool = False,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """(total loss, {"consistency", "dsm"}) for one batch; gradients flow through `student` only.

    `target_dropout` runs the EMA target with dropout, as the reference does by accident (its
    target network is never put in eval mode); off by default, so the target is deterministic.
    `known_target`: the networks see the (perturbed) target before `draws.known_visible`, and both
    terms score only the columns from `draws.first_generated` on (each example with the same total
    weight), as `loss.dsm_loss` does.
    """
    scales = jnp.asarray(distillation_scales(), jnp.float32)
    context = mask_future_context(context, draws.context_start)
    width = clean.shape[-1]
    columns = jnp.ones((clean.shape[0], 1, width), jnp.float32)
    if known_target:
        context = known_target_context(context, clean + draws.known_noise, draws.known_visible)
        columns = generated_column_weights(draws.first_generated, width)
    t, t_next = scales[draws.n], scales[draws.n + draws.k]
    noisy = clean + t[:, None, None] * draws.noise
    estimate = student(noisy, t, context, labels, draws.student_dropout)
    solved = heun_solve(teacher, noisy, draws.n, draws.k, context, labels, scales)
    goal = target(solved, t_next, context, labels, draws.target_dropout if target_dropout else None)
    consistency = jnp.mean(columns * (estimate - jax.lax.stop_gradient(goal)) ** 2)

    sigma = draws.dsm_sigma
    denoised = student(clean + sigma[:, None, None] * draws.dsm_noise, sigma, context, labels, draws.dsm_dropout)
    dsm = jnp.mean(jnp.mean(columns * (denoised - clean) ** 2, axis=(1, 2)) * loss_weight(sigma, sigma_data))
    return consistency + dsm, {"consistency": consistency, "dsm": dsm}
