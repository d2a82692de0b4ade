"""What gets scored: regimes (r, w), clips (one stem of one song from one source), reference rows.

A clip is one (source, regime, track, stem): the stem as a model generated it over the whole song in
the given regime, or as one of five reference sources that calibrate every metric with the same
pipeline (docs/evaluation.md, "The protocol"):
  ground_truth      the song's own stem;
  random_pairing    the same instrument's stem of another song of the split (a seeded derangement per
                    stem; looped or cut to the song's length), or of every other song, its scores averaged
                    (`PARTNER_DRAWS`);
  silence           zeros;
  half_beat_shift   the song's own stem delayed by half a beat (true tempo if recorded, else the
                    context's tracked tempo);
  codec_round_trip  the song's own stem encoded and decoded (seed 0) by the run's codec: the ceiling
                    of any model that generates through that codec.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from jaxaccomp.codec.base import Codec
from jaxaccomp.stream_settings import StreamSettings

REFERENCES = ("ground_truth", "random_pairing", "silence", "half_beat_shift", "codec_round_trip")
ANCHORS = ("ground_truth", "random_pairing")  # every run scores these: normalised scores and set metrics need them
REFERENCE_REGIME = "reference"


@dataclass(frozen=True, order=True)
class Regime:
    """One streaming setting of a sweep: step ratio r and write window w (the run gives window and fade)."""

    r: float
    w: int

    @property
    def label(self) -> str:
        return f"r{self.r:g}_w{self.w:+d}"

    def settings(self, window: int, fade: float) -> StreamSettings:
        """The stream settings of this regime (a one-line ValueError if they are impossible)."""
        return StreamSettings(window, self.r, self.w, fade)


def grid(rs: list[float], ws: list[int], window: int, fade: float) -> tuple[list[Regime], list[tuple[Regime, str]]]:
    """(regimes the engine accepts, (regime, why not) for the others) of the r x w product."""
    valid, skipped = [], []
    for r in sorted(set(rs)):
        for w in sorted(set(ws)):
            try:
                Regime(r, w).settings(window, fade)
            except ValueError as exc:
                skipped.append((Regime(r, w), str(exc)))
                continue
            valid.append(Regime(r, w))
    return valid, skipped


@dataclass(frozen=True)
class Clip:
    """One scored stem; `source` is a model's name or one of REFERENCES."""

    source: str
    regime: Regime | None  # None for reference rows
    track: str
    stem: str

    @property
    def regime_label(self) -> str:
        return REFERENCE_REGIME if self.regime is None else self.regime.label

    def path(self, root: Path, suffix: str) -> Path:
        """Where this clip's `suffix` file (.json, .flac, .<metric>.npy) lives under the results folder."""
        return root / "clips" / self.source / self.regime_label / f"{self.track}-{self.stem}{suffix}"


NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def check_source_name(name: str) -> str:
    """A model name usable as a folder and distinct from the reference rows'."""
    if not NAME.match(name) or name in REFERENCES:
        raise ValueError(f"model name {name!r} must be letters, digits, '.', '_' or '-' and not one of "
                         f"{', '.join(REFERENCES)}")
    return name


# How the random pairing is drawn: "one" partner per song and stem (a seeded derangement), or "all" the
# other songs, whose scores are averaged: the level of chance without the luck of one draw.
PARTNER_DRAWS = ("one", "all")


def random_partners(tracks: list[str], stems: list[str], seed: int,
                    draw: str = "one") -> dict[tuple[str, str], tuple[str, ...]]:
    """(track, stem) -> the other tracks whose same stem stands in as the random pairing."""
    if len(tracks) < 2:
        raise ValueError(f"the random-pairing reference needs at least 2 tracks, the split gives {len(tracks)}")
    if draw not in PARTNER_DRAWS:
        raise ValueError(f"random partners are drawn as {' or '.join(PARTNER_DRAWS)}, got {draw!r}")
    if draw == "all":
        return {(track, stem): tuple(other for other in tracks if other != track) for track in tracks for stem in stems}
    partners = {}
    for index, stem in enumerate(stems):
        rng = np.random.default_rng([seed, index])
        order = np.arange(len(tracks))
        while np.any(order == np.arange(len(tracks))):  # a derangement: nobody keeps its own stem
            order = rng.permutation(len(tracks))
        partners.update({(track, stem): (tracks[other],) for track, other in zip(tracks, order)})
    return partners


def fit_length(audio: np.ndarray, length: int) -> np.ndarray:
    """`audio` looped or cut to `length` samples."""
    return np.resize(audio, length) if audio.shape[0] else np.zeros(length, np.float32)


def delay(audio: np.ndarray, samples: int) -> np.ndarray:
    """`audio` delayed by `samples`, same length (silence enters at the start)."""
    if samples <= 0:
        return audio.copy()
    return np.concatenate([np.zeros(min(samples, audio.shape[0]), audio.dtype), audio[:-samples]])


def round_trip(codec: Codec, audio: np.ndarray) -> np.ndarray:
    """`audio` encoded and decoded (seed 0), silence-padded to its length (the decoder returns 4096 T +
    1536 samples). The codec's sample 0 is the input's, so no shift keeps the timeline aligned."""
    decoded = codec.decode(codec.encode(audio[None]), seed=0)[0]
    return np.pad(decoded, (0, max(audio.shape[0] - decoded.shape[0], 0)))[:audio.shape[0]]


def beat_period(beats: np.ndarray) -> float | None:
    """The median beat interval in seconds, or None with fewer than two beats."""
    return float(np.median(np.diff(beats))) if beats.shape[0] >= 2 else None
