"""Latent-space check of the demo models (run from the repository root with the run's caches):

    python docs/training/latent_check.py cache/validation jaxaccomp/models/small_edm jaxaccomp/models/small_cd

On validation windows of 64 columns, at the server's r = 1/4, w = 1 masks (context zeroed from
column 32, the last 16 target columns generated, the first 48 known), it reports the mean squared
error of the generated columns against the true stem latents for: the teacher with the server's
ADPM2 (16 network calls), the distilled student with 2 consistency steps, the teacher's weights used
as a consistency model before distillation (the student's starting point), and two baselines that
use no model (each channel's mean over the known columns, and zeros). Lower is better; it measures
fit to the data, not musical quality (that is the evaluation issue's job).
"""

import sys

import jax
import jax.numpy as jnp
import numpy as np

from jaxaccomp.data.latent_cache import LatentCache
from jaxaccomp.data.pipeline import LatentWindows, epoch_dataset
from jaxaccomp.diffusion.masks import column_mask, mask_future_context
from jaxaccomp.diffusion.samplers import SERVER_ADPM2, adpm2_inpaint, consistency_sample, consistency_sigmas, karras_sigmas
from jaxaccomp.nn.precond import Denoiser
from jaxaccomp.training.checkpoint import load_denoiser

cache, teacher_dir, student_dir = sys.argv[1:4]
windows = epoch_dataset(LatentWindows(LatentCache(cache), 64, shift=False), epoch=0, batch_size=8, seed=0,
                        shard_index=0, shard_count=1)
batches = [windows[i] for i in range(min(4, len(windows)))]
teacher, _ = load_denoiser(teacher_dir)
student, _ = load_denoiser(student_dir)
start = Denoiser(teacher.net, teacher.diffusion, "consistency")
known = column_mask(jnp.full((8,), 48), 64)
adpm2 = jnp.asarray(karras_sigmas(**SERVER_ADPM2), jnp.float32)


def run(sampler, batch, key):
    context = mask_future_context(jnp.asarray(batch["context"]), jnp.full((8,), 32))
    return sampler(key, jnp.asarray(batch["target"]), known, context, jnp.asarray(batch["label"]))


samplers = {
    "teacher, ADPM2 16 calls": jax.jit(lambda k, s, m, c, l: adpm2_inpaint(teacher, k, s, m, c, l, adpm2)),
    "student, consistency 2 steps": jax.jit(lambda k, s, m, c, l: consistency_sample(student, k, s, m, c, l, consistency_sigmas(2))),
    "teacher weights as consistency model, 2 steps (before distillation)":
        jax.jit(lambda k, s, m, c, l: consistency_sample(start, k, s, m, c, l, consistency_sigmas(2))),
}
errors = {name: [] for name in samplers} | {"baseline: mean of the known columns": [], "baseline: zeros": []}
for i, batch in enumerate(batches):
    truth = batch["target"][..., 48:]
    for name, sampler in samplers.items():
        out = np.asarray(run(sampler, batch, jax.random.key(i)))
        errors[name].append(np.mean((out[..., 48:] - truth) ** 2))
    errors["baseline: mean of the known columns"].append(np.mean((batch["target"][..., :48].mean(-1, keepdims=True) - truth) ** 2))
    errors["baseline: zeros"].append(np.mean(truth**2))
print(f"| generated columns 48-63, {len(batches) * 8} validation windows | latent MSE |\n|---|---|")
for name, values in errors.items():
    print(f"| {name} | {np.mean(values):.4f} |")
