"""Read a local Slakh2100 copy as 4-stem tracks (bass, drums, guitar, piano) at 44.1 kHz mono.

Two layouts are read, both as `<root>/<split>/<track>/` with the official split folders
train/validation/test:
  * Slakh2100 itself (original or redux): `metadata.yaml`, `stems/Sxx.flac`. Stems are grouped by
    General MIDI program (piano 0-7, guitar 24-31, bass 32-39, drums = `is_drum` / program 128) and
    summed per group; every other instrument is dropped, a missing group is silence, and a stem with
    `audio_rendered: false` has no file and is ignored. `mix.flac` is not read (it holds the dropped
    instruments too).
  * the reference's prepared layout: `{bass,drums,guitar,piano}.wav` (`mixture.wav` is ignored,
    the mixture is always the sum of the four stems; a missing stem file is silence).

Audio is read on demand (a window seeks into the file), never held per track: tracks are minutes
long and a split is hours. Multi-channel files become mono by the channel mean. Files at another
sample rate are resampled to 44.1 kHz with `scipy.signal.resample_poly` (exact rational ratio,
Kaiser-windowed FIR); such a file is read whole and resampled, and the last few are kept in a small
per-process cache, so windowed reads of resampled copies (e.g. 16 kHz BabySlakh) are slower than of
44.1 kHz ones. Tracks whose files cannot be read, or that are too short, are skipped with a logged
warning and counted in `Split.skipped`.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from fractions import Fraction
from pathlib import Path

import numpy as np
import soundfile as sf
import yaml

from jaxaccomp.constants import SAMPLE_RATE, STEMS
log = logging.getLogger("jaxaccomp.data")

SPLITS = ("train", "validation", "test")
MIN_SECONDS = 6.1  # the reference's minimum track duration
# General MIDI program ranges of the pitched groups (0-based programs).
PROGRAM_GROUPS = {"piano": range(0, 8), "guitar": range(24, 32), "bass": range(32, 40)}
DRUM_PROGRAM = 128  # Slakh's program number for drum kits


def stem_of(program_num: int | None, is_drum: bool = False) -> int | None:
    """Index into STEMS of a Slakh stem, or None for instruments the model does not use."""
    if is_drum or program_num == DRUM_PROGRAM:
        return STEMS.index("drums")
    for name, programs in PROGRAM_GROUPS.items():
        if program_num in programs:
            return STEMS.index(name)
    return None


def read_metadata(path: Path) -> dict:
    """A track's metadata.yaml; some Slakh files start with a stray byte before the YAML."""
    text = path.read_bytes().decode("utf-8", errors="replace").lstrip("\ufeff")
    for candidate in (text, text[1:]):
        try:
            data = yaml.safe_load(candidate)
        except yaml.YAMLError:
            continue
        if isinstance(data, dict) and isinstance(data.get("stems"), dict):
            return data
    raise ValueError(f"{path} is not a Slakh metadata file (no 'stems' mapping)")


