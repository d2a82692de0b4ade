"""Time: beats to seconds with swing and humanisation.

`Note` is a note in seconds, what the renderer consumes; the humaniser turns the players'
`BeatNote`s into `Note`s.
"""

from __future__ import annotations

import dataclasses
import random

from jaxaccomp.data.compose.bars import BeatNote

MAX_TIMING_ERROR = 0.010  # s; humanised onsets stay within this of the grid (strums spread further)


@dataclasses.dataclass(frozen=True)
class Note:
    pitch: int  # MIDI key
    start: float  # seconds
    end: float  # seconds
    velocity: int  # 1-127


@dataclasses.dataclass(frozen=True)
class Timing:
    tempo: float
    swing: float
    swing_period: float

    def seconds(self, beat: float) -> float:
        """Grid position in seconds; the second half of each swung pair starts late."""
        period = self.swing_period
        pair, frac = divmod(beat, period)
        frac /= period
        if self.swing != 0.5:
            frac = frac * 2 * self.swing if frac < 0.5 else self.swing + (frac - 0.5) * 2 * (1 - self.swing)
        return (pair + frac) * period * 60.0 / self.tempo


def _humanise(notes: list[BeatNote], timing: Timing, rng: random.Random, sigma: float, velocity_sigma: float,
              end_limit: float) -> list[Note]:
    """Seconds with a shared timing error per onset (a chord moves together) and per-note velocity."""
    bias = rng.uniform(-0.003, 0.003)  # this player sits a little ahead of or behind the beat
    offsets: dict[float, float] = {}
    out = []
    for n in sorted(notes, key=lambda n: (n.beat, n.delay, n.pitch)):
        key = round(n.beat, 6)
        if key not in offsets:
            offsets[key] = max(-MAX_TIMING_ERROR, min(MAX_TIMING_ERROR, bias + rng.gauss(0.0, sigma)))
        start = max(0.0, timing.seconds(n.beat) + offsets[key] + n.delay)
        end = min(end_limit, timing.seconds(n.beat + n.length) + offsets[key] + n.delay)
        velocity = int(round(max(1.0, min(127.0, n.velocity + rng.gauss(0.0, velocity_sigma)))))
        out.append(Note(n.pitch, round(start, 6), round(end, 6), velocity))
    return _tidy(out)


def _tidy(notes: list[Note], min_length: float = 0.02) -> list[Note]:
    """Trim overlaps of the same key (a synth or MIDI note-off would cut the later note) and drop slivers."""
    by_pitch: dict[int, list[Note]] = {}
    for n in notes:
        by_pitch.setdefault(n.pitch, []).append(n)
    out = []
    for same in by_pitch.values():
        same.sort(key=lambda n: (n.start, -n.velocity))
        for i, n in enumerate(same):
            end = n.end
            if i + 1 < len(same):
                end = min(end, same[i + 1].start - 0.001)
            if end - n.start >= min_length:
                out.append(dataclasses.replace(n, end=round(end, 6)))
    return sorted(out, key=lambda n: (n.start, n.pitch))
