"""In tune with the band, and how much of the time a part sounds a note at all, by an independent ear.

Chroma (100-cent bins) cannot tell a note in tune from one a quarter-tone off, and a listener hears
the difference at once. So this metric listens with an ear independent of our codec: librosa's pyin
(Mauch and Dixon 2014) tracks the part's pitch frame by frame, and `librosa.estimate_tuning` finds
the band's tuning from the context; a pitched frame is in tune when it lies within IN_TUNE_CENTS of
the nearest semitone of that tuning (frames pyin is not fairly sure are pitched are left out). A
part with less than MIN_PITCHED_S of pitched sound (drums, silence) gets no score. The rendered
parts score about 0.9 or more (docs/evaluation.md).

A part can be in tune and still be mostly noise: `pitched_share` is the share of the part's frames
in which pyin hears a pitch at all (a strummed guitar of noise scores about 0, the rendered parts
0.2-0.8). Both read the same pitch track, computed once per part.

In tune is not in harmony: a note on the grid can still be one the band's chord does not hold.
`in_chord_share` reads the same track against the band's chord: a pitched frame is in the chord
when its pitch class is one of CHORD_TONES strongest of the context's chroma at that moment
(librosa's constant-Q chroma at the band's tuning), a triad's worth. A part that picks its notes at
random scores about CHORD_TONES / 12 (another song's real part 0.23-0.30); the rendered parts
0.72-0.84 (their passing notes, and chords that the other three stems voice without them, are outside).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import tempfile
from pathlib import Path

import librosa
import numpy as np

from jaxaccomp.constants import SAMPLE_RATE
from jaxaccomp.tracks import resample

ANALYSIS_RATE = 11025  # Hz: ample for the fundamentals of E1 to C6
PITCH_RANGE_HZ = (38.0, 1100.0)  # a little beyond E1 (41.2 Hz) and C6 (1046.5 Hz)
FRAME, HOP = 1024, 512  # pyin's frame (93 ms: YIN's half window holds 1.8 periods of E1) and hop
IN_TUNE_CENTS = 20.0  # further from the grid a held note sounds out of tune against a band
MIN_PITCHED_S = 1.0  # pitched seconds a part needs to be scored
# pyin's voicing probability below which a frame pyin calls voiced is not counted as pitched: its
# Viterbi path calls most of white noise voiced, at 0.01-0.02; a bass note reaches 0.1-0.8.
MIN_PROBABILITY = 0.05
CHORD_TONES = 3  # the context's strongest pitch classes a note may take to count as in the chord
QUIET_BAND = 1e-3  # context frames below this share of its mean energy hold no chord to judge against
KEPT_TRACKS = 16  # pitch tracks kept: more than a random pairing's partners, each scored by both metrics in turn
_TRACKS: dict[tuple[str, int], tuple[np.ndarray, np.ndarray]] = {}  # (digest of the audio, rate) -> (f0, pitched)
# The band's chord analysis, kept for the contexts last asked about: a random pairing scores every
# partner's part against the same context.
_CHORDS: dict[tuple[str, int], tuple[float, np.ndarray, np.ndarray]] = {}  # -> (tuning, chroma, energy)


def _digest(audio: np.ndarray, sample_rate: int) -> tuple[str, int]:
    return hashlib.blake2b(np.ascontiguousarray(audio, np.float32).tobytes(), digest_size=16).hexdigest(), sample_rate


def _kept(cache: dict, key: tuple[str, int], compute) -> tuple:
    """cache[key], computed first if absent; the oldest of KEPT_TRACKS entries makes room."""
    if key not in cache:
        if len(cache) >= KEPT_TRACKS:
            del cache[next(iter(cache))]
        cache[key] = compute()
    return cache[key]


def band_tuning(context: np.ndarray, sample_rate: int) -> float:
    """The band's offset from the A440 grid in semitones (-0.5 to 0.5), 0 for a silent context."""
    audio = resample(context, sample_rate, to=ANALYSIS_RATE)
    return float(librosa.estimate_tuning(y=audio, sr=ANALYSIS_RATE)) if np.any(audio) else 0.0


