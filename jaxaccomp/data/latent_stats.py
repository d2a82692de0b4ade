"""Measure the embedded codec's latent statistics over rendered songs: `python -m jaxaccomp.data.latent_stats`.

The statistics and the codec view that applies them live in `codec.stats`; measuring them needs a
dataset, so the command lives here, above the codec.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from jaxaccomp.cli import run
from jaxaccomp.codec.embedded import EmbeddedCodec
from jaxaccomp.codec.stats import compute_stats
from jaxaccomp.constants import SAMPLE_RATE, STEMS
from jaxaccomp.data.slakh import accompaniment, load_split


def _song_clips(data: Path, split: str, songs: int, seconds: float) -> Iterator[np.ndarray]:
    """What a model sees of each song, its first `seconds`: the four stems (targets) and the four
    accompaniments (contexts), one [8, L] batch per song."""
    tracks = load_split(data, split).tracks[:songs]
    if not tracks:
        raise ValueError(f"no tracks in the {split} split of {data}")
    for track in tracks:
        stems = track.read(0, min(track.length, int(seconds * SAMPLE_RATE)))
        yield np.concatenate([stems, np.stack([accompaniment(stems, k) for k in range(len(STEMS))])])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m jaxaccomp.data.latent_stats",
        description="Measure the embedded codec's per-channel latent mean and std over rendered songs "
                    "(stems and accompaniments) and write them as JSON: what standardises the embedded tier's latents.")
    parser.add_argument("--data", type=Path, required=True, help="dataset root (python -m jaxaccomp.data.render)")
    parser.add_argument("--split", default="train", help="split to measure (default: train)")
    parser.add_argument("--songs", type=int, default=48, help="songs to measure (default: 48)")
    parser.add_argument("--seconds", type=float, default=30.0, help="seconds of each song (default: 30)")
    parser.add_argument("--out", type=Path, required=True, help="JSON file to write (refused if it exists, unless --force)")
    parser.add_argument("--force", action="store_true", help="replace an existing --out")
    args = parser.parse_args(argv)
    if args.out.exists() and not args.force:
        parser.error(f"{args.out} exists; pass --force to replace it")
    stats = compute_stats(EmbeddedCodec(), _song_clips(args.data, args.split, args.songs, args.seconds))
    stats.save(args.out)
    print(f"wrote {args.out}: {stats.frames} frames of codec {stats.codec}")
    return 0


if __name__ == "__main__":
    run(main)
