"""Generated notes in tune with the band: the embedded codec's pitch rows snapped to the band's semitone grid.

Why: a model predicts each quarter frame's log2 f0 (rows 56-59) as a continuous number, and misses
by tens of cents. The shipped student's pitched quarter frames lay anywhere between two semitones
(25 cents from the nearest on average, as if at random; the rendered parts 4-7 cents) and crossed a
semitone boundary between 10-21 % of neighbouring pitched quarters (the real parts 1-7 %): every
note out of tune and wavering, which a musician hears at once and chroma, 100 cents wide, hardly sees.

So, before decoding, each generated note is made one steady pitch on the band's grid:
1. the band's tuning: how far its clearly pitched quarter frames (periodicity >= PITCHED) sit from
   the A440 grid, a periodicity-weighted circular mean of their cents; A440 itself where the band
   has fewer than MIN_PITCHED of them or they agree on no offset (a resultant below MIN_AGREEMENT);
2. notes: runs of quarters the decoder voices (periodicity above its VOICING_RANGE floor), split
   where the pitch moves more than SPLIT_SEMITONES from one quarter to the next (a legato step);
3. a note's pitch: the periodicity-weighted median of its quarters, rounded to the band's grid;
   unvoiced quarters take the pitch of the nearest note, so the oscillator glides only where it is
   silent.
It works on pitch tracks (semitones above A4 and periodicity per quarter frame, in time order);
the embedded codec reads them off its latents and writes the snapped pitches back
(`EmbeddedCodec.in_tune`), keeping every other row as it is.
"""

from __future__ import annotations

import numpy as np

PITCHED = 0.85  # periodicity of a clearly pitched quarter frame (a note 0.9-1, a chord about 0.85)
MIN_PITCHED = 16  # pitched quarter frames (0.37 s) needed before the band's own tuning is trusted
MIN_AGREEMENT = 0.3  # resultant length of the cents' circular mean below which the grid stays A440
SPLIT_SEMITONES = 0.75  # a pitch step between neighbouring quarters that starts a new note


def band_offset(semitones: np.ndarray, periodicity: np.ndarray) -> float:
    """The band's tuning in semitones from the A440 grid (-0.5 to 0.5), from its [N] quarter frames."""
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


def snap_notes(semitones: np.ndarray, periodicity: np.ndarray, voiced: np.ndarray, offset: float) -> np.ndarray:
    """One part's [N] pitches with each note (a run of `voiced` quarters) one pitch on the grid
    `offset` semitones from A440, and the unvoiced quarters the nearest note's; unchanged if none is voiced."""
    notes = _notes(semitones, voiced)
    if not notes:
        return semitones.copy()
    out = semitones.copy()
    for note in notes:
        out[note] = np.round(_weighted_median(semitones[note], periodicity[note]) - offset) + offset
    position, pitched = np.arange(out.shape[0]), np.flatnonzero(voiced)
    right = np.clip(np.searchsorted(pitched, position), 0, pitched.shape[0] - 1)
    left = np.clip(right - 1, 0, None)
    nearest = np.where(np.abs(pitched[left] - position) <= np.abs(pitched[right] - position), pitched[left], pitched[right])
    return out[nearest]
