"""Generated notes in tune with the band: the embedded codec's pitch rows snapped to its semitone grid and chords.

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
   silent;
4. with the band's chord (`--tuning chord`): the model picks its notes at random as far as the
   band's harmony goes (its pitch classes rank among the band's as chance would have them), so a
   note instead takes the nearest pitch whose class is one of the CHORD_TONES strongest in the
   band's chroma over the note (read off the band's audio by the codec, `embedded.band_chord`).
   Two, not one: by the codec's chroma of the band, the real parts' notes are its strongest pitch
   class about a quarter of the time and among its three strongest about half; two keeps that mix
   and the part's line, where one made every part play the band's loudest note (docs/streaming.md);
5. a bass (`root=True`) plays the chord's root, as a bass player does, wherever the root of the
   triad (major or minor) that best matches the band's chroma over a note is one of those two
   classes; the root goes in the part's own register (the octave around its notes' median, above
   E1), since the nearest root pulled the line down 3-4 semitones on average. Ahead of playback this puts
   the bass on the composer's root about half the time instead of 30 %, and among the band's three
   strongest classes more often (docs/streaming.md);
6. ahead of the playback position, where the look-ahead generates, the band's chord is not heard
   yet and is predicted (`chord_ahead`): the last chord heard, trusted less the further ahead, over
   the song's key (its mean chroma over the last KEY_S, or the last KEY_RECENT_S after a key change:
   `song_key`). The periodic continuation's audio, which the model hears there, holds the chord
   ahead worse than the key alone (docs/streaming.md).
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
CHORD_TONES = 2  # the band's strongest pitch classes over a note that the note may land on
CHORD_MIN_SHARE = 0.125  # strongest pitch class's share below which the band sounds no chord (flat: 1/12)
A4_CLASS = 9  # pitch class of A (C = 0), the chroma's numbering
LOWEST_BASS = -41  # E1 (41.2 Hz) in semitones from A4, a four-string bass's lowest note: roots stay above it
# The chord ahead of playback (`chord_ahead`), chosen on 12 development songs by how often the two
# strongest predicted pitch classes are among the band's three strongest when it gets there:
KEY_S = 30.0  # the song's key: its mean chroma over this much of its past (10 s held it worse)
KEY_EVERY = 5  # the key's chroma read off every 5th frame (0.46 s apart): as good, a fifth of the work
KEY_RECENT_S = 10.0  # a key change: the last 10 s become the key where their chroma has moved away from
KEY_CHANGE = 0.8  # ... the whole KEY_S's, correlating below this (a tone up: 0.47-0.66 from 6 s after, not 0.41-0.47)
HOLD_FRAMES = 4  # the last chord heard: the mean chroma of the last 4 heard frames (0.37 s)
HOLD_WEIGHT = 2.0  # the last chord's weight against the key's at the playback position ...
HOLD_AHEAD_FRAMES = 16  # ... falling linearly to nothing 16 frames (1.5 s) ahead, where the key alone is best


# [24, 12] the major (rows 0-11) and minor (12-23) triads on each root: root, third and fifth alike
TRIADS = np.array([np.isin(np.arange(12), [(root + interval) % 12 for interval in (0, third, 7)])
                   for third in (4, 3) for root in range(12)], dtype=float)


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


def song_key(frames: np.ndarray, frame_s: float) -> np.ndarray:
    """[12] the song's key from its [12, K] pitch-class shares `frame_s` apart (oldest first): their
    mean, or the last KEY_RECENT_S's where the song has moved away from it (a key change)."""
    whole = frames.mean(axis=1)
    recent = frames[:, -max(1, round(KEY_RECENT_S / frame_s)):].mean(axis=1)
    a, b = whole - whole.mean(), recent - recent.mean()
    moved = a @ b < KEY_CHANGE * np.sqrt((a @ a) * (b @ b))  # correlation below KEY_CHANGE (never when flat)
    return recent if moved else whole


