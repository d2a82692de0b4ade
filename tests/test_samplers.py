"""The JAX samplers against float64 numpy references written from the formulas, same noise."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxaccomp.diffusion.masks import column_mask, frame_aligned_masks
from jaxaccomp.diffusion.samplers import (SERVER_ADPM2, adpm2_inpaint, adpm2_noise, adpm2_step, consistency_noise,
                                          consistency_sample, consistency_sigmas, initial_noise, karras_sigmas)

B, H, W = 4, 8, 64
DATA_STD = 0.7


def toy_mean(context, labels):
    """The clean-data mean of the toy problem: depends on context and label so both must be passed through."""
    return 0.5 * context + (labels @ np.array([-1.0, -0.3, 0.4, 1.2]))[:, None, None]


def toy_denoiser(x, sigma, context, labels):
    """The exact denoiser of x0 ~ N(mean, DATA_STD^2) per element: analytic, in JAX."""
    mean = 0.5 * context + (labels @ jnp.array([-1.0, -0.3, 0.4, 1.2]))[:, None, None]
    gain = DATA_STD**2 / (DATA_STD**2 + sigma[:, None, None] ** 2)
    return mean + gain * (x - mean)


def toy_denoiser64(x, sigma, context, labels):
    mean = toy_mean(context, labels)
    return mean + DATA_STD**2 / (DATA_STD**2 + sigma**2) * (x - mean)


def problem(seed=0, r=0.25, w=0):
    rng = np.random.default_rng(seed)
    source = rng.standard_normal((B, H, W))
    context = rng.standard_normal((B, H, W))
    labels = np.eye(4)[[0, 1, 2, 3]]
    _, first_generated = frame_aligned_masks(r, w)
    known = np.asarray(column_mask(jnp.full((B,), first_generated), W))
    return source, known, context, labels


def f32(*arrays):
    return [jnp.asarray(a, jnp.float32) for a in arrays]


# --- float64 references, written from docs/model.md, "Samplers" ---

def adpm2_step64(x, sigma, sigma_next, z, denoise):
    sigma_up = np.sqrt(sigma_next**2 * (sigma**2 - sigma_next**2) / sigma**2)
    sigma_down = np.sqrt(sigma_next**2 - sigma_up**2)
    sigma_mid = (sigma + sigma_down) / 2
    d = (x - denoise(x, sigma)) / sigma
    x_mid = x + d * (sigma_mid - sigma)
    d_mid = (x_mid - denoise(x_mid, sigma_mid)) / sigma_mid
    x = x + d_mid * (sigma_down - sigma)
    return x + sigma_up * z


def adpm2_inpaint64(key, source, known, context, labels, sigmas, resamples):
    mask = known[:, None, :].astype(np.float64)
    denoise = lambda x, s: toy_denoiser64(x, s, context, labels)  # noqa: E731
    x = sigmas[0] * np.asarray(initial_noise(key, source.shape), np.float64)
    for i in range(len(sigmas) - 2):
        for j in range(resamples):
            eps, z, z2 = (np.asarray(n, np.float64) for n in adpm2_noise(key, i, j, source.shape))
            x = mask * (source + sigmas[i] * eps) + (1 - mask) * x
            x = adpm2_step64(x, sigmas[i], sigmas[i + 1], z, denoise)
            if j < resamples - 1:
                x = x + np.sqrt(sigmas[i] ** 2 - sigmas[i + 1] ** 2) * z2
    return mask * source + (1 - mask) * x


def consistency64(key, source, known, context, labels, sigmas):
    mask = known[:, None, :].astype(np.float64)
    steps = len(sigmas) - 1
    x = sigmas[0] * np.asarray(initial_noise(key, source.shape), np.float64)
    for i in range(steps):
        fresh, renoise = (np.asarray(n, np.float64) for n in consistency_noise(key, i, source.shape))
        x_in = mask * (source + sigmas[i] * fresh) + (1 - mask) * x
        x0 = toy_denoiser64(x_in, sigmas[i], context, labels)
        x = x0 + np.sqrt(sigmas[i + 1] ** 2 - sigmas[-1] ** 2) * renoise if i < steps - 1 else x0
    return mask * source + (1 - mask) * x0


# --- tests ---

def test_karras_schedules_match_the_reference_tables():
    np.testing.assert_allclose(karras_sigmas(**SERVER_ADPM2), [50, 7.35375, 0.641787, 0.0223894, 1e-4, 0], rtol=1e-5)
    np.testing.assert_allclose(karras_sigmas(1e-4, 80, 9, 10),
                               [80, 35.41, 14.45, 5.342, 1.744, 0.4856, 0.1094, 0.01830, 0.001962, 1e-4, 0], rtol=1e-3)
    np.testing.assert_allclose(karras_sigmas(1e-4, 80, 9, 1), [80, 0])
    np.testing.assert_allclose(consistency_sigmas(2, rho=7), [80, 1.59735, 1e-4], rtol=1e-5)
    np.testing.assert_allclose(consistency_sigmas(2, rho=9), [80, 0.941427, 1e-4], rtol=1e-5)
    np.testing.assert_allclose(consistency_sigmas(1), [80, 1e-4])


@pytest.mark.parametrize("sigma, sigma_next", [(50, 7.35375), (7.35375, 0.641787), (0.0223894, 1e-4)])
def test_adpm2_step_matches_float64(sigma, sigma_next):
    source, _, context, labels = problem()
    x = sigma * np.random.default_rng(1).standard_normal(source.shape)
    z = np.random.default_rng(2).standard_normal(source.shape)
    denoise32 = lambda v, s: toy_denoiser(v, jnp.full((B,), s), *f32(context, labels))  # noqa: E731
    got = np.asarray(jax.jit(lambda x, z: adpm2_step(denoise32, x, sigma, sigma_next, z))(*f32(x, z)))
    want = adpm2_step64(x, sigma, sigma_next, z, lambda v, s: toy_denoiser64(v, s, context, labels))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * sigma)


@pytest.mark.parametrize("r, w", [(0.25, 0), (0.125, 1), (0.5, -1)])
def test_adpm2_inpaint_matches_float64(r, w):
    source, known, context, labels = problem(r=r, w=w)
    sigmas = karras_sigmas(**SERVER_ADPM2)
    key = jax.random.key(7)
    run = jax.jit(lambda *a: adpm2_inpaint(toy_denoiser, key, *a))
    got = np.asarray(run(*f32(source), known, *f32(context, labels, sigmas)))
    want = adpm2_inpaint64(key, source, known, context, labels, sigmas, resamples=2)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=2e-5)
    np.testing.assert_array_equal(got[:, :, known[0]], source[:, :, known[0]].astype(np.float32))


@pytest.mark.parametrize("steps, rho", [(1, 7.0), (2, 7.0), (2, 9.0), (4, 7.0)])
def test_consistency_sampler_matches_float64(steps, rho):
    source, known, context, labels = problem(r=0.25, w=1)
    sigmas = consistency_sigmas(steps, rho)
    key = jax.random.key(11)
    run = jax.jit(lambda *a: consistency_sample(toy_denoiser, key, *a))
    got = np.asarray(run(*f32(source), known, *f32(context, labels, sigmas)))
    want = consistency64(key, source, known, context, labels, sigmas)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(got[:, :, known[0]], source[:, :, known[0]].astype(np.float32))


def test_same_key_same_output_and_different_keys_differ():
    source, known, context, labels = problem()
    source, context, labels = f32(source, context, labels)
    sigmas = jnp.asarray(karras_sigmas(**SERVER_ADPM2), jnp.float32)
    run = jax.jit(lambda key: adpm2_inpaint(toy_denoiser, key, source, known, context, labels, sigmas))
    a, b, c = run(jax.random.key(1)), run(jax.random.key(1)), run(jax.random.key(2))
    np.testing.assert_array_equal(a, b)
    generated = ~known[0]
    assert float(jnp.abs(a - c)[:, :, generated].min()) > 0


def _counting(denoise):
    """The denoiser plus a host-side counter of how many times the compiled program calls it."""
    calls = []

    def counted(x, sigma, context, labels):
        jax.debug.callback(lambda: calls.append(1))
        return denoise(x, sigma, context, labels)

    return counted, calls


def test_network_call_counts():
    source, known, context, labels = problem()
    counted, calls = _counting(toy_denoiser)
    args = (*f32(source), known, *f32(context, labels))
    jax.block_until_ready(jax.jit(lambda *a: adpm2_inpaint(counted, jax.random.key(0), *a))(
        *args, jnp.asarray(karras_sigmas(**SERVER_ADPM2), jnp.float32)))
    assert len(calls) == 16
    for steps in (1, 2):
        calls.clear()
        jax.block_until_ready(jax.jit(lambda *a: consistency_sample(counted, jax.random.key(0), *a))(
            *args, jnp.asarray(consistency_sigmas(steps), jnp.float32)))
        assert len(calls) == steps


def test_one_compilation_serves_every_step_and_stem_choice():
    source, _, context, _ = f32(*problem())
    sigmas = jnp.asarray(karras_sigmas(**SERVER_ADPM2), jnp.float32)
    adpm2 = jax.jit(lambda key, known, ctx_end, labels: adpm2_inpaint(
        toy_denoiser, key, source, known, context * column_mask(ctx_end, W)[:, None, :], labels, sigmas))
    cm = jax.jit(lambda key, known, ctx_end, labels: consistency_sample(
        toy_denoiser, key, source, known, context * column_mask(ctx_end, W)[:, None, :], labels,
        jnp.asarray(consistency_sigmas(2), jnp.float32)))
    stem_sets = [[0, 0, 0, 0], [1, 3, 1, 3], [0, 1, 2, 2], [0, 1, 2, 3]]  # 1-4 distinct stems, batch 4
    for n, stems in enumerate(stem_sets):
        labels = jax.nn.one_hot(jnp.array(stems), 4)
        for r in (1 / 16, 1 / 8, 1 / 4, 1 / 2):
            for w in (-1, 0, 1):
                if (w + 2) * r > 1:
                    continue
                ctx_end, first_generated = frame_aligned_masks(r, w)
                known = column_mask(jnp.full((B,), first_generated), W)
                for sampler in (adpm2, cm):
                    sampler(jax.random.key(n), known, jnp.full((B,), ctx_end), labels).block_until_ready()
    assert adpm2._cache_size() == 1
    assert cm._cache_size() == 1
