"""Encode a Slakh split once and keep the latents on disk, so training never runs the codec.

Layout of a cache directory (format version 1):
  index.json             format, version, codec name and `is_pretrained`, dtype, stitching
                         settings, the source (root, split, layout, skipped folders) and per track
                         its id, latent frames and samples; `complete` is false while it is written
  <id>.latents.npy       [2, 4, 64, F]: [0, k] encodes stem k, [1, k] encodes the mixture minus
                         stem k (the context of target k). A codec is not linear, so the context
                         must be the encoding of the summed audio, and the four accompaniments are
                         stored rather than the mixture.
  <id>.energy.npy        [2, 4, F] float32 mean square of the same audio over each frame's 4096
                         samples, for the pipeline's optional silence filter.
  <id>.scale.npy         dtype int8 only: [2, 4, 64, 1] float32 step of each stream's channel
                         (its largest magnitude in the track / 127); latents = int8 values * step.
F = num_frames(track samples). Files are memory-mapped when read. int8 halves float16's size (about
20 MB per hour of 4-stem embedded latents) for carrying a cache to a rented GPU; rounding moves a
value by at most half a step, far below the noise levels training adds.

Long tracks are encoded in chunks of `chunk` frames (4096 * chunk + 1536 samples, default 64: the
training window) that overlap by `overlap` frames; each chunk keeps its central frames (overlap-save)
so every stored frame was computed with at least overlap // 2 frames of audio on either side (the
track's ends excepted). For a codec whose frames depend only on their own 4096 + 1536 samples (the
embedded codec) the result equals encoding any frame-aligned window exactly; for Music2Latent, whose
encoder sees neighbouring frames, it matches encoding a window up to the encoder's receptive field
beyond that margin (the reference encodes each 6 s window on the fly, so its own edge frames differ
from a whole-track encoding too).

    python -m jaxaccomp.data.latent_cache --data ROOT --split train --out cache/train --codec auto
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import functools
import json
import logging
import multiprocessing
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from jaxaccomp.codec.base import LATENT_CHANNELS, PAD, Codec, decoded_length, num_frames
from jaxaccomp.constants import HOP
from jaxaccomp.data.slakh import MIN_SECONDS, SPLITS, Split, Track, accompaniment, load_split
from jaxaccomp.constants import STEMS

log = logging.getLogger("jaxaccomp.data")

FORMAT = "jaxaccomp-latent-cache"
VERSION = 1
INDEX = "index.json"
DTYPES = ("float16", "float32", "int8")
INT8_LEVELS = 127  # int8 steps on each side of zero


@dataclasses.dataclass(frozen=True)
class CachedTrack:
    id: str
    frames: int
    samples: int


class LatentCache:
    """A finished cache directory, checked against the codec the caller works with."""

    def __init__(self, directory: str | Path, codec: str | Codec | None = None) -> None:
        self.directory = Path(directory)
        header = read_index(self.directory)
        if not header.get("complete"):
            raise ValueError(f"{self.directory} is an unfinished latent cache; run the cache command again to finish it")
        self.codec: str = header["codec"]
        self.is_pretrained: bool = header["is_pretrained"]
        self.source: dict = header["source"]
        self.tracks = tuple(CachedTrack(**track) for track in header["tracks"])
        _check_codec(self.directory, self.codec, self.is_pretrained, codec)
        self._open: dict[tuple[str, int], np.ndarray] = {}

    def latents(self, track: int) -> np.ndarray | QuantizedLatents:
        """[2, 4, 64, F] (stems, accompaniments), memory-mapped; an int8 cache's are read as float32."""
        latents = self._array("latents", track)
        if latents.dtype == np.int8:
            return QuantizedLatents(latents, self._array("scale", track))
        return latents

    def energy(self, track: int) -> np.ndarray:
        """[2, 4, F] per-frame mean squares of the same audio, memory-mapped."""
        return self._array("energy", track)

    def rollout(self, track: int) -> np.ndarray:
        """[4, 64, F] a model's free-running output per stem (`data.rollouts`), memory-mapped."""
        if not (self.directory / f"{self.tracks[track].id}.rollout.npy").is_file():
            raise FileNotFoundError(f"{self.directory} has no rollout of track {self.tracks[track].id}; "
                                    "run python -m jaxaccomp.data.rollouts on it first")
        return self._array("rollout", track)

    def _array(self, kind: str, track: int) -> np.ndarray:
        if (kind, track) not in self._open:
            self._open[kind, track] = np.load(self.directory / f"{self.tracks[track].id}.{kind}.npy", mmap_mode="r")
        return self._open[kind, track]

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_open": {}}  # data workers re-open the files instead of copying them


