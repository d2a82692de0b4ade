"""Music theory: the bar length, note names, scales, chords and progressions.

Harmony: chords written as Roman numerals relative to the tonic. Progressions are families of
4-chord sequences per mode; `_nearest` places a pitch class near a target pitch (voice leading).
"""

from __future__ import annotations

import dataclasses
import re

BEATS_PER_BAR = 4

NOTE_NAMES_SHARP = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
NOTE_NAMES_FLAT = ("C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B")
SCALES = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10)}

QUALITY_INTERVALS = {
    "maj": (0, 4, 7), "min": (0, 3, 7), "dim": (0, 3, 6), "7": (0, 4, 7, 10), "m7": (0, 3, 7, 10),
    "maj7": (0, 4, 7, 11), "sus4": (0, 5, 7), "sus2": (0, 2, 7),
}
DEGREE_SEMITONES = {"I": 0, "II": 2, "III": 4, "IV": 5, "V": 7, "VI": 9, "VII": 11}
_NUMERAL = re.compile(r"^(?P<acc>[b#]?)(?P<num>VII|VI|V|IV|III|II|I|vii|vi|v|iv|iii|ii|i)"
                      r"(?P<q>°|maj7|7|sus4|sus2)?(?P<inv>64|6|42)?$")


@dataclasses.dataclass(frozen=True)
class Chord:
    root: int  # semitones above the tonic
    quality: str  # key of QUALITY_INTERVALS
    bass: int  # semitones above the tonic of the lowest note (differs from root for inversions)
    symbol: str  # as written, for metadata

    def intervals(self) -> tuple[int, ...]:
        return QUALITY_INTERVALS[self.quality]

    def pitch_classes(self, tonic: int) -> list[int]:
        return [(tonic + self.root + i) % 12 for i in self.intervals()]

    def name(self, tonic: int, flats: bool) -> str:
        """A lead-sheet name such as "F#m7" or "C/E"."""
        names = NOTE_NAMES_FLAT if flats else NOTE_NAMES_SHARP
        suffix = {"maj": "", "min": "m", "dim": "dim", "7": "7", "m7": "m7", "maj7": "maj7", "sus4": "sus4", "sus2": "sus2"}
        text = names[(tonic + self.root) % 12] + suffix[self.quality]
        return text if self.bass == self.root else f"{text}/{names[(tonic + self.bass) % 12]}"


def parse_chord(symbol: str) -> Chord:
    """A Roman numeral: case gives major/minor, b/# alter the degree, 6/64/42 are inversions,
    "V/x" and "V7/x" are secondary dominants (the dominant of degree x)."""
    if "/" in symbol:
        dominant, target = symbol.split("/")
        if dominant not in ("V", "V7"):
            raise ValueError(f"only V/x and V7/x secondary chords are supported, not {symbol!r}")
        root = (parse_chord(target).root + 7) % 12
        return Chord(root, "7" if dominant == "V7" else "maj", root, symbol)
    match = _NUMERAL.match(symbol)
    if not match:
        raise ValueError(f"cannot read chord symbol {symbol!r}")
    numeral = match["num"]
    root = (DEGREE_SEMITONES[numeral.upper()] + {"": 0, "b": -1, "#": 1}[match["acc"]]) % 12
    major = numeral.isupper()
    quality = {None: "maj" if major else "min", "°": "dim", "7": "7" if major else "m7"}.get(match["q"], match["q"])
    intervals = QUALITY_INTERVALS[quality]
    inversion = {None: 0, "6": 1, "64": 2, "42": 3}[match["inv"]]
    if inversion >= len(intervals):
        raise ValueError(f"{symbol!r}: a {quality} chord has no inversion {inversion}")
    return Chord(root, quality, (root + intervals[inversion]) % 12, symbol)


# Families of 4-chord progressions (one chord per bar unless written "symbol:beats").
PROGRESSIONS = {
    "major": {
        "pop": ["I V vi IV", "vi IV I V", "I vi IV V", "I IV vi V", "IV I V vi", "I V6 vi IV"],
        "rock": ["I bVII IV I", "I IV V IV", "I V IV IV", "I IV I6 V", "I bVII bVI bVII"],
        "soul": ["Imaj7 vi7 ii7 V7", "ii7 V7 Imaj7 Imaj7", "Imaj7 IVmaj7 iii7 vi7", "IV V iii vi"],
        "secondary": ["I V7/vi vi IV", "I V7/V V I", "I V7/IV IV iv", "I V/V IV I", "I iii IV V7/V"],
        "descending": ["I V6 vi I64", "I V6 vi V", "IV I6 ii V"],
        "blues": ["I7 IV7 I7 V7", "I7 I7 IV7 IV7"],
    },
    "minor": {
        "aeolian": ["i bVI bIII bVII", "i bVII bVI bVII", "i iv bVII bIII", "i bVI bVII i", "i iv v i"],
        "harmonic": ["i iv V i", "i bVI iv V", "i bVII bVI V", "i V7/iv iv V7"],
        "dorian": ["i IV i IV", "i7 IV7 i7 IV7", "i7 iv7 i7 V7"],
        "descending": ["i v6 iv6 V", "i i/b7 bVI V"],
    },
}
BRIDGE_PROGRESSIONS = {
    "major": ["IV V iii vi", "vi IV V V", "ii V IV V", "IV iv I V", "vi iii IV V7/V"],
    "minor": ["bVI bVII i i", "iv V i bVI", "bIII bVII iv V", "bVI bIII bVII V"],
}


def _parse_progression(text: str) -> list[tuple[Chord, float]]:
    out = []
    for token in text.split():
        symbol, _, beats = token.partition(":")
        if symbol == "i/b7":  # minor tonic over its seventh: the descending line's passing chord
            out.append((Chord(0, "min", 10, symbol), float(beats or BEATS_PER_BAR)))
            continue
        out.append((parse_chord(symbol), float(beats or BEATS_PER_BAR)))
    return out


def _double_time(progression: list[tuple[Chord, float]]) -> list[tuple[Chord, float]]:
    """Two chords a bar: a faster harmonic rhythm for slow choruses."""
    return [(chord, beats / 2) for chord, beats in progression]


def _nearest(pc: int, target: float, low: int, high: int) -> int:
    """The pitch of class `pc` within [low, high] closest to `target` (voice leading)."""
    candidates = [p for p in range(low, high + 1) if p % 12 == pc % 12]
    return min(candidates, key=lambda p: (abs(p - target), p))
