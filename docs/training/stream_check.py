"""The two checks that gated the embedded-tier training (docs/training.md), on a validation latent cache.

    python docs/training/stream_check.py CACHE MODEL context [--r 16] [--w 1]
    python docs/training/stream_check.py CACHE MODEL freerun [--r 16] [--w 1] [--tracks 3]

context: generate the last r of 64 columns of 32 validation windows from the true known target, with
each window's own context and with another window's; equal errors mean the model ignores the song.
freerun: stream each of the first tracks' bass at the latent level, the known target being the truth
(forced) or the model's own earlier output (free, as in a real stream), and correlate the generated
columns with the true ones per channel group of the embedded codec.
"""

from __future__ import annotations

import argparse

import jax
import numpy as np

from jaxaccomp.codec.embedded import CHANNEL_GROUPS
from jaxaccomp.data.latent_cache import LatentCache
from jaxaccomp.data.pipeline import LatentWindows
from jaxaccomp.streaming.generator import Generator
from jaxaccomp.streaming.timeline import StepPlan
from jaxaccomp.nn.checkpoint import load_denoiser
from jaxaccomp.training.loop import epoch_data

GROUPS = {name: CHANNEL_GROUPS[name] for name in ("block_energies", "mel", "chroma", "pitch")}
WIDTH = 64


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum()))


def plan(generated: int, w: int) -> StepPlan:
    """Only the two mask columns matter to the generator."""
    return StepPlan(0, 0, 0, 0, 0, WIDTH - (w + 1) * generated, WIDTH - generated, 0, WIDTH)


def context_check(generator: Generator, cache: LatentCache, generated: int, w: int) -> None:
    batch = next(iter(epoch_data(LatentWindows(cache, WIDTH, shift=False), 0, 32, 0)))
    target, context, labels = batch["target"], batch["context"], batch["label"]
    step, first = plan(generated, w), WIDTH - generated
    for name, shift in (("own context", 0), ("another window's context", 1)):
        out = np.stack([generator(step, target[i:i + 1], context[(i + shift) % 32], labels[i:i + 1], jax.random.key(i))[0]
                        for i in range(32)])
        errors = {g: float(np.mean((out[:, s, first:] - target[:, s, first:]) ** 2)) for g, s in GROUPS.items()}
        print(f"{name:26s}", "  ".join(f"{g} {e:.3f}" for g, e in errors.items()))


def freerun_check(generator: Generator, cache: LatentCache, generated: int, w: int, tracks: int) -> None:
    step, first, bass = plan(generated, w), WIDTH - generated, 0
    for track in range(tracks):
        latents = np.asarray(cache.latents(track), np.float32)
        truth, context = latents[0, bass], latents[1, bass]
        for mode in ("forced", "free"):
            estimate = truth.copy()
            estimate[:, WIDTH:] = 0.0
            outputs, truths, start = [], [], 0
            while start + WIDTH + generated <= truth.shape[1]:
                start += generated
                known = (truth if mode == "forced" else estimate)[:, start:start + WIDTH]
                out = generator(step, known[None], context[:, start:start + WIDTH], np.eye(4, dtype=np.float32)[:1],
                                jax.random.key(start))[0]
                estimate[:, start + first:start + WIDTH] = out[:, first:]
                outputs.append(out[:, first:])
                truths.append(truth[:, start + first:start + WIDTH])
            made, real = np.concatenate(outputs, 1), np.concatenate(truths, 1)
            print(f"track {track} {mode:6s}", "  ".join(f"{g} {correlation(made[s], real[s]):+.2f}" for g, s in GROUPS.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("cache")
    parser.add_argument("model")
    parser.add_argument("check", choices=("context", "freerun"))
    parser.add_argument("--r", type=int, default=16, help="generated columns per step (16 = r 1/4)")
    parser.add_argument("--w", type=int, default=1)
    parser.add_argument("--tracks", type=int, default=3)
    args = parser.parse_args()
    generator = Generator(load_denoiser(args.model)[0])
    cache = LatentCache(args.cache)
    if args.check == "context":
        context_check(generator, cache, args.r, args.w)
    else:
        freerun_check(generator, cache, args.r, args.w, args.tracks)


if __name__ == "__main__":
    main()
