"""What `--dtype bfloat16` costs in accuracy: the same model, seed and inputs in bfloat16 and float32.

python -m jaxaccomp.bench.precision --model small paper frames_edm --json out.json

For each model: the relative error (max |bf16 - f32| / max |f32|) of one denoiser call at several
noise levels, and of one whole served prediction (the Generator of serve.py, r = 1/4, w = 1, the same
PRNG key), over the generated columns. Presets (`paper`, `small`, `tiny`) get random weights at unit
gain (the stock initialisation zeroes the output layer, which would hide every error); a checkpoint
folder or a shipped model's name (`frames_edm`) uses its trained weights. Speed is not measured here
(bfloat16 only pays on a GPU: `python -m jaxaccomp.bench.device_suite`).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

import numpy as np

from jaxaccomp.bench.timing import machine, markdown_table, write_json

SIGMAS = (0.05, 1.0, 20.0)  # low, middle and high noise: where the skip term, both terms, the network dominate
PRESETS = ("paper", "small", "tiny")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m jaxaccomp.bench.precision", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", nargs="+", default=["small", "frames_edm"],
                        help="presets (random weights), shipped model names or checkpoint folders "
                             "(default: small frames_edm)")
    parser.add_argument("--json", type=Path, help="write the results as JSON to this file")
    return parser


def randomize(params: Any, seed: int = 0) -> Any:
    """Every parameter redrawn at unit gain: kernels N(0, 1/fan_in), scales 1 + 0.1 N, biases 0.1 N."""
    import jax

    leaves, treedef = jax.tree.flatten_with_path(params)
    rng = np.random.default_rng(seed)
    drawn = []
    for path, leaf in leaves:
        shape, name = leaf.shape, str(path[-1])
        if len(shape) > 1:
            value = rng.standard_normal(shape) / math.sqrt(math.prod(shape[:-1]))
        elif "scale" in name:
            value = 1.0 + 0.1 * rng.standard_normal(shape)
        else:
            value = 0.1 * rng.standard_normal(shape)
        drawn.append(np.asarray(value, np.float32))
    return jax.tree.unflatten(treedef, drawn)


def denoiser(model: str, dtype: str):
    """The named model's diffusion-mode Denoiser computing in `dtype` (the same weights for every dtype)."""
    import jax.numpy as jnp
    from flax import nnx

    from jaxaccomp.config import preset
    from jaxaccomp.nn.checkpoint import load_denoiser
    from jaxaccomp.nn.networks import build_network
    from jaxaccomp.nn.precond import Denoiser
    from jaxaccomp.streaming.models import MODELS_DIR

    if model in PRESETS:
        net = build_network(preset(model), rngs=nnx.Rngs(0), dtype=jnp.dtype(dtype))
        params = nnx.state(net, nnx.Param)
        nnx.replace_by_pure_dict(params, randomize(nnx.to_pure_dict(params)))
        nnx.update(net, params)
        return Denoiser(net)
    folder = MODELS_DIR / model if (MODELS_DIR / model).is_dir() else Path(model)
    return load_denoiser(folder, dtype=jnp.dtype(dtype))[0]


def _relative(half: np.ndarray, full: np.ndarray) -> float:
    return float(np.abs(np.asarray(half, np.float32) - full).max() / np.abs(full).max())


def compare(model: str, seed: int = 0) -> dict[str, Any]:
    """Relative bf16-vs-f32 errors of one model: per denoiser call at SIGMAS and for one prediction."""
    import jax
    import jax.numpy as jnp
    from flax import nnx

    from jaxaccomp.constants import HOP
    from jaxaccomp.streaming.generator import Generator
    from jaxaccomp.streaming.timeline import plan_step

    full, half = denoiser(model, "float32"), denoiser(model, "bfloat16")
    config = full.net.config
    h = w = config.img_resolution
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((1, h, w)).astype(np.float32)
    context = rng.standard_normal((1, (config.in_channels - 1) * h, w)).astype(np.float32)
    labels = np.eye(config.label_dim, dtype=np.float32)[:1]
    call = jax.jit(lambda d, sigma: d(sigma * x, jnp.full((1,), sigma), context, labels))
    parameters = sum(leaf.size for leaf in jax.tree.leaves(nnx.state(full, nnx.Param)))
    row: dict[str, Any] = {"model": model, "network": type(full.net).__name__, "parameters": parameters}
    for sigma in SIGMAS:
        row[f"denoiser_sigma_{sigma:g}"] = _relative(call(half, sigma), np.asarray(call(full, sigma)))
    # One served prediction: r = 1/4 (16 generated columns) at w = 1, the engine's masks.
    plan = plan_step(playback=w * HOP, step=w // 4 * HOP, w=1, fade=882, width=w)
    source = rng.standard_normal((1, h, w)).astype(np.float32)
    song = rng.standard_normal((h, w)).astype(np.float32)
    key = jax.random.key(seed)
    outs = [Generator(d)(plan, source, song, labels, key) for d in (full, half)]
    generated = np.s_[..., plan.first_generated:]
    row["prediction"] = _relative(outs[1][generated], outs[0][generated])
    return row


def benchmark(argv: list[str] | None = None) -> dict[str, Any]:
    """Run for command-line `argv`; prints the table and returns the JSON record."""
    import jax

    args = _parser().parse_args(argv)
    rows = [compare(model) for model in args.model]
    header = ["model", "network", "parameters", *(f"D at sigma {s:g}" for s in SIGMAS), "whole prediction"]
    lines = [[r["model"], r["network"], f"{r['parameters'] / 1e6:.1f} M",
              *(f"{r[f'denoiser_sigma_{s:g}']:.2e}" for s in SIGMAS), f"{r['prediction']:.2e}"] for r in rows]
    print(f"relative error of bfloat16 compute against float32 (max |diff| / max |f32|), on {jax.devices()[0].platform}")
    print(markdown_table(header, lines))
    result = {"environment": {**machine(), "jax": jax.__version__, "device": jax.devices()[0].device_kind},
              "rows": rows}
    write_json(args.json, result)
    return result


if __name__ == "__main__":
    from jaxaccomp import cli

    cli.run(benchmark)
