"""Export a model from a run's train-state checkpoint, choosing the raw parameters or the EMA by
validation loss: `python -m jaxaccomp.training.export RUN OUT [--weights auto|raw|ema] [--step N]`.

A run exports its EMA when it keeps one; early in a run (or with a decay too slow for the run's
length) the raw parameters can be better, and only a validation loss says which.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def validation_losses(run: Path, step: int | None = None) -> tuple[dict[str, float], dict, object, object]:
    """({"raw": loss, "ema": loss}, checkpoint meta, program, state) over the run's whole validation cache."""
    import jax

    from jaxaccomp.data.latent_cache import LatentCache
    from jaxaccomp.data.pipeline import LatentWindows
    from jaxaccomp.training import edm, loop, sharding
    from jaxaccomp.training.manager import TrainCheckpoints
    from jaxaccomp.training.state import state_layout

    cfg = loop.saved_config(run)
    if not cfg.ema_decay or cfg.val_cache is None:
        raise ValueError(f"{run} keeps no EMA or has no validation cache: nothing to choose between")
    jax.config.update("jax_default_prng_impl", cfg.prng_impl)
    mesh = sharding.make_mesh()
    program = edm.EDMProgram(cfg)
    layout = state_layout(program.init_state, mesh, cfg.shard_params)
    abstract = jax.tree.map(lambda s, l: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=l),
                            jax.eval_shape(program.init_state), layout)
    ckpts = TrainCheckpoints(loop.checkpoint_dir(run))
    try:
        state, meta = ckpts.restore(abstract, step)
    finally:
        ckpts.close()
    windows = LatentWindows(LatentCache(cfg.val_cache), cfg.window, shift=False)
    data = loop.epoch_data(windows, 0, sharding.local_batch_size(cfg.batch_size, mesh), cfg.seed)
    batches = [sharding.global_batch(data[i], mesh) for i in range(len(data))]
    evaluate, key = program.eval_step(mesh), jax.random.key(cfg.seed + 1)
    losses = {}
    for name, weights in (("raw", state["params"]), ("ema", state["ema"])):
        view = {**state, "ema": weights}  # the eval step scores the exported (EMA) slot
        losses[name] = float(np.mean([float(evaluate(view, b, jax.random.fold_in(key, i))) for i, b in enumerate(batches)]))
    return losses, meta, program, state


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jaxaccomp.training.export", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path, help="a train.py run directory with an EMA (--ema-decay) and a validation cache")
    parser.add_argument("out", type=Path, help="new model directory")
    parser.add_argument("--weights", choices=("auto", "raw", "ema"), default="auto",
                        help="auto: the lower validation loss (default)")
    parser.add_argument("--step", type=int, help="checkpoint step (default: the latest)")
    args = parser.parse_args(argv)
    from jaxaccomp.training.loop import export_model

    losses, meta, program, state = validation_losses(args.run, args.step)
    chosen = min(losses, key=losses.get) if args.weights == "auto" else args.weights
    print(f"step {meta['step']}: validation loss raw {losses['raw']:.4f}, EMA {losses['ema']:.4f}; exporting {chosen}")
    export_model(args.out.absolute(), program, {**state, "ema": state["ema" if chosen == "ema" else "params"]},
                 meta["codec"], f"step {meta['step']}, {chosen} weights (validation loss {losses[chosen]:.4f})")
    return 0


if __name__ == "__main__":
    from jaxaccomp.cli import run

    run(main)
