"""Generated notes in tune with the band: the embedded codec's pitch rows snapped to the band's semitone grid.

Why: a model predicts each quarter frame's log2 f0 (rows 56-59) as a continuous number, and misses
by tens of cents. The shipped student's pitched quarter frames lay anywhere between two semitones
(25 cents from the nearest on average, as if at random; the rendered parts 4-7 cents) and crossed a
semitone boundary between 21 % of neighbouring quarters (the real parts 1 %): every note out of
tune and wavering, which a musician hears at once and chroma, 100 cents wide, hardly sees.

So, before decoding, each generated note is made one steady pitch on the band's grid:
1. the band's tuning: how far its clearly pitched quarter frames (periodicity >= PITCHED) sit from
   the A440 grid, a periodicity-weighted circular mean of their cents; A440 itself where the band
   has fewer than MIN_PITCHED of them or they agree on no offset (a resultant below MIN_AGREEMENT);
2. notes: runs of quarters the decoder voices (periodicity above its VOICING_RANGE floor), split
   where the pitch moves more than SPLIT_SEMITONES from one quarter to the next (a legato step);
3. a note's pitch: the periodicity-weighted median of its quarters, rounded to the band's grid;
   unvoiced quarters take the pitch of the nearest note, so the oscillator glides only where it is
   silent.
Everything works on raw (unstandardised) embedded latents; the periodicity rows are kept as they are.
"""

from __future__ import annotations

import numpy as np

from jaxaccomp.codec.embedded import _PERIODICITY, _PITCH, LOG2_F0_CENTRE, LOG2_F0_SCALE, VOICING_RANGE

A4_LOG2_HZ = np.log2(440.0)  # the grid's reference pitch
PITCHED = 0.85  # periodicity of a clearly pitched quarter frame (a note 0.9-1, a chord about 0.85)
MIN_PITCHED = 16  # pitched quarter frames (0.37 s) needed before the band's own tuning is trusted
MIN_AGREEMENT = 0.3  # resultant length of the cents' circular mean below which the grid stays A440
SPLIT_SEMITONES = 0.75  # a pitch step between neighbouring quarters that starts a new note


def _semitones(latents: np.ndarray) -> np.ndarray:
    """[..., 64, T] raw latents -> [..., 4T] pitch in semitones above A4, quarter frames in time order."""
    pitch = latents[..., _PITCH, :] * LOG2_F0_SCALE + LOG2_F0_CENTRE  # [..., 4, T]
    return 12 * (np.swapaxes(pitch, -1, -2).reshape(*pitch.shape[:-2], -1) - A4_LOG2_HZ)


def _periodicity(latents: np.ndarray) -> np.ndarray:
    """[..., 64, T] raw latents -> [..., 4T] periodicity (0-1) of the quarter frames in time order."""
    rows = (latents[..., _PERIODICITY, :] + 1) / 2
    return np.swapaxes(rows, -1, -2).reshape(*rows.shape[:-2], -1)


def band_offset(context: np.ndarray) -> float:
    """The band's tuning in semitones from the A440 grid (-0.5 to 0.5) of one [64, T] raw context."""
    semitones, periodicity = _semitones(context), _periodicity(context)
    pitched = periodicity >= PITCHED
    if pitched.sum() < MIN_PITCHED:
        return 0.0
    turns = np.exp(2j * np.pi * semitones[pitched]) @ periodicity[pitched] / periodicity[pitched].sum()
    return float(np.angle(turns) / (2 * np.pi)) if abs(turns) >= MIN_AGREEMENT else 0.0


def _notes(semitones: np.ndarray, voiced: np.ndarray) -> list[slice]:
    """Runs of voiced quarters, split at pitch steps of more than SPLIT_SEMITONES."""
    starts = voiced & ~np.concatenate([[False], voiced[:-1]])
    starts[1:] |= voiced[1:] & voiced[:-1] & (np.abs(np.diff(semitones)) > SPLIT_SEMITONES)
    ends = voiced & ~np.concatenate([voiced[1:], [False]])
    ends[:-1] |= starts[1:] & voiced[:-1]
    return [slice(a, b + 1) for a, b in zip(np.flatnonzero(starts), np.flatnonzero(ends))]


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cumulative, 0.5 * cumulative[-1])])


def _snapped(semitones: np.ndarray, periodicity: np.ndarray, offset: float) -> np.ndarray:
    """One stem's [4T] pitches, each note one grid pitch, the unvoiced quarters the nearest note's."""
    voiced = periodicity > VOICING_RANGE[0]
    notes = _notes(semitones, voiced)
    if not notes:
        return semitones
    out = semitones.copy()
    for note in notes:
        out[note] = np.round(_weighted_median(semitones[note], periodicity[note]) - offset) + offset
    position, pitched = np.arange(out.shape[0]), np.flatnonzero(voiced)
    right = np.clip(np.searchsorted(pitched, position), 0, pitched.shape[0] - 1)
    left = np.clip(right - 1, 0, None)
    nearest = np.where(np.abs(pitched[left] - position) <= np.abs(pitched[right] - position), pitched[left], pitched[right])
    return out[nearest]


def in_tune(target: np.ndarray, context: np.ndarray) -> np.ndarray:
    """[S, 64, T] raw target latents with every note snapped to the grid of the [64, T] raw context."""
    offset = band_offset(context)
    out = np.array(target, dtype=np.float32)
    semitones, periodicity = _semitones(out), _periodicity(out)
    for stem in range(out.shape[0]):
        snapped = _snapped(semitones[stem], periodicity[stem], offset)
        log2_f0 = (snapped / 12 + A4_LOG2_HZ - LOG2_F0_CENTRE) / LOG2_F0_SCALE
        out[stem, _PITCH, :] = log2_f0.reshape(out.shape[-1], -1).T
    return out