class QuantizedLatents:
    """An int8 cache's latents, indexed like the array they stand for and read back as float32."""

    def __init__(self, values: np.ndarray, scale: np.ndarray) -> None:
        self.values, self.scale = values, scale
        self.shape, self.dtype = values.shape, np.dtype(np.float32)

    def __getitem__(self, index) -> np.ndarray:
        return self.values[index].astype(np.float32) * np.broadcast_to(self.scale, self.shape)[index]

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        return self[...] if dtype is None else self[...].astype(dtype)


def quantize(latents: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """int8 values and float32 per-channel steps [2, 4, 64, 1] of one track's latents."""
    scale = (np.abs(latents).max(axis=-1, keepdims=True) / INT8_LEVELS).astype(np.float32)
    scale = np.where(scale > 0, scale, np.float32(1.0))  # an all-zero channel stays zero
    return np.round(latents / scale).astype(np.int8), scale


def read_index(directory: Path) -> dict:
    path = directory / INDEX
    if not path.is_file():
        raise FileNotFoundError(f"{directory} is not a latent cache (no {INDEX})")
    header = json.loads(path.read_text())
    if header.get("format") != FORMAT or header.get("version") != VERSION:
        raise ValueError(f"{path} is not a {FORMAT} version {VERSION} index")
    return header


def _check_codec(directory: Path, name: str, is_pretrained: bool, expected: str | Codec | None) -> None:
    if expected is None:
        return
    want = (expected, None) if isinstance(expected, str) else (expected.name, expected.is_pretrained)
    if want[0] != name or want[1] not in (None, is_pretrained):
        got = f"{name!r} ({'pretrained' if is_pretrained else 'not pretrained'})"
        raise ValueError(f"{directory} holds latents of codec {got}, not of {want[0]!r}"
                         + ("" if want[1] is None else f" ({'pretrained' if want[1] else 'not pretrained'})"))


def chunk_plan(frames: int, chunk: int, overlap: int) -> list[tuple[int, int, int]]:
    """(chunk start, first kept frame, end of kept frames) covering `frames` frames once each."""
    if not 0 <= overlap < chunk:
        raise ValueError(f"overlap must be in [0, chunk), got overlap {overlap} and chunk {chunk}")
    if frames <= chunk:
        return [(0, 0, frames)]
    starts = [*range(0, frames - chunk, chunk - overlap), frames - chunk]
    plan, kept = [], 0
    for j, start in enumerate(starts):
        end = frames if j == len(starts) - 1 else start + chunk - overlap // 2
        plan.append((start, kept, end))
        kept = end
    return plan


def encode_long(codec: Codec, audio: np.ndarray, chunk: int = 64, overlap: int = 16, batch: int = 16) -> np.ndarray:
    """[N, L] audio -> [N, 64, num_frames(L)] latents, encoded in overlapping chunks and stitched."""
    frames = num_frames(audio.shape[1])
    if frames < 1:
        raise ValueError(f"audio of {audio.shape[1]} samples is too short: the codec needs at least {decoded_length(1)}")
    size = min(chunk, frames)
    pieces = [(row, part) for part in chunk_plan(frames, chunk, overlap) for row in range(audio.shape[0])]
    out = np.empty((audio.shape[0], LATENT_CHANNELS, frames), np.float32)
    for first in range(0, len(pieces), batch):
        group = pieces[first:first + batch]
        clips = np.stack([audio[row, HOP * start: HOP * (start + size) + PAD] for row, (start, _, _) in group])
        latents = codec.encode(clips)
        for latent, (row, (start, keep, end)) in zip(latents, group):
            out[row, :, keep:end] = latent[:, keep - start:end - start]
    return out


def frame_energy(audio: np.ndarray) -> np.ndarray:
    """[N, L] -> [N, num_frames(L)] mean square of each frame's 4096 samples."""
    frames = num_frames(audio.shape[1])
    blocks = audio[:, : HOP * frames].reshape(audio.shape[0], frames, HOP).astype(np.float64)
    return np.mean(np.square(blocks), axis=2).astype(np.float32)


def track_arrays(codec: Codec, track: Track, chunk: int, overlap: int, batch: int) -> tuple[np.ndarray, np.ndarray]:
    """Latents [2, 4, 64, F] and energies [2, 4, F] of one track's stems and accompaniments."""
    stems = track.stems
    signals = np.concatenate([stems, np.stack([accompaniment(stems, k) for k in range(len(STEMS))])])
    latents = encode_long(codec, signals, chunk, overlap, batch)
    return (latents.reshape(2, len(STEMS), LATENT_CHANNELS, -1),
            frame_energy(signals).reshape(2, len(STEMS), -1))


def build_cache(split: Split, codec: Codec, out: str | Path, *, chunk: int = 64, overlap: int = 16,
                batch: int = 16, dtype: str = "float16", workers: int = 1) -> LatentCache:
    """Encode every track of `split` into `out`; an interrupted run with the same settings resumes.

    `workers` > 1 encodes tracks in that many processes (a codec without weights only: each process
    gets a copy of it)."""
    if dtype not in DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; choose one of {', '.join(DTYPES)}")
    if workers < 1 or (workers > 1 and codec.is_pretrained):
        raise ValueError(f"workers must be >= 1, and 1 for a pretrained codec ({codec.name}); got {workers}")
    chunk_plan(chunk + 1, chunk, overlap)  # validates the stitching settings before any work
    out = Path(out)
    header = {"format": FORMAT, "version": VERSION, "codec": codec.name, "is_pretrained": bool(codec.is_pretrained),
              "dtype": dtype, "chunk": chunk, "overlap": overlap, "hop": HOP, "pad": PAD,
              "sample_rate": codec.sample_rate, "stems": list(STEMS), "context": "mixture minus stem",
              "source": {"root": str(split.directory.parent.resolve()), "split": split.directory.name,
                         "layout": split.layout, "skipped": [list(s) for s in split.skipped]}}
    _claim(out, header)
    todo = [track for track in split.tracks if not _cached(out, track, dtype)]
    encode = functools.partial(_encode_track, codec=codec, out=out, chunk=chunk, overlap=overlap, batch=batch,
                               dtype=dtype)
    if workers == 1:
        for track in _progress(todo):
            encode(track)
    else:
        context = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
            for _ in _progress(pool.map(encode, todo), total=len(todo)):
                pass
    tracks = [{"id": track.id, "frames": num_frames(track.length), "samples": track.length} for track in split.tracks]
    _write_index(out, {**header, "complete": True, "tracks": tracks})
    return LatentCache(out, codec)


def _shapes(track: Track, dtype: str) -> dict[str, tuple[int, ...]]:
    frames = num_frames(track.length)
    shapes = {"latents": (2, len(STEMS), LATENT_CHANNELS, frames), "energy": (2, len(STEMS), frames)}
    return shapes | ({"scale": (2, len(STEMS), LATENT_CHANNELS, 1)} if dtype == "int8" else {})


def _cached(out: Path, track: Track, dtype: str) -> bool:
    return all(_has_array(out / f"{track.id}.{kind}.npy", shape) for kind, shape in _shapes(track, dtype).items())


def _encode_track(track: Track, *, codec: Codec, out: Path, chunk: int, overlap: int, batch: int, dtype: str) -> None:
    latents, energy = track_arrays(codec, track, chunk, overlap, batch)
    if dtype == "int8":
        latents, scale = quantize(latents)
        _save(out / f"{track.id}.scale.npy", scale)
    _save(out / f"{track.id}.latents.npy", latents.astype(dtype))
    _save(out / f"{track.id}.energy.npy", energy)
    log.info("cached %s (%d frames)", track.id, latents.shape[-1])


def _claim(out: Path, header: dict) -> None:
    """Start (or resume) writing `out`; a directory holding another cache is refused."""
    out.mkdir(parents=True, exist_ok=True)
    if (out / INDEX).exists():
        existing = read_index(out)
        settings = {k: v for k, v in existing.items() if k not in ("complete", "tracks")}
        if settings != header:
            changed = sorted(k for k in header if settings.get(k) != header[k])
            raise ValueError(f"{out} already holds a latent cache with other settings ({', '.join(changed)}); "
                             "choose another --out")
    elif any(out.iterdir()):
        raise ValueError(f"{out} is not empty and holds no latent cache; choose an empty or new --out")
    _write_index(out, {**header, "complete": False, "tracks": []})


def _has_array(path: Path, shape: tuple[int, ...]) -> bool:
    try:
        return np.load(path, mmap_mode="r").shape == shape
    except (OSError, ValueError):
        return False


def _save(path: Path, array: np.ndarray) -> None:
    partial = path.with_name(path.name + ".partial")
    with open(partial, "wb") as f:
        np.save(f, array)
    os.replace(partial, path)  # a killed run never leaves a truncated array under the real name


def _write_index(out: Path, header: dict) -> None:
    partial = out / (INDEX + ".partial")
    partial.write_text(json.dumps(header, indent=1) + "\n")
    os.replace(partial, out / INDEX)


def _progress(items: Iterable, total: int | None = None) -> Iterator:
    from tqdm import tqdm

    return iter(tqdm(items, total=total, desc="encoding tracks", unit="track", disable=None))


def main(argv: list[str] | None = None) -> int:
    from jaxaccomp.codec.factory import CODEC_NAMES, get_codec

    parser = argparse.ArgumentParser(prog="python -m jaxaccomp.data.latent_cache", description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True, help="Slakh2100 root (holding train/validation/test)")
    parser.add_argument("--split", required=True, choices=SPLITS)
    parser.add_argument("--out", required=True, help="cache directory (new, empty, or an unfinished cache to resume)")
    parser.add_argument("--codec", default="auto", choices=CODEC_NAMES)
    parser.add_argument("--codec-checkpoint", help="Music2Latent weights (music2latent.pt)")
    parser.add_argument("--device", help="torch device for Music2Latent (default: CUDA if available)")
    parser.add_argument("--chunk", type=int, default=64, help="frames encoded per codec call (default 64)")
    parser.add_argument("--overlap", type=int, default=16, help="frames shared by neighbouring chunks (default 16)")
    parser.add_argument("--batch", type=int, default=16, help="clips per codec call (default 16)")
    parser.add_argument("--dtype", default="float16", choices=DTYPES,
                        help="stored precision (default float16; int8 halves it, e.g. to carry a cache to a GPU)")
    parser.add_argument("--min-seconds", type=float, default=MIN_SECONDS, help="skip shorter tracks")
    parser.add_argument("--workers", type=int, default=1,
                        help="encoding processes (the embedded codec only; default 1)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    split = load_split(args.data, args.split, args.min_seconds)
    codec = get_codec(args.codec, args.codec_checkpoint, args.device)
    cache = build_cache(split, codec, args.out, chunk=args.chunk, overlap=args.overlap, batch=args.batch,
                        dtype=args.dtype, workers=args.workers)
    frames = sum(track.frames for track in cache.tracks)
    print(f"cached {len(cache.tracks)} tracks ({frames} frames, {len(split.skipped)} skipped) "
          f"with codec {codec.name} in {cache.directory}")
    return 0


if __name__ == "__main__":
    from jaxaccomp.cli import run

    run(main)
