"""Per-bar plan shared by all players, and the notes they play on the beat grid."""

from __future__ import annotations

import dataclasses

from jaxaccomp.data.compose.theory import BEATS_PER_BAR, Chord


@dataclasses.dataclass(frozen=True)
class BeatNote:
    """A note on the beat grid; `delay` (seconds) spreads strummed strings after the onset."""

    pitch: int
    beat: float
    length: float
    velocity: float
    delay: float = 0.0


@dataclasses.dataclass(frozen=True)
class Bar:
    index: int
    beat: float  # first beat of the bar from the start of the song
    section: str
    energy: float  # 0-1: how hard and busy the band plays
    chords: tuple[tuple[float, Chord], ...]  # (beat within the bar, chord)
    next_chord: Chord  # the chord after this bar (approach notes aim at it)
    first_in_section: bool
    last_in_section: bool
    final: bool  # the song's last bar: one held chord
    kick: str  # the 16-step kick pattern the drummer plays this bar ("" when drums rest)

    def chord_at(self, beat: float) -> Chord:
        current = self.chords[0][1]
        for start, chord in self.chords:
            if start <= beat + 1e-9:
                current = chord
        return current

    def chord_spans(self) -> list[tuple[float, float, Chord]]:
        """(start, length, chord) within the bar."""
        starts = [b for b, _ in self.chords] + [float(BEATS_PER_BAR)]
        return [(starts[i], starts[i + 1] - starts[i], c) for i, (_, c) in enumerate(self.chords)]


def _vel(base: float, energy: float, accent: float = 1.0) -> float:
    """Velocity scaled by section energy: quiet sections play softer, not just sparser."""
    return base * accent * (0.72 + 0.38 * energy)