def pyin_track(stem: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """(f0 in Hz per pyin frame, whether the frame is pitched) of a part. pyin takes seconds a clip, so
    the last KEPT_TRACKS tracks are kept: the evaluation asks for both metrics of a part in turn."""
    def track() -> tuple[np.ndarray, np.ndarray]:
        f0, voiced, probability = librosa.pyin(resample(stem, sample_rate, to=ANALYSIS_RATE), fmin=PITCH_RANGE_HZ[0],
                                               fmax=PITCH_RANGE_HZ[1], sr=ANALYSIS_RATE, frame_length=FRAME,
                                               hop_length=HOP)
        pitched = voiced & (probability >= MIN_PROBABILITY)
        f0.setflags(write=False)  # shared by every caller of this part: nobody may change it
        pitched.setflags(write=False)
        return f0, pitched
    return _kept(_TRACKS, _digest(stem, sample_rate), track)


def _band_chords(context: np.ndarray, sample_rate: int) -> tuple[float, np.ndarray, np.ndarray]:
    """(tuning, [12, frames] constant-Q chroma with C = 0, [frames] energy) of a sounding context."""
    def analyse() -> tuple[float, np.ndarray, np.ndarray]:
        band, tuning = resample(context, sample_rate, to=ANALYSIS_RATE), band_tuning(context, sample_rate)
        chroma = librosa.feature.chroma_cqt(y=band, sr=ANALYSIS_RATE, hop_length=HOP, tuning=tuning)
        energy = librosa.feature.rms(y=band, frame_length=FRAME, hop_length=HOP)[0] ** 2
        chroma.setflags(write=False)  # shared by every part scored against this context
        energy.setflags(write=False)
        return tuning, chroma, energy
    return _kept(_CHORDS, _digest(context, sample_rate), analyse)


def in_tune_share(context: np.ndarray, stem: np.ndarray, sample_rate: int) -> float | None:
    """Share of the stem's pitched frames within IN_TUNE_CENTS of the context's semitone grid (None:
    too little pitched sound to judge)."""
    f0, pitched = pyin_track(stem, sample_rate)
    if pitched.sum() * HOP / ANALYSIS_RATE < MIN_PITCHED_S:
        return None
    semitones = 12 * np.log2(f0[pitched] / 440.0) - band_tuning(context, sample_rate)
    return float(np.mean(100 * np.abs(semitones - np.round(semitones)) <= IN_TUNE_CENTS))


def pitched_share(context: np.ndarray, stem: np.ndarray, sample_rate: int) -> float:
    """Share of the stem's frames in which pyin hears a pitch (the context is not needed; the metric
    signature takes it)."""
    return float(np.mean(pyin_track(stem, sample_rate)[1]))


def in_chord_share(context: np.ndarray, stem: np.ndarray, sample_rate: int) -> float | None:
    """Share of the stem's pitched frames (where the band sounds) whose pitch class is one of the
    context's CHORD_TONES strongest at that frame (None: too little pitched sound to judge)."""
    f0, pitched = pyin_track(stem, sample_rate)
    if not np.any(context):
        return None
    tuning, chroma, energy = _band_chords(context, sample_rate)
    frames = min(f0.shape[0], chroma.shape[1], energy.shape[0])
    judged = pitched[:frames] & (energy[:frames] > QUIET_BAND * energy.mean())
    if judged.sum() * HOP / ANALYSIS_RATE < MIN_PITCHED_S:
        return None
    pitch_class = (np.round(12 * np.log2(f0[:frames][judged] / 440.0) - tuning).astype(int) + 9) % 12  # A = 9
    strongest = np.argsort(chroma[:, :frames][:, judged], axis=0)[-CHORD_TONES:]  # [CHORD_TONES, judged]
    return float(np.mean((strongest == pitch_class[None]).any(axis=0)))


def compile_librosa() -> None:
    """Run this module's librosa analyses once in this process, one such process on the machine at a
    time. librosa compiles numba kernels into an on-disk cache on first use, and numba writes that
    cache unsafely when two processes compile the same kernel at once: the torn cache then crashes
    every later process that loads it with a segfault (numba/numba#10128). The evaluation calls this
    before it starts worker processes, which then only read the cache."""
    t = np.arange(6 * SAMPLE_RATE, dtype=np.float32) / SAMPLE_RATE  # 6 s: on less the CQT warns of its lowest octave
    stem = np.sin(2 * np.pi * 110.0 * t).astype(np.float32)  # an A2 bass note under an A major chord
    context = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6)).astype(np.float32) / 3
    # opened read-only, so another user's lock file serves too; closing it releases the lock
    lock = os.open(Path(tempfile.gettempdir()) / "jaxaccomp-librosa-compile.lock", os.O_RDONLY | os.O_CREAT, 0o644)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        in_tune_share(context, stem, SAMPLE_RATE)
        in_chord_share(context, stem, SAMPLE_RATE)
    finally:
        os.close(lock)
