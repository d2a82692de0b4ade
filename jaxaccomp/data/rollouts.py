"""`python -m jaxaccomp.data.rollouts CACHE --checkpoint MODEL`: a model's own free-running output for
every track of a latent cache, to train its successor on (`train.py --known-rollout`).

Why: a network that sees the known target trains on the true earlier columns, but a stream feeds it
its own earlier output. Streamed on its own output it drifts and stops following the song, even
where, given the truth, it follows it (docs/training.md: exposure bias). Gaussian noise on the true
target is a poor stand-in for its own errors; its own output is the real thing. So each track is
streamed here at the latent level as a server would stream it (the known target is what the model
generated before, the context is the song), each of the four stems, and the result is stored beside
the cache's arrays as `<track>.rollout.npy` ([4 stems, 64, frames] float32, the first window the
truth), with `rollouts.json` saying which model and settings made them. Existing rollouts are kept,
so an interrupted run resumes; `--force` makes them anew.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from jaxaccomp.constants import STEMS, WINDOW_FRAMES

LABELS = np.eye(len(STEMS), dtype=np.float32)
INDEX = "rollouts.json"


def free_run(predict, truth: np.ndarray, context: np.ndarray, generated: int, w: int, seed: int) -> np.ndarray:
    """[S, 64, F] the model's free-running estimate of `truth` ([S, 64, F], one row per stem) given
    `context` ([S, 64, F]): the first window is the truth, then every `generated` columns one step
    whose known target is the estimate so far. `predict(known, context, first_generated,
    first_masked, step)` returns the [S, 64, 64] window; the look-ahead `w` masks the context's last
    (w + 1) `generated` columns."""
    width = WINDOW_FRAMES
    estimate = np.zeros_like(truth)
    estimate[..., :width] = truth[..., :width]
    first_generated, first_masked = width - generated, width - (w + 1) * generated
    start, step = 0, 0
    while start + width + generated <= truth.shape[-1]:
        start += generated
        window = slice(start, start + width)
        out = predict(estimate[..., window], context[..., window], first_generated, first_masked, seed + step)
        estimate[..., start + first_generated:start + width] = out[..., first_generated:]
        step += 1
    return estimate


def build_parser() -> argparse.ArgumentParser:
    from jaxaccomp.stream_settings import ratio

    parser = argparse.ArgumentParser(prog="python -m jaxaccomp.data.rollouts", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("cache", type=Path, help="a finished latent cache (python -m jaxaccomp.data.latent_cache)")
    parser.add_argument("--checkpoint", type=Path, required=True, help="the model whose output to store (diffusion or consistency)")
    parser.add_argument("--r", type=ratio, default=0.25, help="step ratio of the stream, as served (default: 1/4)")
    parser.add_argument("--w", type=int, default=1, choices=(-1, 0, 1), help="look-ahead of the stream (default: 1)")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed (default: 0)")
    parser.add_argument("--force", action="store_true", help="make every rollout anew, replacing existing ones")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    generated = int(round(args.r * WINDOW_FRAMES))
    if not 1 <= generated or (args.w + 2) * generated > WINDOW_FRAMES:
        raise ValueError(f"r={args.r:g} and w={args.w} do not fit a {WINDOW_FRAMES}-column window")
    import jax
    from tqdm import tqdm

    from jaxaccomp.data.latent_cache import LatentCache
    from jaxaccomp.nn.checkpoint import load_denoiser
    from jaxaccomp.provenance import provenance
    from jaxaccomp.streaming.generator import Generator

    cache = LatentCache(args.cache)
    denoiser, _ = load_denoiser(args.checkpoint, expected_codec=cache.codec)
    if not denoiser.conditions_on_target:
        raise ValueError(f"{args.checkpoint} does not read the known target: its rollouts would teach nothing")
    generator = Generator(denoiser)
    index = {"checkpoint": str(args.checkpoint.resolve()), "r": args.r, "w": args.w, "seed": args.seed,
             "generated_columns": generated, "produced_by": provenance()}
    previous = args.cache / INDEX
    if previous.is_file() and not args.force:
        recorded = json.loads(previous.read_text())
        if {k: recorded.get(k) for k in ("checkpoint", "r", "w", "seed")} != {k: index[k] for k in ("checkpoint", "r", "w", "seed")}:
            raise ValueError(f"{args.cache} holds rollouts of other settings ({previous}); pass --force to replace them")
    previous.write_text(json.dumps(index, indent=2) + "\n")

    def predict(known, context, first_generated, first_masked, seed):
        from jaxaccomp.streaming.timeline import StepPlan

        plan = StepPlan(0, 0, 0, 0, 0, first_masked, first_generated, 0, WINDOW_FRAMES)
        key = jax.random.key(seed)  # each stem has its own context (the song without it): one call each
        return np.stack([generator(plan, known[s:s + 1], context[s], LABELS[s:s + 1], key)[0]
                         for s in range(len(STEMS))])

    made = 0
    for i, track in enumerate(tqdm(cache.tracks, desc="rollouts", unit="track")):
        path = args.cache / f"{track.id}.rollout.npy"
        if path.exists() and not args.force:
            continue
        latents = np.asarray(cache.latents(i), np.float32)  # [2, 4, 64, F]
        if latents.shape[-1] < WINDOW_FRAMES + generated:
            continue
        rollout = free_run(predict, latents[0], latents[1], generated, args.w, args.seed + 1000 * i)
        np.save(path.with_suffix(".tmp.npy"), rollout.astype(np.float32))
        path.with_suffix(".tmp.npy").rename(path)
        made += 1
    print(f"{made} rollouts written to {args.cache} with {args.checkpoint} (r {args.r:g}, w {args.w})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    from jaxaccomp.cli import run

    run(main)
