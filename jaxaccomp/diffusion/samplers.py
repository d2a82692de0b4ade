"""Fixed-shape, jit-compilable samplers: ADPM2 inpainting with RePaint resamples, multistep consistency.

Both take the denoiser as a function D(x, sigma, context, labels) -> x0 estimate on [B, H, W]
latents, the known-column mask as an array ([B, W], True = keep the source), and the schedule as an
array, so one compilation serves every (r, w), every stem choice and every schedule of the same
length. Loops are `lax.fori_loop`: a whole prediction is one XLA program holding the network twice
(ADPM2's two calls per step) or once (consistency).

Noise is drawn by the `*_noise` functions from the key and the loop indices alone, so a float64
reference can be driven with exactly the same noise.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

DenoiseFn = Callable[[jax.Array, jax.Array, jax.Array, jax.Array], jax.Array]

# The reference server's diffusion settings (configs/for_server): N = 5, 1e-4..50, rho 9, 2 resamples.
SERVER_ADPM2 = dict(sigma_min=1e-4, sigma_max=50.0, rho=9.0, num_steps=5)
SERVER_RESAMPLES = 2
# Consistency sampling: sigma_max 80 to sigma_min 1e-4; the server uses rho 7, the eval script rho 9.
CM_SIGMA_MAX, CM_SIGMA_MIN = 80.0, 1e-4


def karras_sigmas(sigma_min: float, sigma_max: float, rho: float, num_steps: int) -> np.ndarray:
    """sigma_i = (max^(1/rho) + i/(N-1) (min^(1/rho) - max^(1/rho)))^rho, i < N, then a trailing 0 (float64)."""
    if num_steps < 1:
        raise ValueError(f"num_steps must be at least 1, got {num_steps}")
    ramp = np.linspace(0.0, 1.0, num_steps) if num_steps > 1 else np.zeros(1)
    inv_rho = 1.0 / rho
    sigmas = (sigma_max**inv_rho + ramp * (sigma_min**inv_rho - sigma_max**inv_rho)) ** rho
    return np.append(sigmas, 0.0)


def consistency_sigmas(steps: int, rho: float = 7.0) -> np.ndarray:
    """The `steps` noise levels of multistep consistency sampling (80 down towards 1e-4), then 1e-4."""
    return karras_sigmas(CM_SIGMA_MIN, CM_SIGMA_MAX, rho, steps + 1)[: steps + 1]


def _broadcast_mask(known: jax.Array) -> jax.Array:
    """[B, W] column mask -> [B, 1, W] float, broadcasting over the latent-channel axis."""
    return jnp.asarray(known, jnp.float32)[:, None, :]


def adpm2_noise(key: jax.Array, iteration: jax.Array, resample: jax.Array, shape: tuple[int, ...]):
    """(eps_i for the known region, z for the ancestral step, z' for the re-noise) of one step."""
    step_key = jax.random.fold_in(key, iteration)
    eps = jax.random.normal(jax.random.fold_in(step_key, 0), shape)  # same within a step
    resample_key = jax.random.fold_in(jax.random.fold_in(step_key, 1), resample)
    z_step, z_renoise = jax.random.normal(resample_key, (2, *shape))
    return eps, z_step, z_renoise


_INITIAL_STREAM = 2**31 - 1  # fold_in index of the starting noise; loop indices stay below it


def initial_noise(key: jax.Array, shape: tuple[int, ...]) -> jax.Array:
    return jax.random.normal(jax.random.fold_in(key, _INITIAL_STREAM), shape)


def adpm2_step(denoise: Callable[[jax.Array, jax.Array], jax.Array], x: jax.Array, sigma: jax.Array,
               sigma_next: jax.Array, z: jax.Array) -> jax.Array:
    """Ancestral DPM2 from sigma to sigma_next with the arithmetic midpoint (two network calls)."""
    sigma_up = jnp.sqrt(sigma_next**2 * (sigma**2 - sigma_next**2) / sigma**2)
    sigma_down = jnp.sqrt(sigma_next**2 - sigma_up**2)
    sigma_mid = (sigma + sigma_down) / 2
    d = (x - denoise(x, sigma)) / sigma
    x_mid = x + d * (sigma_mid - sigma)
    d_mid = (x_mid - denoise(x_mid, sigma_mid)) / sigma_mid
    return x + d_mid * (sigma_down - sigma) + sigma_up * z


def adpm2_inpaint(denoise_fn: DenoiseFn, key: jax.Array, source: jax.Array, known: jax.Array,
                  context: jax.Array, labels: jax.Array, sigmas: jax.Array, num_resamples: int = SERVER_RESAMPLES) -> jax.Array:
    """RePaint-style ADPM2 inpainting: keep `source` where `known`, generate the rest.

    `sigmas` is a Karras schedule with its trailing 0; the last (sigma_min -> 0) transition is never
    taken, so N levels give N-1 iterations, each run `num_resamples` times: 2 (N-1) R network calls.
    """
    sigmas = jnp.asarray(sigmas, jnp.float32)
    mask = _broadcast_mask(known)
    batch = source.shape[0]
    iterations = sigmas.shape[0] - 2

    def denoise(x: jax.Array, sigma: jax.Array) -> jax.Array:
        return denoise_fn(x, jnp.full((batch,), sigma), context, labels)

    def body(t: jax.Array, x: jax.Array) -> jax.Array:
        i, j = t // num_resamples, t % num_resamples
        sigma, sigma_next = sigmas[i], sigmas[i + 1]
        eps, z_step, z_renoise = adpm2_noise(key, i, j, source.shape)
        x = mask * (source + sigma * eps) + (1 - mask) * x
        x = adpm2_step(denoise, x, sigma, sigma_next, z_step)
        renoise = jnp.where(j < num_resamples - 1, jnp.sqrt(sigma**2 - sigma_next**2), 0.0)
        return x + renoise * z_renoise

    x = sigmas[0] * initial_noise(key, source.shape)
    x = jax.lax.fori_loop(0, iterations * num_resamples, body, x)
    return mask * source + (1 - mask) * x


def consistency_noise(key: jax.Array, step: jax.Array, shape: tuple[int, ...]) -> tuple[jax.Array, jax.Array]:
    """(fresh known-region noise, noise re-injected after the step) of one consistency step."""
    known_noise, renoise = jax.random.normal(jax.random.fold_in(key, step), (2, *shape))
    return known_noise, renoise


def consistency_sample(denoise_fn: DenoiseFn, key: jax.Array, source: jax.Array, known: jax.Array,
                       context: jax.Array, labels: jax.Array, sigmas: jax.Array) -> jax.Array:
    """Multistep consistency sampling (`cm_multistep_cd`) with known-column replacement.

    `sigmas` = `consistency_sigmas(steps)`: the steps' noise levels then sigma_min. One network call
    per step; between steps the estimate is re-noised to the next level (above sigma_min).
    """
    sigmas = jnp.asarray(sigmas, jnp.float32)
    mask = _broadcast_mask(known)
    batch = source.shape[0]
    steps = sigmas.shape[0] - 1
    sigma_min = sigmas[-1]

    def body(i: jax.Array, carry: tuple[jax.Array, jax.Array]) -> tuple[jax.Array, jax.Array]:
        x, _ = carry
        sigma = sigmas[i]
        known_noise, renoise = consistency_noise(key, i, source.shape)
        x_in = mask * (source + sigma * known_noise) + (1 - mask) * x
        x0 = denoise_fn(x_in, jnp.full((batch,), sigma), context, labels)
        # After the last step sigmas[i + 1] is sigma_min itself, so nothing is re-injected.
        next_level = jnp.sqrt(jnp.maximum(sigmas[i + 1] ** 2 - sigma_min**2, 0.0))
        return x0 + next_level * renoise, x0

    x = sigmas[0] * initial_noise(key, source.shape)
    _, x0 = jax.lax.fori_loop(0, steps, body, (x, x))
    return mask * source + (1 - mask) * x0
