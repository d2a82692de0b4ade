"""How much each network family learns per CPU-minute: examples/s and validation loss against wall time.

python -m jaxaccomp.bench.learning_speed --train-cache C --val-cache V --minutes 10 --json out.json

Each preset trains for the same wall time on the same latent cache, with train.py's own compiled step
and data pipeline, one after the other in one process. Every `--eval-every` seconds of training
(evaluation time not counted) the raw parameters are scored with `diffusion.loss.stream_loss`: the
weighted DSM error on the 16 columns a step of r = 1/4, w = 1 generates, at six fixed noise levels,
on fixed validation windows. It scores every family on the same task, so the curves compare (each
family's own training loss does not: the frame transformer is scored on generated columns only).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

from jaxaccomp.bench.timing import machine, markdown_table, write_json

STREAM_MASKS = (32, 48)  # r = 1/4, w = 1 of a 64-frame window: context to column 32, target known to 48


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m jaxaccomp.bench.learning_speed", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train-cache", required=True, help="latent cache of the training split")
    parser.add_argument("--val-cache", required=True, help="latent cache of the validation split")
    parser.add_argument("--presets", nargs="+", default=["small", "frames"], help="network presets to compare")
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[8, 32],
                        help="batch size of each preset, in order (default: small 8 as shipped, frames 32)")
    parser.add_argument("--lr", type=float, default=3e-4, help="peak learning rate (200-step warm-up, clip 1.0)")
    parser.add_argument("--minutes", type=float, default=10.0, help="training wall time per preset")
    parser.add_argument("--eval-every", type=float, default=60.0, help="seconds of training between evaluations")
    parser.add_argument("--val-batches", type=int, default=4, help="validation batches of 16 windows")
    parser.add_argument("--json", type=Path, help="write the results as JSON to this file")
    return parser


def _train_config(preset: str, batch: int, lr: float, train_cache: str, val_cache: str):
    from jaxaccomp.training import config as train_config

    return train_config.from_data(
        {"preset": preset, "batch_size": batch, "lr": lr, "warmup_steps": 200, "grad_clip": 1.0,
         "prng_impl": "rbg", "train_cache": train_cache, "val_cache": val_cache, "codec": "auto"},
        train_config.TrainConfig())


def run_preset(cfg, val_batches: list[dict], minutes: float, eval_every: float) -> dict[str, Any]:
    """Train `cfg` for `minutes` of wall time; the stream loss at every evaluation."""
    import jax

    from jaxaccomp.data.pipeline import LatentWindows
    from jaxaccomp.diffusion.loss import stream_loss
    from jaxaccomp.nn.songunet import count_params
    from jaxaccomp.training import sharding
    from jaxaccomp.training import state as st
    from jaxaccomp.training.edm import EDMProgram
    from jaxaccomp.training.loop import epoch_data, open_data

    jax.config.update("jax_default_prng_impl", cfg.prng_impl)
    train_cache, _, _ = open_data(cfg)
    program = EDMProgram(cfg)
    mesh = sharding.make_mesh()
    state = sharding.put_state(program.init_state(), st.state_layout(program.init_state, mesh, False))
    step_fn = program.train_step(mesh)
    first, generated = STREAM_MASKS

    @jax.jit
    def evaluate(params, batch, key):
        denoiser = st.denoiser(params, cfg)
        return stream_loss(denoiser, batch["target"], batch["context"], batch["label"], key, first, generated)

    def score() -> float:
        return float(np.mean([evaluate(state["params"], b, jax.random.key(i)) for i, b in enumerate(val_batches)]))

    source = LatentWindows(train_cache, cfg.window)
    curve = [{"wall_s": 0.0, "examples": 0, "stream_loss": score()}]
    trained, examples, epoch, rates = 0.0, 0, 0, []
    compile_start = time.perf_counter()
    while trained < 60 * minutes:
        for batch in epoch_data(source, epoch, cfg.batch_size, cfg.seed):
            start = time.perf_counter()
            state, metrics = step_fn(state, sharding.global_batch(batch, mesh))
            jax.block_until_ready(metrics)
            elapsed = time.perf_counter() - start
            if compile_start is not None:  # the first step compiles: not training time
                compile_s, compile_start = time.perf_counter() - compile_start, None
                continue
            trained += elapsed
            examples += cfg.batch_size
            rates.append(cfg.batch_size / elapsed)
            if trained >= eval_every * len(curve) or trained >= 60 * minutes:
                curve.append({"wall_s": trained, "examples": examples, "stream_loss": score()})
                print(f"{cfg.preset}: {trained / 60:5.1f} min, {examples} examples, stream loss {curve[-1]['stream_loss']:.4f}",
                      flush=True)
            if trained >= 60 * minutes:
                break
        epoch += 1
    return {"preset": cfg.preset, "params": count_params(st.denoiser(state["params"], cfg).net),
            "batch_size": cfg.batch_size, "compile_s": compile_s, "examples_per_s": float(np.median(rates)),
            "curve": curve}


def _time_to(curve: list[dict], loss: float) -> float | None:
    """Training seconds until the stream loss first reached `loss`."""
    return next((point["wall_s"] for point in curve if point["stream_loss"] <= loss), None)


def _table(rows: list[dict[str, Any]]) -> str:
    slowest_final = rows[0]["curve"][-1]["stream_loss"]
    lines = []
    for row in rows:
        reached = _time_to(row["curve"], slowest_final)
        lines.append([row["preset"], f"{row['params'] / 1e6:.1f} M", str(row["batch_size"]), f"{row['examples_per_s']:.1f}",
                      f"{row['curve'][-1]['examples']}", f"{row['curve'][-1]['stream_loss']:.4f}",
                      f"{reached / 60:.1f}" if reached is not None else "not reached"])
    return markdown_table(["preset", "params", "batch", "examples/s", "examples seen", "final stream loss",
                           f"minutes to {rows[0]['preset']}'s final loss"], lines)


def benchmark(argv: list[str] | None = None) -> dict[str, Any]:
    args = _parser().parse_args(argv)
    if len(args.batch_sizes) != len(args.presets):
        raise SystemExit("error: give one --batch-sizes value per preset")
    from jaxaccomp.data.latent_cache import LatentCache
    from jaxaccomp.data.pipeline import LatentWindows
    from jaxaccomp.training.loop import epoch_data

    val = LatentWindows(LatentCache(args.val_cache), 64, shift=False)
    batches = list(epoch_data(val, 0, 16, 0))[: args.val_batches]
    rows = [run_preset(_train_config(preset, batch, args.lr, args.train_cache, args.val_cache), batches,
                       args.minutes, args.eval_every)
            for preset, batch in zip(args.presets, args.batch_sizes)]
    print(_table(rows))
    result = {"benchmark": "learning_speed", "machine": machine(), "minutes": args.minutes, "lr": args.lr,
              "stream_masks": STREAM_MASKS, "rows": rows}
    write_json(args.json, result)
    return result


if __name__ == "__main__":
    benchmark()