def chord_ahead(heard: np.ndarray, key: np.ndarray, frames: int) -> np.ndarray:
    """[12, frames] pitch-class shares of the band over the `frames` after the [12, H] shares heard
    (H >= 0), from the last chord heard and the song's [12] `key` shares."""
    last = heard[:, -HOLD_FRAMES:].mean(axis=1) if heard.shape[1] else key
    trust = HOLD_WEIGHT * np.clip(1.0 - (np.arange(frames) + 0.5) / HOLD_AHEAD_FRAMES, 0.0, None)
    return (trust[None] * last[:, None] + key[:, None]) / (1.0 + trust[None])


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cumulative, 0.5 * cumulative[-1])])


def _on_chord(semitones: np.ndarray, chords: np.ndarray, root: bool = False) -> np.ndarray:
    """For [n] pitches (on the A440 grid), the nearest whose class is one of the CHORD_TONES strongest
    of their [n, 12] pitch-class shares; of two equally near, the stronger. With `root` (a bass), the
    root of the triad that best matches the shares wherever it is one of them, in the part's own
    register (the octave around its notes' median, above LOWEST_BASS). Where the band sounds no chord
    (silence, or a context not played yet), the nearest semitone."""
    tones = np.argsort(chords, axis=1)[:, -CHORD_TONES:]  # [n, CHORD_TONES]
    candidates = np.round(semitones)[:, None] + np.arange(-6, 7)  # [n, 13]: every pitch class
    classes = (candidates.astype(int) + A4_CLASS) % 12
    allowed = (classes[..., None] == tones[:, None, :]).any(axis=-1)
    distance = np.abs(candidates - semitones[:, None]) - 1e-3 * np.take_along_axis(chords, classes, axis=1)
    chosen = np.take_along_axis(candidates, np.where(allowed, distance, np.inf).argmin(axis=1)[:, None], axis=1)[:, 0]
    if root:
        roots = np.argmax(chords @ TRIADS.T, axis=1) % 12
        lowest = max(np.round(np.median(semitones)) - 6, LOWEST_BASS)  # the register's lowest semitone
        in_register = lowest + (roots - (lowest + A4_CLASS)) % 12
        chosen = np.where((tones == roots[:, None]).any(axis=1), in_register, chosen)
    return np.where(chords.max(axis=1) >= CHORD_MIN_SHARE, chosen, np.round(semitones))


def snap_notes(semitones: np.ndarray, periodicity: np.ndarray, voiced: np.ndarray, offset: float,
               chord: np.ndarray | None = None, root: bool = False) -> np.ndarray:
    """One part's [N] pitches with each note (a run of `voiced` quarters) one pitch on the grid
    `offset` semitones from A440, and the unvoiced quarters the nearest note's; unchanged if none is voiced.
    With `chord`, the band's [12, N] pitch-class shares, each note lands on one of the band's
    strongest pitch classes over it, or with `root` (a bass) on its chord's root."""
    notes = _notes(semitones, voiced)
    if not notes:
        return semitones.copy()
    pitches = np.array([_weighted_median(semitones[note], periodicity[note]) for note in notes]) - offset
    if chord is None:
        pitches = np.round(pitches)
    else:
        summed = np.pad(np.cumsum(chord, axis=1), ((0, 0), (1, 0)))  # the band's chord over each note:
        starts, stops = (np.array([getattr(note, end) for note in notes]) for end in ("start", "stop"))
        pitches = _on_chord(pitches, ((summed[:, stops] - summed[:, starts]) / (stops - starts)).T, root)
    out = semitones.copy()
    for note, pitch in zip(notes, pitches):
        out[note] = pitch + offset
    position, pitched = np.arange(out.shape[0]), np.flatnonzero(voiced)
    right = np.clip(np.searchsorted(pitched, position), 0, pitched.shape[0] - 1)
    left = np.clip(right - 1, 0, None)
    nearest = np.where(np.abs(pitched[left] - position) <= np.abs(pitched[right] - position), pitched[left], pitched[right])
    return out[nearest]
