"""Issue 6 (distill.py): consistency distillation of a tiny teacher learns, resumes bit for bit, exports a
consistency-mode model, logs its loss terms, and refuses bad teachers with one-line errors."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

from jaxaccomp.training import cli, config as train_config
from jaxaccomp.nn.checkpoint import CheckpointError, load_denoiser
from jaxaccomp.training.config import DistillConfig
from jaxaccomp.training.metrics import read as read_csv
from jaxaccomp.training.sharding import global_batch, make_mesh, put_replicated
from jaxaccomp.codec.embedded import EmbeddedCodec
from latent_fixture import write_cache

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.usefixtures("fast_compile")


@pytest.fixture(scope="module")
def teacher(latent_caches, tmp_path_factory) -> Path:
    """A tiny EDM model from train.py (8 steps: enough to be a teacher with structure)."""
    out = tmp_path_factory.mktemp("teacher") / "run"
    assert cli.main(["--config", "tiny", "--train-cache", str(latent_caches[0]), "--steps", "8", "--out", str(out)]) == 0
    return out / "model"


def distill_tiny(teacher: Path, **overrides) -> DistillConfig:
    base = train_config.load("tiny", DistillConfig())
    return train_config.from_data({"teacher": str(teacher), "codec": "embedded", **overrides}, base)


def params_of(path: Path) -> list[np.ndarray]:
    from flax import nnx

    denoiser, _ = load_denoiser(path)
    return [np.asarray(x) for x in jax.tree.leaves(nnx.to_pure_dict(nnx.state(denoiser.net, nnx.Param)))]


def test_defaults_are_the_reference_recipe_and_help_lists_the_flags():
    cfg = DistillConfig()
    assert (cfg.optimizer, cfg.lr, cfg.b1, cfg.b2, cfg.eps) == ("radam", 1e-5, 0.9, 0.999, 1e-8)
    assert (cfg.batch_size, cfg.accumulate, cfg.target_decay, cfg.target_dropout) == (32, 4, 0.999, False)
    assert cfg.grad_clip == 0 and cfg.ema_decay == 0 and cfg.mask_context
    for name in ("paper", "small", "tiny"):
        assert isinstance(train_config.load(name, DistillConfig()), DistillConfig)
    assert train_config.load("paper", DistillConfig()).batch_size == 128  # 32 x 4 accumulated
    with pytest.raises(ValueError, match="multiple of accumulate"):
        train_config.from_data({"batch_size": 6, "accumulate": 4}, DistillConfig())
    with pytest.raises(ValueError, match="target_decay"):
        DistillConfig(target_decay=1.0)
    done = subprocess.run([sys.executable, str(ROOT / "distill.py"), "--help"], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0
    assert all(flag in done.stdout for flag in ("--teacher", "--target-decay", "--target-dropout", "--accumulate"))
    assert "--preset" not in done.stdout  # the architecture is the teacher's


def test_student_starts_as_teacher_and_learns_a_fixed_batch(latent_caches, teacher):
    from jaxaccomp.data.latent_cache import LatentCache
    from jaxaccomp.data.pipeline import LatentWindows, epoch_dataset
    from jaxaccomp.training.distillation import DistillProgram, resolve

    program = DistillProgram(resolve(distill_tiny(teacher, lr=3e-3)))
    mesh = make_mesh()
    state = put_replicated(program.init_state(), mesh)
    for student, target, reference in zip(jax.tree.leaves(state["params"]), jax.tree.leaves(state["target"]), params_of(teacher)):
        np.testing.assert_array_equal(np.asarray(student), reference)
        np.testing.assert_array_equal(np.asarray(target), reference)
    local = epoch_dataset(LatentWindows(LatentCache(latent_caches[0]), 16), epoch=0, batch_size=4, seed=0, shard_index=0, shard_count=1)[0]
    batch = global_batch(local, mesh)
    step, evaluate = program.train_step(mesh), program.eval_step(mesh)
    keys = [jax.random.key(k) for k in range(6)]
    before = np.mean([float(evaluate(state, batch, k)) for k in keys])
    target_before = [np.asarray(x) for x in jax.tree.leaves(state["target"])]
    history = []
    for _ in range(10):
        state, metrics = step(state, batch)
        history.append({k: float(v) for k, v in metrics.items()})
    after = np.mean([float(evaluate(state, batch, k)) for k in keys])
    assert all(np.isfinite(list(h.values())).all() for h in history) and int(state["step"]) == 10
    assert all(abs(h["loss"] - h["consistency"] - h["dsm"]) < 1e-4 * h["loss"] for h in history)
    losses = [h["loss"] for h in history]
    assert np.mean(losses[-4:]) < 0.9 * np.mean(losses[:4]), losses  # measured 1.29 vs 1.54
    assert after < 0.97 * before, (before, after)  # same draws, no dropout: measured 1.39 vs 1.48
    # The target follows the student at 0.999 per step: it moved, but far less than the student.
    moved = lambda a, b: max(float(np.max(np.abs(np.asarray(x) - y))) for x, y in zip(a, b))  # noqa: E731
    target_moved = moved(jax.tree.leaves(state["target"]), target_before)
    student_moved = moved(jax.tree.leaves(state["params"]), target_before)
    assert 0 < target_moved < 0.1 * student_moved


def test_init_from_starts_student_and_target_from_that_model(latent_caches, teacher, tmp_path):
    """Fine-tuning a student towards a newer teacher: --init-from gives the start (parameters and recommended
    sampling), the teacher stays the teacher."""
    from jaxaccomp.nn.checkpoint import save_denoiser
    from jaxaccomp.training import state as train_state
    from jaxaccomp.training.distillation import DistillProgram, resolve

    cfg = resolve(distill_tiny(teacher))
    start = train_state.init_params(cfg.unet_config(), seed=7)
    save_denoiser(tmp_path / "student", train_state.export_denoiser(start, cfg.unet_config(), "consistency"),
                  codec=EmbeddedCodec.name)
    program = DistillProgram(resolve(distill_tiny(teacher, init_from=str(tmp_path / "student"))))
    state = program.init_state()
    for student, target, reference in zip(jax.tree.leaves(state["params"]), jax.tree.leaves(state["target"]),
                                          jax.tree.leaves(start)):
        np.testing.assert_array_equal(np.asarray(student), np.asarray(reference))
        np.testing.assert_array_equal(np.asarray(target), np.asarray(reference))
    for frozen, reference in zip(jax.tree.leaves(program.teacher), params_of(teacher)):
        np.testing.assert_array_equal(np.asarray(frozen), reference)  # the teacher is still the teacher
    # The fine-tune is served as its start model recommends (a run without --init-from recommends nothing).
    meta_path = tmp_path / "student" / "meta.json"
    sampling = {"guidance": 3.0, "guided_channels": [36, 44], "guidance_cap": True, "continuation": "periodic"}
    meta_path.write_text(json.dumps({**json.loads(meta_path.read_text()), "sampling": sampling}))
    common = ["--config", "tiny", "--teacher", str(teacher), "--train-cache", str(latent_caches[0]), "--steps", "1"]
    assert cli.distill_main([*common, "--init-from", str(tmp_path / "student"), "--out", str(tmp_path / "tuned")]) == 0
    assert load_denoiser(tmp_path / "tuned" / "model")[1]["sampling"] == sampling
    assert cli.distill_main([*common, "--out", str(tmp_path / "plain")]) == 0
    assert "sampling" not in load_denoiser(tmp_path / "plain" / "model")[1]
    other = train_config.from_data({"preset": "frames_tiny"}, train_config.load("tiny"))
    save_denoiser(tmp_path / "other", train_state.export_denoiser(train_state.init_params(other.unet_config(), 0),
                                                                  other.unet_config()), codec=EmbeddedCodec.name)
    with pytest.raises(CheckpointError, match="not the configured"):
        DistillProgram(resolve(distill_tiny(teacher, init_from=str(tmp_path / "other"))))


def read_events(directory: Path) -> list[tuple[int, str, float]]:
    """(step, tag, value) of every scalar in the TensorBoard event files (TFRecord framing)."""
    from tensorboardX.proto.event_pb2 import Event

    scalars = []
    for path in sorted(directory.glob("events.out.tfevents.*")):
        data = path.read_bytes()
        offset = 0
        while offset < len(data):
            (length,) = struct.unpack_from("<Q", data, offset)
            event = Event.FromString(data[offset + 12: offset + 12 + length])
            offset += 16 + length
            scalars += [(event.step, v.tag, v.simple_value) for v in event.summary.value]
    return scalars


def test_cli_resumes_bit_for_bit_and_exports_a_consistency_model(latent_caches, teacher, tmp_path):
    common = ["--config", "tiny", "--teacher", str(teacher), "--train-cache", str(latent_caches[0]), "--val-cache", str(latent_caches[1]),
              "--ckpt-every", "3", "--val-every", "3", "--log-every", "3", "--keep", "1"]
    distill = cli.distill_main
    assert distill([*common, "--out", str(tmp_path / "a"), "--steps", "6"]) == 0
    assert distill([*common, "--out", str(tmp_path / "b"), "--steps", "3"]) == 0
    assert distill(["--out", str(tmp_path / "b"), "--resume", "--steps", "6"]) == 0
    for a, b in zip(params_of(tmp_path / "a" / "model"), params_of(tmp_path / "b" / "model")):
        np.testing.assert_array_equal(a, b)
    rows_a, rows_b = read_csv(tmp_path / "a" / "metrics.csv"), read_csv(tmp_path / "b" / "metrics.csv")
    assert [r["step"] for r in rows_a] == [r["step"] for r in rows_b] == ["3", "6"]
    for key in ("loss", "consistency", "dsm", "val_loss"):
        assert [r[key] for r in rows_a] == [r[key] for r in rows_b] and np.isfinite(float(rows_a[-1][key]))
    student, meta = load_denoiser(tmp_path / "a" / "model", expected_codec=EmbeddedCodec.name)
    assert meta["mode"] == "consistency" and student.mode == "consistency" and meta["source"].startswith("distill.py")
    assert meta["unet"] == load_denoiser(teacher)[1]["unet"]
    saved = train_config.load(str(tmp_path / "a" / "config.yaml"), DistillConfig())
    assert saved.teacher == str(teacher) and saved.optimizer == "radam" and saved.accumulate == 2
    scalars = read_events(tmp_path / "a" / "tensorboard")
    assert {(s, t) for s, t, _ in scalars} >= {(3, "loss"), (6, "loss"), (6, "consistency"), (6, "dsm"), (6, "val_loss")}

    # One-line user errors: no teacher, a consistency model as teacher, a teacher of another codec.
    with pytest.raises(ValueError, match="needs --teacher"):
        distill(["--config", "tiny", "--train-cache", str(latent_caches[0]), "--out", str(tmp_path / "c")])
    with pytest.raises(CheckpointError, match="needs an EDM model"):
        distill([*common, "--teacher", str(tmp_path / "a" / "model"), "--out", str(tmp_path / "d")])
    other = write_cache(tmp_path / "m2l", 4, 48, seed=0, codec="music2latent")
    with pytest.raises(CheckpointError, match=f"trained on codec '{EmbeddedCodec.name}'"):
        distill(["--config", "tiny", "--teacher", str(teacher), "--train-cache", str(other), "--codec", "auto",
                 "--out", str(tmp_path / "e"), "--steps", "1"])
    done = subprocess.run([sys.executable, str(ROOT / "distill.py"), "--config", "tiny", "--out", str(tmp_path / "f")],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 1 and done.stderr.startswith("error: distill.py needs --teacher") and "Traceback" not in done.stderr
