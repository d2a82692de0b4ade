"""Train the coherence model on our rendered songs; see `jaxaccomp.eval.coherence` for what it scores.

    python -m jaxaccomp.eval.coherence_train --out runs/coherence --data /tmp/coherence_songs

Songs come from `jaxaccomp.data.render` (train / validation / test splits of one dataset seed;
finished tracks are reused). Each song's features are computed once, whole, and cached next to the
songs; a training pair is a random 5-s window of (mixture minus one stem, that stem) in which the
stem plays, and a batch holds one pair from each of `batch` different songs, plus each pair's stem
shifted in time as an extra negative. The best parameters by validation loss are kept, with their
in-batch retrieval accuracy on the validation and test splits.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import logging
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxaccomp.data.render import DEFAULT_SOUNDFONT, render_dataset
from jaxaccomp.data.slakh import load_split
from jaxaccomp.constants import SAMPLE_RATE, STEMS
from jaxaccomp.eval.coherence import (
    FEATURE_RATE, HOP_LENGTH, WINDOW_FRAMES, ModelConfig, feature_settings, features_of_stft, info_nce,
    init_params, network, normalise, retrieval_accuracy, save_checkpoint, stft, to_feature_rate)
from jaxaccomp.training.metrics import CSVLog

ACTIVE_DB = 30.0  # a stem frame plays if its power is within this of the stem's loudest frame
MIN_ACTIVE = 0.5  # share of a window's frames in which the stem must play
# Hard negatives: the true stem moved by 0.1-0.4 s (mostly off the beat grid at 70-180 bpm), so the
# model must check timing and not only key and style (the reference's model without them was blind
# to half-beat shifts).
SHIFT_FRAMES = (5, 20)
FRAME_MS = 1000 * HOP_LENGTH / FEATURE_RATE


@dataclasses.dataclass
class Songs:
    """Whole-song features of one split: per song [4 stems, frames, N_MELS, 2] dB (float16 to save RAM)."""

    contexts: list[np.ndarray]
    stems: list[np.ndarray]
    starts: list[list[np.ndarray]]  # per song and stem: window starts in which the stem plays

    def __len__(self) -> int:
        return len(self.stems)


def song_features(stems: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(contexts, stems) features [4, frames, N_MELS, 2] of a [4, samples] 44.1-kHz song.

    Resampling and the STFT are linear, so each context's spectrum is the song's total minus the stem's.
    """
    spectra = [stft(to_feature_rate(s, SAMPLE_RATE)) for s in stems]
    total = sum(spectra)
    stem_features = np.stack([features_of_stft(s) for s in spectra])
    context_features = np.stack([features_of_stft(total - s) for s in spectra])
    return context_features, stem_features


def playing_starts(stem_db: np.ndarray) -> np.ndarray:
    """Window starts (frames) where the stem plays in at least MIN_ACTIVE of the window's frames."""
    power = 10.0 * np.log10(np.sum(10.0 ** (stem_db.astype(np.float32) / 10.0), axis=(1, 2)))
    active = power > power.max() - ACTIVE_DB
    if len(active) < WINDOW_FRAMES + SHIFT_FRAMES[1]:  # too short for a window and its shifted copy
        return np.zeros(0, np.int64)
    counts = np.convolve(active.astype(np.float32), np.ones(WINDOW_FRAMES), mode="valid")
    return np.flatnonzero(counts >= MIN_ACTIVE * WINDOW_FRAMES)


def load_songs(root: Path, split: str, count: int, seed: int, seconds: float, soundfont: Path) -> Songs:
    """Render (or reuse) `count` songs of `split` and their features (cached in `root`)."""
    render_dataset(root, count, split, seed, 1, soundfont, seconds, progress=True)
    settings = json.dumps([split, count, seed, seconds, str(soundfont.resolve()), feature_settings()])
    cache = root / f"coherence-features-{split}-{hashlib.sha256(settings.encode()).hexdigest()[:12]}.npz"
    if cache.is_file():
        with np.load(cache) as stored:
            contexts = [stored[f"contexts_{i}"] for i in range(count)]
            stems = [stored[f"stems_{i}"] for i in range(count)]
    else:
        tracks = load_split(root, split).tracks[:count]
        pairs = [song_features(track.stems) for track in tracks]
        contexts = [c.astype(np.float16) for c, _ in pairs]
        stems = [s.astype(np.float16) for _, s in pairs]
        np.savez(cache, **{f"contexts_{i}": c for i, c in enumerate(contexts)},
                 **{f"stems_{i}": s for i, s in enumerate(stems)})
    starts = [[playing_starts(stem) for stem in song] for song in stems]
    return Songs(contexts, stems, starts)


Batch = tuple[np.ndarray, np.ndarray, np.ndarray]


