"""The checks that gated the embedded-tier training (docs/training.md), on a validation latent cache.

    python docs/training/stream_check.py CACHE MODEL context [--r 16] [--w 1]
    python docs/training/stream_check.py CACHE MODEL freerun [--r 16] [--w 1] [--tracks 3]
    python docs/training/stream_check.py CACHE MODEL notes [--recommended]

context: generate the last r of 64 columns of 32 validation windows from the true known target, with
each window's own context and with another window's; equal errors mean the model ignores the song.
freerun: stream each of the first tracks' bass at the latent level, the known target being the truth
(forced) or the model's own earlier output (free, as in a real stream), and correlate the generated
columns with the true ones per channel group of the embedded codec.
notes: generate the bass of two whole windows per validation track with all of the context visible,
and count how often the pitch class of its f0 (what the decoder plays) is the true bass's, where the
true bass is periodic; beside it the same for another window's bass, for the argmax of the generated
chroma rows, and for the plain rule "the context's strongest pitch class".
--recommended samples as the model's meta.json recommends (guidance, guided rows); default unguided.
"""

from __future__ import annotations

import argparse

import jax
import numpy as np

from pathlib import Path

from jaxaccomp.codec.embedded import CHANNEL_GROUPS, LOG2_F0_CENTRE, LOG2_F0_SCALE
from jaxaccomp.codec.factory import get_codec
from jaxaccomp.data.latent_cache import LatentCache
from jaxaccomp.data.pipeline import LatentWindows
from jaxaccomp.streaming.generator import Generator
from jaxaccomp.streaming.models import load_model
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


def notes_check(generator: Generator, cache: LatentCache) -> None:
    stats, bass, rng = get_codec(cache.codec).stats, 0, np.random.default_rng(0)
    truth, context = [], []
    for track in range(len(cache.tracks)):
        latents = np.asarray(cache.latents(track), np.float32)
        for start in rng.choice(latents.shape[-1] - WIDTH, 2, replace=False):
            truth.append(latents[0, bass, :, start:start + WIDTH])
            context.append(latents[1, bass, :, start:start + WIDTH])
    truth, context = np.stack(truth), np.stack(context)
    made = np.concatenate([generator(plan(WIDTH, -1), truth[i:i + 1], context[i], np.eye(4, dtype=np.float32)[:1],
                                     jax.random.key(i)) for i in range(len(truth))])
    raw = {name: np.stack([stats.denormalize(x) for x in latents])
           for name, latents in (("truth", truth), ("made", made), ("other", np.roll(truth, 1, 0)), ("context", context))}
    pitch, periodic, chroma = CHANNEL_GROUPS["pitch"], slice(CHANNEL_GROUPS["pitch"].stop, WIDTH), CHANNEL_GROUPS["chroma"]

    def pitch_class(rows: np.ndarray) -> np.ndarray:  # [n, 4 quarters, frames], MIDI pitch class (0 = C)
        return (np.round(12 * (rows * LOG2_F0_SCALE + LOG2_F0_CENTRE - np.log2(440.0))).astype(int) + 69) % 12

    def loudest_class(rows: np.ndarray) -> np.ndarray:  # each frame's strongest chroma bin, for its 4 quarters
        return np.repeat(np.argmax(rows, axis=1)[:, None], 4, axis=1)

    true_class, voiced = pitch_class(raw["truth"][:, pitch]), raw["truth"][:, periodic] > 0.7
    rows = {"generated f0": pitch_class(raw["made"][:, pitch]), "generated chroma argmax": loudest_class(raw["made"][:, chroma]),
            "another window's f0": pitch_class(raw["other"][:, pitch]), "context chroma argmax": loudest_class(raw["context"][:, chroma]),
            "true bass chroma argmax": loudest_class(raw["truth"][:, chroma])}
    print(f"pitch class of the true bass f0, {voiced.sum()} periodic quarters of {len(truth)} windows:")
    for name, classes in rows.items():
        print(f"  {name:26s} {np.mean((classes == true_class)[voiced]):.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("cache")
    parser.add_argument("model")
    parser.add_argument("check", choices=("context", "freerun", "notes"))
    parser.add_argument("--r", type=int, default=16, help="generated columns per step (16 = r 1/4)")
    parser.add_argument("--w", type=int, default=1)
    parser.add_argument("--tracks", type=int, default=3)
    parser.add_argument("--recommended", action="store_true", help="sample as the model's meta.json recommends")
    args = parser.parse_args()
    generator = (load_model(Path(args.model), None, None, None)[1] if args.recommended
                 else Generator(load_denoiser(args.model)[0]))
    cache = LatentCache(args.cache)
    if args.check == "context":
        context_check(generator, cache, args.r, args.w)
    elif args.check == "notes":
        notes_check(generator, cache)
    else:
        freerun_check(generator, cache, args.r, args.w, args.tracks)


if __name__ == "__main__":
    main()
