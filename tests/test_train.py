"""Issue 6 (train.py): the functional train step learns, resuming is bit-exact, the CLI runs end to end
(and distill.py after it, on rendered songs).

Every test uses the `tiny` training config (16-frame windows, batch 4, lr 1e-3), so the train and
validation steps compile once for the whole file; they compile at XLA optimisation level 0, which
on a 2-core CPU takes a third of the time and runs about half as fast.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest
import yaml

from jaxaccomp.training import cli, config as train_config, edm, state as train_state
from jaxaccomp.nn.checkpoint import CheckpointError, load_denoiser
from jaxaccomp.training.metrics import read as read_csv
from jaxaccomp.training.sharding import global_batch, make_mesh, put_replicated
from jaxaccomp.codec.embedded import EmbeddedCodec

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.usefixtures("fast_compile")


def tiny(**overrides) -> train_config.TrainConfig:
    return train_config.from_data(overrides, train_config.load("tiny"))


def leaves(path: Path) -> list[np.ndarray]:
    denoiser, _ = load_denoiser(path)
    from flax import nnx

    return [np.asarray(x) for x in jax.tree.leaves(nnx.to_pure_dict(nnx.state(denoiser.net, nnx.Param)))]


def test_config_files_flags_and_help():
    for name in ("paper", "small", "tiny"):
        assert train_config.load(name).preset == name
    cfg = cli.resolve(cli.build_parser().parse_args(["--config", "tiny", "--lr", "3e-4", "--no-mask-context", "--steps", "7"]))
    assert (cfg.preset, cfg.lr, cfg.mask_context, cfg.steps, cfg.window) == ("tiny", 3e-4, False, 7, 16)
    assert cfg.b2 == 0.99 and cfg.grad_clip == 0 and cfg.ema_decay == 0 and cfg.warmup_steps == 0  # the reference
    help_text = cli.build_parser().format_help()
    for name in train_config.trajectory_keys(train_config.TrainConfig()) + tuple(train_config.RESUME_FREE - {"teacher"}):
        if name != "unet":
            assert "--" + name.replace("_", "-") in help_text
    with pytest.raises(ValueError, match="multiple of 4"):
        tiny(window=18)
    with pytest.raises(ValueError, match="unknown train config keys: bogus"):
        tiny(bogus=1)
    done = subprocess.run([sys.executable, str(ROOT / "train.py"), "--help"], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0 and "--train-cache" in done.stdout


def test_loss_is_finite_and_falls_when_overfitting_one_batch(latent_caches):
    from jaxaccomp.data.latent_cache import LatentCache
    from jaxaccomp.data.pipeline import LatentWindows, epoch_dataset

    cfg = tiny()
    mesh = make_mesh()
    local = epoch_dataset(LatentWindows(LatentCache(latent_caches[0]), 16), epoch=0, batch_size=4, seed=0, shard_index=0, shard_count=1)[0]
    batch = global_batch(local, mesh)
    assert batch["target"].shape == (4, 64, 16) and batch["label"].shape == (4, 4)
    state = put_replicated(edm.init_state(cfg), mesh)
    step, evaluate = edm.make_train_step(cfg, mesh), edm.make_eval_step(cfg, mesh)
    keys = [jax.random.key(k) for k in range(4)]
    before = np.mean([float(evaluate(state, batch, k)) for k in keys])
    losses = []
    for _ in range(30):
        state, metrics = step(state, batch)
        losses.append(float(metrics["loss"]))
    after = np.mean([float(evaluate(state, batch, k)) for k in keys])
    assert np.all(np.isfinite(losses)) and int(state["step"]) == 30
    assert np.mean(losses[-10:]) < np.mean(losses[:10])
    assert after < 0.7 * before, (before, after)


def test_resume_continues_bit_for_bit(latent_caches, tmp_path):
    common = ["--config", "tiny", "--train-cache", str(latent_caches[0]), "--val-cache", str(latent_caches[1]), "--ckpt-every", "4",
              "--val-every", "4", "--log-every", "2", "--keep", "1"]
    assert cli.main([*common, "--out", str(tmp_path / "a"), "--steps", "8"]) == 0
    assert cli.main([*common, "--out", str(tmp_path / "b"), "--steps", "4"]) == 0
    assert cli.main(["--out", str(tmp_path / "b"), "--resume", "--steps", "8"]) == 0
    for a, b in zip(leaves(tmp_path / "a" / "model"), leaves(tmp_path / "b" / "model")):
        np.testing.assert_array_equal(a, b)
    rows_a, rows_b = read_csv(tmp_path / "a" / "metrics.csv"), read_csv(tmp_path / "b" / "metrics.csv")
    assert [r["step"] for r in rows_a] == [r["step"] for r in rows_b] == ["2", "4", "6", "8"]
    assert [r["loss"] for r in rows_a] == [r["loss"] for r in rows_b]
    assert [r["val_loss"] for r in rows_a] == [r["val_loss"] for r in rows_b] and rows_a[-1]["val_loss"]
    assert rows_a[-1]["epoch"] == "2"  # 3 batches per epoch: 8 steps = epoch 2, batch 2
    assert sorted(p.name for p in (tmp_path / "a" / "checkpoints" / "last").iterdir() if p.name.isdigit()) == ["8"]
    assert (tmp_path / "a" / "best_model" / "meta.json").is_file()
    saved = train_config.load(str(tmp_path / "a" / "config.yaml"))
    assert saved.codec == EmbeddedCodec.name and saved.steps == 8
    assert yaml.safe_load((tmp_path / "a" / "config.yaml").read_text())["produced_by"]["jax"]  # what ran it

    # One-line user errors: an existing run without --resume, a changed trajectory, another codec, no data.
    with pytest.raises(ValueError, match="pass --resume"):
        cli.main([*common, "--out", str(tmp_path / "a"), "--steps", "8"])
    with pytest.raises(ValueError, match="different lr"):
        cli.main(["--out", str(tmp_path / "a"), "--resume", "--lr", "0.01"])
    with pytest.raises(ValueError, match=f"codec '{EmbeddedCodec.name}'.*not of 'music2latent'"):
        cli.main([*common, "--out", str(tmp_path / "c"), "--codec", "music2latent"])
    with pytest.raises(FileNotFoundError, match="no latent cache"):
        cli.main(["--config", "tiny", "--train-cache", str(tmp_path / "missing"), "--out", str(tmp_path / "d")])
    with pytest.raises(FileNotFoundError, match="no checkpoints"):
        cli.main(["--out", str(tmp_path / "e"), "--resume"])
    with pytest.raises(CheckpointError, match=f"trained on codec '{EmbeddedCodec.name}'"):
        load_denoiser(tmp_path / "a" / "model", expected_codec="music2latent")
    done = subprocess.run([sys.executable, str(ROOT / "train.py"), "--config", "tiny", "--out", str(tmp_path / "f")],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 1 and done.stderr.startswith("error: no training data") and "Traceback" not in done.stderr


def test_end_to_end_from_rendered_songs(tmp_path):
    pytest.importorskip("fluidsynth", reason="pyfluidsynth / libfluidsynth not installed")
    from jaxaccomp.data.render import DEFAULT_SOUNDFONT, render_dataset

    if not Path(DEFAULT_SOUNDFONT).is_file():
        pytest.skip(f"{DEFAULT_SOUNDFONT} absent (Debian package fluid-soundfont-gm)")
    render_dataset(tmp_path / "data", 2, "train", 3, 1, seconds=10)
    render_dataset(tmp_path / "data", 1, "validation", 3, 1, seconds=10)
    out = tmp_path / "run"
    assert cli.main(["--config", "tiny", "--data", str(tmp_path / "data"), "--codec", "embedded",
                     "--train-cache", str(tmp_path / "cache" / "train"), "--val-cache", str(tmp_path / "cache" / "val"),
                     "--steps", "6", "--val-every", "3", "--ckpt-every", "3", "--out", str(out)]) == 0
    rows = read_csv(out / "metrics.csv")
    assert [r["step"] for r in rows] == ["3", "6"]
    assert all(np.isfinite(float(r["loss"])) and np.isfinite(float(r["val_loss"])) for r in rows)
    denoiser, meta = load_denoiser(out / "model", expected_codec=EmbeddedCodec.name)
    assert meta["unet"]["model_channels"] == 16 and meta["mode"] == "diffusion"
    x = np.zeros((1, 64, 16), np.float32)
    assert np.all(np.isfinite(np.asarray(denoiser(x, np.ones(1), x, np.eye(4, dtype=np.float32)[:1]))))
    # ... and distill.py distils that model on the same caches.
    assert cli.distill_main(["--config", "tiny", "--teacher", str(out / "model"), "--train-cache", str(tmp_path / "cache" / "train"),
                             "--val-cache", str(tmp_path / "cache" / "val"), "--steps", "2", "--val-every", "2",
                             "--out", str(tmp_path / "cd")]) == 0
    rows = read_csv(tmp_path / "cd" / "metrics.csv")
    assert [r["step"] for r in rows] == ["2"] and all(np.isfinite(float(rows[0][k])) for k in ("loss", "consistency", "dsm", "val_loss"))
    assert load_denoiser(tmp_path / "cd" / "model", expected_codec=EmbeddedCodec.name)[1]["mode"] == "consistency"


def test_accumulated_gradients_average_the_micro_batches():
    """count micro-batches of strided rows, keys fold_in(key, j): the same as averaging by hand."""
    import jax.numpy as jnp

    def loss_fn(params, batch, key):
        noise = jax.random.normal(key, batch["x"].shape)
        residual = batch["x"] * params["w"] + noise - batch["y"]
        return jnp.mean(residual**2), {"abs": jnp.mean(jnp.abs(residual))}

    rng = np.random.default_rng(0)
    batch = {"x": rng.standard_normal((8, 3)).astype(np.float32), "y": rng.standard_normal((8, 3)).astype(np.float32)}
    params, key = {"w": jnp.asarray([0.5, -1.0, 2.0])}, jax.random.key(7)
    metrics, grads = jax.jit(lambda p, b: train_state.accumulated_gradients(loss_fn, p, b, key, 4))(params, batch)
    by_hand = [jax.value_and_grad(loss_fn, has_aux=True)(params, {k: v[j::4] for k, v in batch.items()}, jax.random.fold_in(key, j))
               for j in range(4)]
    np.testing.assert_allclose(metrics["loss"], np.mean([l for (l, _), _ in by_hand]), rtol=1e-6)
    np.testing.assert_allclose(metrics["abs"], np.mean([a["abs"] for (_, a), _ in by_hand]), rtol=1e-6)
    np.testing.assert_allclose(grads["w"], np.mean([g["w"] for _, g in by_hand], axis=0), rtol=1e-5)
    single, _ = train_state.accumulated_gradients(loss_fn, params, batch, key, 1)
    np.testing.assert_allclose(single["loss"], loss_fn(params, batch, key)[0], rtol=1e-6)


def test_ema_warmup_and_optimizers():
    decays = [float(train_state.ema_warmup(0.999, np.float32(n))) for n in (1, 10, 100, 10_000)]
    np.testing.assert_allclose(decays, [2 / 11, 11 / 20, 101 / 110, 0.999], rtol=1e-6)
    for name in ("adam", "radam"):
        cfg = tiny(optimizer=name, lr=0.1)
        tx = train_state.make_optimizer(cfg)
        params = {"w": np.ones(3, np.float32)}
        updates, _ = tx.update({"w": np.ones(3, np.float32)}, tx.init(params), params)
        assert np.all(np.asarray(updates["w"]) <= 0)  # a descent direction (RAdam's first steps are SGD-like)
    with pytest.raises(ValueError, match="unknown optimizer"):
        tiny(optimizer="sgd")


def test_export_picks_raw_or_ema_weights_by_validation_loss(latent_caches, tmp_path, capsys):
    from jaxaccomp.training import export

    run = tmp_path / "run"
    assert cli.main(["--config", "tiny", "--train-cache", str(latent_caches[0]), "--val-cache", str(latent_caches[1]),
                     "--steps", "4", "--ema-decay", "0.999", "--out", str(run)]) == 0
    assert export.main([str(run), str(tmp_path / "raw"), "--weights", "raw"]) == 0
    assert export.main([str(run), str(tmp_path / "ema"), "--weights", "ema"]) == 0
    assert export.main([str(run), str(tmp_path / "auto")]) == 0
    printed = capsys.readouterr().out.strip().splitlines()[-1]
    raw_loss, ema_loss = (float(x) for x in re.findall(r"(?:raw|EMA) ([0-9.]+)", printed))
    chosen = "raw" if raw_loss <= ema_loss else "ema"
    assert printed.endswith(f"exporting {chosen}")
    for a, b in zip(leaves(tmp_path / "auto"), leaves(tmp_path / chosen)):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(leaves(run / "model"), leaves(tmp_path / "ema")):  # the run's own export is its EMA
        np.testing.assert_array_equal(a, b)
    assert any(np.any(a != b) for a, b in zip(leaves(tmp_path / "raw"), leaves(tmp_path / "ema")))
    plain = tmp_path / "plain"
    assert cli.main(["--config", "tiny", "--train-cache", str(latent_caches[0]), "--steps", "1", "--out", str(plain)]) == 0
    with pytest.raises(ValueError, match="keeps no EMA"):
        export.main([str(plain), str(tmp_path / "x")])
