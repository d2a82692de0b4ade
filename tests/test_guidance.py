"""Context guidance: D(c) + g (D(c) - D(no context)) in one batched call, only the song's rows dropped,
chosen per checkpoint and overridable."""

import json
import shutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxaccomp.diffusion.guidance import context_guided
from jaxaccomp.streaming import models
from jaxaccomp.streaming.timeline import plan_step

H, W = 4, 6


def toy_denoiser(x, sigma, context, labels):
    """Non-linear in every input, so a wrong branch or row shows."""
    song, known = context[:, :H], context[:, H:2 * H]
    return jnp.tanh(x) / sigma[:, None, None] + song**2 + 0.5 * known + labels[:, :1, None]


def test_guided_denoiser_is_the_classifier_free_formula():
    rng = np.random.default_rng(0)
    x, context = rng.standard_normal((2, H, W)), rng.standard_normal((2, 3 * H, W))
    sigma, labels = np.array([0.5, 2.0]), np.eye(4)[[1, 3]]
    with_song = toy_denoiser(x, sigma, context, labels)
    without = toy_denoiser(x, sigma, np.concatenate([np.zeros((2, H, W)), context[:, H:]], axis=1), labels)
    for scale in (0.0, 1.0, 3.0):
        guided = context_guided(toy_denoiser, scale, H)(x, sigma, context, labels)
        np.testing.assert_allclose(guided, with_song + scale * (with_song - without), rtol=1e-5, atol=1e-5)


@pytest.fixture(scope="module")
def guided_checkpoint(tmp_path_factory):
    """The shipped diffusion model with a recommended guidance in its metadata."""
    folder = tmp_path_factory.mktemp("guided") / "model"
    shutil.copytree(models.default_checkpoint("diffusion"), folder)
    meta = json.loads((folder / "meta.json").read_text())
    (folder / "meta.json").write_text(json.dumps({**meta, "sampling": {"guidance": 2.5}}))
    return folder


def test_the_checkpoint_recommends_guidance_and_a_flag_overrides_it(guided_checkpoint):
    _, recommended = models.load_model(guided_checkpoint, None, None, None)
    _, plain = models.load_model(guided_checkpoint, None, None, None, guidance=0.0)
    _, shipped = models.load_model(None, "diffusion", None, None)
    assert (recommended.guidance, plain.guidance) == (2.5, 0.0)
    assert shipped.guidance == models.recommended_guidance(json.loads(
        (models.default_checkpoint("diffusion") / "meta.json").read_text()))

    plan = plan_step(playback=64 * 4096, step=16 * 4096, w=-1, fade=882)
    rng = np.random.default_rng(1)
    source, song = rng.standard_normal((1, 64, 64), np.float32), rng.standard_normal((64, 64), np.float32)
    labels, key = np.eye(4, dtype=np.float32)[:1], jax.random.key(0)
    a, b = (generator(plan, source, song, labels, key) for generator in (recommended, plain))
    generated = np.s_[..., plan.first_generated:]
    assert np.abs(a[generated] - b[generated]).max() > 1e-2  # guidance changes what is generated
    np.testing.assert_array_equal(a[..., :plan.first_generated], source[..., :plan.first_generated])
    recommended(plan, source, song, labels, key)
    assert recommended.compilations == 1  # one program, guidance included


def test_guidance_on_some_rows_leaves_the_others_conditional():
    rng = np.random.default_rng(2)
    x, context = rng.standard_normal((2, H, W)), rng.standard_normal((2, 3 * H, W))
    sigma, labels = np.array([0.5, 2.0]), np.eye(4)[[1, 3]]
    everywhere = context_guided(toy_denoiser, 3.0, H)(x, sigma, context, labels)
    some = context_guided(toy_denoiser, 3.0, H, channels=(1, 3))(x, sigma, context, labels)
    plain = toy_denoiser(x, sigma, context, labels)
    np.testing.assert_allclose(some[:, 1:3], everywhere[:, 1:3], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(some[:, [0, 3]], plain[:, [0, 3]], rtol=1e-5, atol=1e-6)  # float32, batched or not
    assert np.abs(everywhere[:, [0, 3]] - plain[:, [0, 3]]).max() > 1e-2  # the rows left alone would have moved


def test_capped_guidance_stays_below_the_conditional_estimates_loudest_value_in_each_row():
    rng = np.random.default_rng(3)
    x, context = rng.standard_normal((2, H, W)), rng.standard_normal((2, 3 * H, W))
    sigma, labels = np.array([0.5, 2.0]), np.eye(4)[[1, 3]]
    plain = np.asarray(toy_denoiser(x, sigma, context, labels))
    free = np.asarray(context_guided(toy_denoiser, 3.0, H, channels=(1, 3))(x, sigma, context, labels))
    capped = np.asarray(context_guided(toy_denoiser, 3.0, H, channels=(1, 3), capped=True)(x, sigma, context, labels))
    cap = plain[:, 1:3].max(axis=2, keepdims=True)  # per stem and row, over the window's columns
    assert (free[:, 1:3] > cap + 1e-3).any()  # the cap binds somewhere
    np.testing.assert_allclose(capped[:, 1:3], np.minimum(free[:, 1:3], cap), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(capped[:, [0, 3]], plain[:, [0, 3]], rtol=1e-5, atol=1e-6)


def test_the_shipped_student_guides_the_block_energies_capped():
    _, student = models.load_model(None, "consistency", None, None)
    assert (student.guided_channels, student.guidance_cap) == ((36, 44), True)
    assert "context guidance 3 on channels 36-43, capped" in student.sampler_name()


def test_the_shipped_model_guides_all_but_the_spectral_envelope(guided_checkpoint):
    _, shipped = models.load_model(None, "diffusion", None, None)
    _, whole = models.load_model(guided_checkpoint, None, None, None)  # its sampling says no rows: all of them
    assert (shipped.guided_channels, whole.guided_channels) == ((36, 64), None)
    assert "context guidance 3 on channels 36-63" in shipped.sampler_name()
    meta = json.loads((guided_checkpoint / "meta.json").read_text())
    (guided_checkpoint / "meta.json").write_text(json.dumps({**meta, "sampling": {"guidance": 1, "guided_channels": [60, 70]}}))
    try:
        with pytest.raises(ValueError, match=r"within the latent's 64 rows, got \[60, 70\]"):
            models.load_model(guided_checkpoint, None, None, None)
    finally:
        (guided_checkpoint / "meta.json").write_text(json.dumps(meta))