def sample_batch(songs: Songs, batch: int, rng: np.random.Generator) -> Batch:
    """(contexts, stems, shifted stems): dB windows [batch, WINDOW_FRAMES, N_MELS, 2], one pair from each
    of `batch` songs; the shifted stem is the same stem SHIFT_FRAMES earlier or later."""
    if len(songs) < batch:
        raise ValueError(f"a batch needs {batch} different songs but the split has {len(songs)}")
    contexts, stems, shifted = [], [], []
    for song in rng.permutation(len(songs)):
        playing = [k for k, starts in enumerate(songs.starts[song]) if len(starts)]
        if not playing:
            continue
        stem = playing[rng.integers(len(playing))]
        start = int(rng.choice(songs.starts[song][stem]))
        last = songs.stems[song].shape[1] - WINDOW_FRAMES
        offset = int(rng.integers(*SHIFT_FRAMES, endpoint=True)) * (1 if rng.random() < 0.5 else -1)
        moved = start + offset if 0 <= start + offset <= last else start - offset
        contexts.append(songs.contexts[song][stem, start:start + WINDOW_FRAMES])
        stems.append(songs.stems[song][stem, start:start + WINDOW_FRAMES])
        shifted.append(songs.stems[song][stem, moved:moved + WINDOW_FRAMES])
        if len(stems) == batch:
            return tuple(np.stack(w).astype(np.float32) for w in (contexts, stems, shifted))
    raise ValueError(f"fewer than {batch} songs have a window in which a stem plays")


def batch_scores(params: dict, config: ModelConfig, contexts: jax.Array, *candidates: jax.Array) -> jax.Array:
    """[B, B * len(candidates)] scores of every context against every candidate, all encoded in one pass."""
    net = network(params, config)
    embedded = net.embed(normalise(jnp.concatenate([contexts, *candidates])))
    return net.scores(embedded[: contexts.shape[0]], embedded[contexts.shape[0]:])


def make_steps(config: ModelConfig, optimizer: optax.GradientTransformation):
    """Jitted (train step, evaluation) for one model config."""

    def loss_fn(params, contexts, stems, shifted):
        scores = batch_scores(params, config, contexts, stems, shifted)
        return info_nce(scores), retrieval_accuracy(scores[:, : contexts.shape[0]])

    @jax.jit
    def train_step(params, opt_state, contexts, stems, shifted):
        (loss, accuracy), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, contexts, stems, shifted)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss, accuracy

    @jax.jit
    def evaluate(params, contexts, stems, shifted):
        """Loss, in-batch top-1 accuracy among the B stems, share of other songs' stems and share of
        shifted true stems that score below the true pair."""
        scores = batch_scores(params, config, contexts, stems, shifted)
        batch = contexts.shape[0]
        true = jnp.diag(scores)
        off_diagonal = 1.0 - jnp.eye(batch)
        below_other = jnp.sum((scores[:, :batch] < true[:, None]) * off_diagonal) / jnp.sum(off_diagonal)
        below_shifted = jnp.mean(jnp.diag(scores[:, batch:]) < true)
        return info_nce(scores), retrieval_accuracy(scores[:, :batch]), below_other, below_shifted

    return train_step, evaluate


def mean_metrics(evaluate, params: dict, batches: list[Batch]) -> dict[str, float]:
    values = np.array([[float(v) for v in evaluate(params, *batch)] for batch in batches])
    return dict(zip(("loss", "accuracy", "above_other_song", "above_shifted"), values.mean(axis=0).tolist()))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m jaxaccomp.eval.coherence_train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, type=Path, help="new folder for the checkpoint and log.csv")
    parser.add_argument("--data", required=True, type=Path, help="rendered dataset root (created or reused)")
    parser.add_argument("--train-songs", type=int, default=160, help="songs of the train split (default: 160)")
    parser.add_argument("--val-songs", type=int, default=40,
                        help="validation songs, at least --batch: they pick the best step (default: 40)")
    parser.add_argument("--test-songs", type=int, default=40,
                        help="test songs, at least --batch: the recorded accuracy (default: 40)")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each rendered song (default: 20)")
    parser.add_argument("--data-seed", type=int, default=0, help="the rendered dataset's seed (default: 0)")
    parser.add_argument("--soundfont", type=Path, default=Path(DEFAULT_SOUNDFONT))
    parser.add_argument("--steps", type=int, default=1000, help="training steps (default: 1000)")
    parser.add_argument("--batch", type=int, default=32, help="pairs per batch, each from another song (default: 32)")
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate, cosine-decayed to 10%%")
    parser.add_argument("--eval-every", type=int, default=100, help="steps between validations (default: 100)")
    parser.add_argument("--eval-batches", type=int, default=8,
                        help="fixed validation and test batches (default: 8)")
    parser.add_argument("--seed", type=int, default=0, help="initialisation and batch sampling seed (default: 0)")
    return parser


