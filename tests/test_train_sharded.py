"""Data parallelism: the train steps of train.py (SongUNet and frame transformer) and distill.py on a 4-device mesh (batch sharded;
parameters replicated, or ZeRO-style sharded with shard_params) give the same losses and parameters
as on one device for the same global batch. Runs in a subprocess because the fake host devices
(XLA_FLAGS) must be set before JAX starts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = r"""
import json, sys, tempfile, jax, numpy as np
from pathlib import Path
from jaxaccomp.training import config as train_config, edm, sharding, state as train_state
from jaxaccomp.codec.embedded import EmbeddedCodec
from jaxaccomp.nn.checkpoint import save_denoiser
from jaxaccomp.training.config import DistillConfig
from jaxaccomp.training.distillation import DistillProgram, resolve
train_state.COMPILER_OPTIONS.update(xla_backend_optimization_level=0)
sharding.MIN_SHARDED_SIZE = 256  # the tiny U-Net's arrays are small; shard most of them
assert jax.device_count() == 4, jax.devices()
rng = np.random.default_rng(0)
t = np.arange(16) / 4.0
local = {"target": (np.sin(t)[None, None] * rng.standard_normal((8, 64, 1))).astype(np.float32),
         "context": rng.standard_normal((8, 64, 16)).astype(np.float32),
         "label": np.eye(4, dtype=np.float32)[rng.integers(0, 4, 8)]}
# two levels, one attention: every kind of layer, at half the tiny U-Net's compile time
cfg = train_config.from_data({"batch_size": 8, "grad_clip": 1.0, "ema_decay": 0.9,
                              "unet": {"channel_mult": [1, 2], "attn_resolutions": [16]}}, train_config.load("tiny"))
teacher = Path(tempfile.mkdtemp()) / "teacher"
save_denoiser(teacher, train_state.export_denoiser(edm.init_state(cfg)["params"], cfg.unet_config()), codec=EmbeddedCodec.name)
# the embedded tier's family: the frame transformer, conditioned on the known target
frames = train_config.from_data({"batch_size": 8, "grad_clip": 1.0, "ema_decay": 0.9, "preset": "frames_tiny"},
                                train_config.load("tiny"))
distill = DistillProgram(resolve(train_config.from_data(
    {"batch_size": 8, "accumulate": 2, "teacher": str(teacher), "codec": "embedded"}, train_config.load("tiny", DistillConfig()))))

def run(program, devices, shard_params):
    program.cfg = train_config.from_data({"shard_params": shard_params}, program.cfg)
    mesh = sharding.make_mesh(devices)
    layout = train_state.state_layout(program.init_state, mesh, shard_params)
    state = sharding.put_state(program.init_state(), layout)
    batch = sharding.global_batch(local, mesh)
    assert len(batch["target"].sharding.device_set) == len(devices)
    step = program.train_step(mesh)
    losses = []
    for _ in range(3):
        state, metrics = step(state, batch)
        losses.append(float(metrics["loss"]))
    specs = {str(x.sharding.spec) for x in jax.tree.leaves(state["params"])}
    return {"losses": losses, "state": {k: [np.asarray(x) for x in jax.tree.leaves(state[k])] for k in ("params", "ema", "target") if k in state},
            "sharded": any("data" in s for s in specs)}

def diff(a, b):
    return max(float(np.max(np.abs(x - y))) for x, y in zip(a, b))

report = {}
for name, program, runs in (("edm", edm.EDMProgram(cfg), (("four", False), ("four_sharded", True))),
                            ("frames", edm.EDMProgram(frames), (("four_sharded", True),)),
                            ("distill", distill, (("four_sharded", True),))):
    one = run(program, jax.devices()[:1], False)
    for label, shard in runs:
        other = run(program, jax.devices(), shard)
        report[f"{name}_{label}"] = {"loss_one": one["losses"], "loss_other": other["losses"], "sharded": other["sharded"],
                                     "diff": {k: diff(one["state"][k], other["state"][k]) for k in one["state"]}}
print(json.dumps(report))
"""


def test_sharded_steps_equal_single_device_steps():
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=4", "JAX_PLATFORMS": "cpu"}
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env,
                          cwd=Path(__file__).resolve().parents[1], timeout=1800)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(report) == {"edm_four", "edm_four_sharded", "frames_four_sharded", "distill_four_sharded"}
    for name, result in report.items():
        assert result["sharded"] == name.endswith("sharded"), name
        assert all(abs(a - b) <= 1e-5 * abs(a) for a, b in zip(result["loss_one"], result["loss_other"])), (name, result)
        # 3 optimiser steps move parameters by ~1e-3; a sharded all-reduce only reorders float sums.
        assert all(d < 5e-6 for d in result["diff"].values()), (name, result)  # measured <= 1e-6
