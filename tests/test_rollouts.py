"""Rollouts: a model's own free-running output stored beside a latent cache, and training on it."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxaccomp.codec.embedded import EmbeddedCodec
from jaxaccomp.data.rollouts import free_run, main


def test_free_run_feeds_the_model_its_own_output_and_writes_each_step_where_it_goes():
    """A scripted model answers step k with the value k + 1 everywhere: the estimate then shows, column
    by column, which step wrote it, and each call must see the previous steps' values as its known target."""
    frames, generated, width = 64 + 3 * 16 + 5, 16, 64
    truth = np.random.default_rng(0).standard_normal((4, 64, frames)).astype(np.float32)
    seen = []

    def predict(known, context, first_generated, first_masked, seed):
        seen.append((known.copy(), first_generated, first_masked))
        return np.full_like(known, seed + 1.0)

    estimate = free_run(predict, truth, np.zeros_like(truth), generated, w=1, seed=0)
    np.testing.assert_array_equal(estimate[..., :width], truth[..., :width])  # the first window is the truth
    for k in range(3):  # step k generates [64 + 16 k, 80 + 16 k)
        assert np.all(estimate[..., width + generated * k:width + generated * (k + 1)] == k + 1)
    assert np.all(estimate[..., width + 3 * generated:] == 0)  # the last 5 columns make no whole step
    assert [(g, m) for _, g, m in seen] == [(48, 32)] * 3
    np.testing.assert_array_equal(seen[2][0][..., 48 - 16:48], np.full((4, 64, 16), 2.0))  # step 1's output


@pytest.fixture(scope="module")
def cache_and_model(slakh_root, tmp_path_factory):
    from jaxaccomp.data.latent_cache import main as cache_main
    from jaxaccomp.nn.checkpoint import save_denoiser
    from jaxaccomp.training import config as train_config
    from jaxaccomp.training import edm
    from jaxaccomp.training import state as train_state

    folder = tmp_path_factory.mktemp("rollouts")
    assert cache_main(["--data", str(slakh_root), "--split", "train", "--out", str(folder / "cache"), "--codec",
                       "embedded", "--dtype", "float32", "--chunk", "24", "--overlap", "6"]) == 0
    cfg = train_config.from_data({"preset": "frames_tiny", "codec": "embedded"}, train_config.load("tiny"))
    export = train_state.export_denoiser(edm.init_state(cfg)["params"], cfg.unet_config())
    save_denoiser(folder / "model", export, codec=EmbeddedCodec.name)
    return folder / "cache", folder / "model", cfg


def test_rollouts_are_written_beside_the_cache_and_served_with_the_windows(cache_and_model, capsys):
    from jaxaccomp.data.latent_cache import LatentCache
    from jaxaccomp.data.pipeline import LatentWindows

    cache_dir, model, _ = cache_and_model
    with pytest.raises(FileNotFoundError, match="no rollout of track"):
        LatentWindows(LatentCache(cache_dir), rollouts=True)
    assert main([str(cache_dir), "--checkpoint", str(model)]) == 0
    cache = LatentCache(cache_dir)
    for i, track in enumerate(cache.tracks):
        rollout, latents = cache.rollout(i), cache.latents(i)
        assert rollout.shape == (4, 64, track.frames) and rollout.dtype == np.float32
        np.testing.assert_array_equal(rollout[..., :64], latents[0, ..., :64])
        assert not np.array_equal(rollout[..., 64:80], latents[0, ..., 64:80])  # the model's, not the truth
    assert main([str(cache_dir), "--checkpoint", str(model)]) == 0  # a rerun keeps them
    assert "0 rollouts written" in capsys.readouterr().err
    with pytest.raises(ValueError, match="rollouts of other settings"):
        main([str(cache_dir), "--checkpoint", str(model), "--r", "1/8"])
    windows = LatentWindows(cache, rollouts=True, shift=False)
    item, _ = windows.load(windows.plan.draw(0, np.random.default_rng(0)))
    assert item["rollout"].shape == item["target"].shape == (64, 64)


def test_known_rollout_replaces_the_known_target_in_its_share_of_examples(cache_and_model):
    from jaxaccomp.diffusion.loss import conditioning
    from jaxaccomp.nn.checkpoint import load_denoiser

    _, model, _ = cache_and_model
    denoiser, _ = load_denoiser(model)
    target = jnp.ones((64, 64, 64))
    rollout = -jnp.ones((64, 64, 64))
    context = jnp.zeros((64, 64, 64))
    for share, expected in ((0.0, 1.0), (1.0, -1.0)):
        conditioned, _ = conditioning(denoiser, target, context, jax.random.key(0), rollout=rollout,
                                      known_rollout=share)
        known = conditioned[:, 64:128, :1]  # the known-target rows; column 0 is always known here
        assert np.all(np.asarray(known) == expected)
    conditioned, _ = conditioning(denoiser, target, context, jax.random.key(0), rollout=rollout, known_rollout=0.5)
    own = float(jnp.mean(conditioned[:, 64, 0] < 0))
    assert 0.3 < own < 0.7, own


def test_train_py_trains_on_rollouts_with_balanced_channel_groups(cache_and_model, tmp_path):
    from dataclasses import replace

    from jaxaccomp.training.loop import train

    cache_dir, _, cfg = cache_and_model  # the rollouts of the test above are there (module order)
    if not (cache_dir / "rollouts.json").is_file():
        from jaxaccomp.data.rollouts import main as rollouts_main

        rollouts_main([str(cache_dir), "--checkpoint", str(cache_and_model[1])])
    run = replace(cfg, train_cache=str(cache_dir), val_cache=None, out=str(tmp_path / "run"), batch_size=2, steps=2,
                  known_rollout=0.5, loss_channels="groups", log_every=1, val_every=10, ckpt_every=10)
    summary = train(run, progress=False)
    assert summary["step"] == 2 and np.isfinite(summary["loss"])


def test_distillation_refuses_the_train_py_only_options():
    from jaxaccomp.training.config import DistillConfig

    for option in ({"known_rollout": 0.5}, {"loss_channels": "groups"}, {"context_drop": 0.1}):
        with pytest.raises(ValueError, match="train.py's; distillation does not use them"):
            DistillConfig(**option)