def provenance(args: argparse.Namespace, argv: Sequence[str], **training: object) -> dict:
    """What a checkpoint records about how it was made (command, seed, data, training)."""
    return {
        "command": "python -m jaxaccomp.eval.coherence_train " + shlex.join(argv),
        "seed": args.seed,
        "data": {"renderer": "jaxaccomp.data.render", "data_seed": args.data_seed, "seconds": args.seconds,
                 "soundfont": args.soundfont.name, "stems": list(STEMS),
                 "songs": {"train": args.train_songs, "validation": args.val_songs, "test": args.test_songs}},
        "training": {"loss": "symmetric in-batch InfoNCE, time-shifted true stems as extra negatives",
                     "steps": args.steps, "batch": args.batch, "lr": args.lr,
                     "optimizer": "adam, cosine decay to 10%", **training},
    }


def held_out_record(batch: int, eval_batches: int, results: dict[str, dict[str, float]]) -> dict:
    """The held-out metrics with what they mean and their chance levels."""
    return {
        "metric": f"in-batch top-1 retrieval: each context picks its stem among {batch} stems of "
                  f"{batch} different songs; {eval_batches} fixed batches per split",
        "chance_accuracy": 1.0 / batch,
        "above_other_song": "share of (context, another song's stem) pairs in a batch that score below "
                            "the true pair; chance 0.5",
        "above_shifted": f"share of contexts whose true stem outscores the same stem moved by "
                         f"{SHIFT_FRAMES[0] * FRAME_MS:g}-{SHIFT_FRAMES[1] * FRAME_MS:g} ms; chance 0.5",
        **results,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Train; every validation that improves the loss rewrites the checkpoint in --out (with its test
    metrics), so a run stopped early still leaves its best model."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.out.exists():
        raise ValueError(f"{args.out} already exists; choose a new output folder")
    started = time.perf_counter()
    data = {split: load_songs(args.data, split, count, args.data_seed, args.seconds, args.soundfont)
            for split, count in (("train", args.train_songs), ("validation", args.val_songs),
                                 ("test", args.test_songs))}
    prepared = time.perf_counter() - started
    print(f"data ready in {prepared:.0f} s")

    config = ModelConfig()
    params = init_params(config, args.seed)
    optimizer = optax.adam(optax.cosine_decay_schedule(args.lr, args.steps, alpha=0.1))
    opt_state = optimizer.init(params)
    train_step, evaluate = make_steps(config, optimizer)
    rng = np.random.default_rng(args.seed)
    held_out = {split: [sample_batch(data[split], args.batch, np.random.default_rng([args.seed, i]))
                        for i in range(args.eval_batches)] for split in ("validation", "test")}
    args.out.mkdir(parents=True)
    csv = CSVLog(args.out / "log.csv", ("step", "loss", "accuracy", "val_loss", "val_accuracy", "wall_s"))
    best_loss, recent = float("inf"), []
    for step in range(1, args.steps + 1):
        params, opt_state, loss, accuracy = train_step(params, opt_state, *sample_batch(data["train"], args.batch, rng))
        recent.append((float(loss), float(accuracy)))
        if step % args.eval_every and step != args.steps:
            continue
        val = mean_metrics(evaluate, params, held_out["validation"])
        train_loss, train_accuracy = np.mean(recent, axis=0)
        recent = []
        wall = time.perf_counter() - started
        csv.write({"step": step, "loss": train_loss, "accuracy": train_accuracy, "val_loss": val["loss"],
                   "val_accuracy": val["accuracy"], "wall_s": wall})
        print(f"step {step}: train loss {train_loss:.3f} acc {train_accuracy:.3f} | validation loss "
              f"{val['loss']:.3f} acc {val['accuracy']:.3f} | {wall:.0f} s", flush=True)
        if val["loss"] < best_loss:
            best_loss = val["loss"]
            results = {"validation": val, "test": mean_metrics(evaluate, params, held_out["test"])}
            record = provenance(args, argv, best_step=step, data_seconds=round(prepared, 1),
                                wall_seconds=round(time.perf_counter() - started, 1),
                                parameters=sum(int(v.size) for v in jax.tree.leaves(params)))
            record["held_out"] = held_out_record(args.batch, args.eval_batches, results)
            save_checkpoint(args.out, params, config, record)
            print(f"saved (test accuracy {results['test']['accuracy']:.3f}, chance {1 / args.batch:.3f})", flush=True)
    print(f"done in {(time.perf_counter() - started) / 60:.1f} min; best checkpoint in {args.out}")
    return 0


if __name__ == "__main__":
    from jaxaccomp.cli import run

    run(main)