@dataclasses.dataclass(frozen=True)
class Source:
    """One audio file of a stem group, described by its header; reads give 44.1 kHz mono float32."""

    path: Path
    sample_rate: int
    frames: int  # at the file's own rate

    @classmethod
    def probe(cls, path: Path) -> Source:
        info = sf.info(str(path))  # raises on unreadable files
        if info.frames <= 0:
            raise ValueError(f"{path} holds no audio")
        return cls(path, int(info.samplerate), int(info.frames))

    @property
    def length(self) -> int:
        """Samples at 44.1 kHz (resample_poly's output length for resampled files)."""
        ratio = Fraction(SAMPLE_RATE, self.sample_rate)
        return -(-self.frames * ratio.numerator // ratio.denominator)

    def read(self, start: int, stop: int) -> np.ndarray:
        """Samples [start, stop) at 44.1 kHz, zero beyond the end of the file."""
        stop_inside = max(min(stop, self.length), start)
        if stop_inside == start:
            audio = np.zeros(0, np.float32)
        elif self.sample_rate == SAMPLE_RATE:
            audio = _mono(sf.read(str(self.path), start=start, stop=stop_inside, dtype="float32", always_2d=True)[0])
        else:
            audio = _resampled(self.path, self.sample_rate)[start:stop_inside]
        return np.pad(audio, (0, stop - start - audio.shape[0]))


def _mono(audio: np.ndarray) -> np.ndarray:
    return audio[:, 0] if audio.shape[1] == 1 else audio.mean(axis=1, dtype=np.float32)


@functools.lru_cache(maxsize=8)
def _resampled(path: Path, sample_rate: int) -> np.ndarray:
    """A whole file resampled to 44.1 kHz (cached: windows of one track are read many times)."""
    from scipy.signal import resample_poly

    ratio = Fraction(SAMPLE_RATE, sample_rate)
    audio = _mono(sf.read(str(path), dtype="float32", always_2d=True)[0])
    out = resample_poly(audio, ratio.numerator, ratio.denominator).astype(np.float32)
    out.flags.writeable = False
    return out


@dataclasses.dataclass(frozen=True)
class Track:
    """A track's four stem groups; audio is read on demand. Picklable (paths only) for data workers."""

    id: str
    sources: tuple[tuple[Source, ...], ...]  # per stem in STEMS order; empty = silence
    length: int  # samples at 44.1 kHz: the longest stem (shorter stems end in silence)

    def read(self, start: int = 0, length: int | None = None) -> np.ndarray:
        """[4, length] float32 stems from sample `start`; zero beyond the end of the track."""
        length = self.length - start if length is None else length
        if start < 0 or length < 0:
            raise ValueError(f"track {self.id}: cannot read {length} samples from {start}")
        out = np.zeros((len(STEMS), length), np.float32)
        for stem, group in enumerate(self.sources):
            for source in group:
                out[stem] += source.read(start, start + length)
        return out

    @property
    def stems(self) -> np.ndarray:
        """The whole track, [4, length] float32 (read now, not kept)."""
        return self.read()


def accompaniment(stems: np.ndarray, stem: int) -> np.ndarray:
    """The mixture minus one stem, computed the same way everywhere (audio items and the latent cache)."""
    return stems[0] + stems[1] + stems[2] + stems[3] - stems[stem]


@dataclasses.dataclass(frozen=True)
class Split:
    """The usable tracks of one split, and (track folder, reason) for every skipped one."""

    directory: Path
    layout: str  # "slakh" or "prepared"
    tracks: tuple[Track, ...]
    skipped: tuple[tuple[str, str], ...]


def load_split(root: str | Path, split: str, min_seconds: float = MIN_SECONDS) -> Split:
    """The tracks of `<root>/<split>`, skipping (and counting) unreadable or short ones."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    directory = Path(root) / split
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory} not found: expected a Slakh2100 copy with {'/'.join(SPLITS)} folders")
    tracks, skipped, layouts = [], [], set()
    for folder in sorted(p for p in directory.iterdir() if p.is_dir() and not p.name.startswith(".")):
        try:
            layout, track = _read_track(folder)
            if track.length < min_seconds * SAMPLE_RATE:
                raise ValueError(f"{track.length / SAMPLE_RATE:.2f} s is shorter than {min_seconds} s")
        except (ValueError, OSError, RuntimeError, yaml.YAMLError) as exc:  # soundfile raises RuntimeError
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            log.warning("skipping %s: %s", folder, reason)
            skipped.append((folder.name, reason))
            continue
        tracks.append(track)
        layouts.add(layout)
    if not tracks:
        detail = f"; first: {skipped[0][0]}: {skipped[0][1]}" if skipped else ""
        raise ValueError(f"no usable tracks in {directory} ({len(skipped)} skipped{detail})")
    if skipped:
        log.warning("%s: %d tracks read, %d skipped", directory, len(tracks), len(skipped))
    return Split(directory, "+".join(sorted(layouts)), tuple(tracks), tuple(skipped))


def _read_track(folder: Path) -> tuple[str, Track]:
    if (folder / "metadata.yaml").is_file():
        return "slakh", _make_track(folder.name, _slakh_files(folder))
    files = [[folder / f"{name}.wav"] if (folder / f"{name}.wav").is_file() else [] for name in STEMS]
    if any(files):
        return "prepared", _make_track(folder.name, files)
    raise ValueError("neither metadata.yaml nor bass/drums/guitar/piano.wav")


def _slakh_files(folder: Path) -> list[list[Path]]:
    metadata = read_metadata(folder / "metadata.yaml")
    audio_dir = folder / str(metadata.get("audio_dir") or "stems")
    files: list[list[Path]] = [[] for _ in STEMS]
    for name, info in sorted(metadata["stems"].items()):
        info = info or {}
        stem = stem_of(info.get("program_num"), bool(info.get("is_drum", False)))
        if stem is None or info.get("audio_rendered", True) is False:
            continue
        path = next((p for p in (audio_dir / f"{name}.flac", audio_dir / f"{name}.wav") if p.is_file()), None)
        if path is None:
            raise ValueError(f"stem {name} is marked rendered but {audio_dir / name}.flac is missing")
        files[stem].append(path)
    if not any(files):
        raise ValueError("no bass, drums, guitar or piano stem")
    return files


def _make_track(track_id: str, files: list[list[Path]]) -> Track:
    sources = tuple(tuple(Source.probe(path) for path in group) for group in files)
    length = max(source.length for group in sources for source in group)
    return Track(track_id, sources, length)
