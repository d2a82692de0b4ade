"""Drums: GM percussion keys, grooves (16-step patterns per bar), fills and the drummer.

Grooves: 16-step drum patterns per bar. "X" accent, "x" normal, "o" ghost, "O" open hi-hat.
A groove also names the tempo range, swing, kits and the styles of the other players that suit it.
"""

from __future__ import annotations

import dataclasses
import random

from jaxaccomp.data.compose.bars import Bar, BeatNote, _vel

# GM percussion keys (channel 10).
KICK, SIDE_STICK, SNARE, CLAP = 36, 37, 38, 39
FLOOR_TOM, CLOSED_HAT, LOW_TOM, PEDAL_HAT, MID_TOM, OPEN_HAT, HIGH_TOM = 41, 42, 45, 44, 47, 46, 50
CRASH, RIDE, CRASH_2 = 49, 51, 57


@dataclasses.dataclass(frozen=True)
class Groove:
    name: str
    tempo: tuple[int, int]
    swing: tuple[float, float]  # range of the off-beat position (0.5 = straight)
    swing_period: float  # beats per swung pair: 1.0 swings 8ths, 0.5 swings 16ths
    kicks: tuple[str, ...]  # first is the verse kick; the chorus may use any
    snares: tuple[str, ...]
    hats: tuple[str, ...]
    snare_note: int
    kits: tuple[int, ...]
    bass: tuple[str, ...]  # bass styles that suit the groove
    guitar: tuple[str, ...]
    piano: tuple[str, ...]
    weight: float


GROOVES = (
    Groove("rock", (90, 160), (0.5, 0.5), 1.0,
           ("X.......X.x.....", "X.....x.X.......", "X..x....X.x.....", "X.....x.X..x...."),
           ("....X.......X...", "....X.......X..o"), ("x.x.x.x.x.x.x.x.", "X.x.X.x.X.x.X.x."),
           SNARE, (0, 8, 16), ("roots8", "kick", "octaves"), ("strum8", "power8", "arpeggio"),
           ("pulse", "block", "syncopated"), 3.0),
    Groove("funk", (85, 118), (0.5, 0.56), 0.5,
           ("X..x..x...x..x..", "X.x...x..x.x....", "X..x.x....X..x.."),
           ("....X..o.o..X..o", "..o.X.o..o.oX.o.", "....X.o..o..X.oo"), ("xoxoxoxoxoxoxoxo", "x.xOx.x.x.xOx.x."),
           SNARE, (0, 8), ("funk16", "kick"), ("funk_chops", "skank"), ("stabs", "syncopated"), 2.0),
    Groove("shuffle", (70, 140), (0.6, 0.68), 1.0,
           ("X.......X.x.....", "X.....x.X.......", "X.......X......."),
           ("....X.......X...", "....X.....o.X..."), ("x.x.x.x.x.x.x.x.", "X.x.X.x.X.x.X.x."),
           SNARE, (0, 8, 32, 40), ("walking", "root_fifth", "roots8"), ("strum8", "skank", "arpeggio"),
           ("syncopated", "block", "pulse"), 2.0),
    Groove("halftime", (110, 170), (0.5, 0.5), 1.0,
           ("X.........x.....", "X.....x...x.....", "X.x.......X....."),
           ("........X.......", "........X......o"), ("x.x.x.x.x.x.x.x.", "xoxoxoxoxoxoxoxo"),
           SNARE, (0, 16, 24, 25), ("kick", "sustain", "roots8"), ("arpeggio", "strum8", "power8"),
           ("arpeggio", "ballad", "block"), 1.5),
    Groove("four_on_the_floor", (110, 132), (0.5, 0.5), 1.0,
           ("X...X...X...X...", "X...X...X...X..x"),
           ("....X.......X...",), ("x.O.x.O.x.O.x.O.", "xxOxxxOxxxOxxxOx"),
           CLAP, (24, 25, 0, 8), ("octaves", "roots8", "kick"), ("skank", "funk_chops", "strum8"),
           ("stabs", "pulse", "syncopated"), 2.0),
    Groove("one_drop", (70, 100), (0.5, 0.62), 1.0,
           ("........X.......",), ("........X.......",), ("x.x.x.x.x.x.x.x.", "x.xxx.x.x.xxx.x."),
           SIDE_STICK, (0, 8), ("reggae", "kick"), ("skank",), ("stabs", "pulse"), 1.0),
)
STEP_VELOCITY = {"X": 112, "x": 90, "o": 46, "O": 92}
FILLS = (  # (first step, ((step, drum, vel char), ...)) replacing the end of a bar
    (12, ((12, SNARE, "x"), (13, SNARE, "x"), (14, SNARE, "X"), (15, SNARE, "X"))),
    (12, ((12, HIGH_TOM, "X"), (13, HIGH_TOM, "x"), (14, LOW_TOM, "X"), (15, FLOOR_TOM, "X"))),
    (12, ((12, SNARE, "X"), (14, HIGH_TOM, "x"), (15, FLOOR_TOM, "X"))),
    (8, tuple((s, SNARE, "o" if s < 11 else "x" if s < 14 else "X") for s in range(8, 16))),
    (8, ((8, HIGH_TOM, "X"), (9, HIGH_TOM, "x"), (10, MID_TOM, "X"), (11, MID_TOM, "x"),
         (12, LOW_TOM, "X"), (13, LOW_TOM, "x"), (14, FLOOR_TOM, "X"), (15, FLOOR_TOM, "X"))),
    (8, ((8, SNARE, "X"), (10, SNARE, "x"), (11, HIGH_TOM, "x"), (12, HIGH_TOM, "X"),
         (13, MID_TOM, "x"), (14, FLOOR_TOM, "X"), (15, KICK, "X"))),
)


def _with_fill(steps: dict[int, list[tuple[int, str]]], first: int, hits: tuple) -> dict[int, list[tuple[int, str]]]:
    """The bar's hits with everything from step `first` on replaced by the fill's hits."""
    steps = {s: h for s, h in steps.items() if s < first}
    for step, drum, char in hits:
        steps.setdefault(step, []).append((drum, char))
    return steps


class Drummer:
    def __init__(self, rng: random.Random, groove: Groove):
        self.rng, self.groove = rng, groove
        self.kick_verse = groove.kicks[0] if rng.random() < 0.6 else rng.choice(groove.kicks)
        self.kick_chorus = rng.choice(groove.kicks)
        self.snare = rng.choice(groove.snares)
        self.hat = rng.choice(groove.hats)
        self.chorus_cymbal = rng.choice((CLOSED_HAT, RIDE, OPEN_HAT))
        self.crash = rng.choice((CRASH, CRASH_2))
        self.light_hat = rng.choice((PEDAL_HAT, CLOSED_HAT))

    def pattern(self, style: str) -> dict[int, str]:
        """The bar's 16-step patterns per drum, before fills and crashes."""
        if style == "tacet":
            return {}
        if style == "light":
            return {KICK: "X...............", self.light_hat: self.hat}
        if style == "hits":
            return {KICK: "X...............", self.crash: "X..............."}
        if style == "halftime":
            return {KICK: "X.........x.....", self.groove.snare_note: "........X.......", RIDE: "x.x.x.x.x.x.x.x."}
        chorus = style == "big"
        kick = self.kick_chorus if chorus else self.kick_verse
        cymbal = self.chorus_cymbal if chorus else CLOSED_HAT
        hat = self.hat
        if cymbal == OPEN_HAT:  # open hats on the off-beats over the closed pattern
            hat = "".join("O" if i % 4 == 2 else c for i, c in enumerate(hat))
            cymbal = CLOSED_HAT
        return {KICK: kick, self.groove.snare_note: self.snare, cymbal: hat}

    def play(self, bar: Bar, pattern: dict[int, str]) -> list[BeatNote]:
        if not pattern:
            return []
        if bar.final:
            return [BeatNote(KICK, bar.beat, 1.0, _vel(118, 1)), BeatNote(self.crash, bar.beat, 2.0, _vel(118, 1))]
        steps: dict[int, list[tuple[int, str]]] = {}
        for drum, line in pattern.items():
            for step, char in enumerate(line):
                if char != ".":
                    drum_key = OPEN_HAT if char == "O" else drum
                    steps.setdefault(step, []).append((drum_key, char))
        grooving = len(pattern) >= 2 and self.crash not in pattern  # not resting, not playing stops
        if bar.last_in_section and grooving and self.rng.random() < 0.85:
            steps = _with_fill(steps, *self.rng.choice(FILLS))
        elif bar.index % 4 == 3 and grooving and self.rng.random() < 0.25:
            steps = _with_fill(steps, *FILLS[self.rng.randrange(3)])  # a short phrase-end fill
        if bar.first_in_section and bar.index > 0 and bar.section != "intro" and self.rng.random() < 0.8:
            hits = [(d, c) for d, c in steps.get(0, []) if d not in (CLOSED_HAT, PEDAL_HAT, RIDE, OPEN_HAT)]
            steps[0] = hits + [(self.crash, "X"), (KICK, "X")]
        notes = []
        for step, hits in sorted(steps.items()):
            for drum, char in dict(hits).items():  # one hit per drum per step
                accent = 0.82 if drum in (CLOSED_HAT, PEDAL_HAT, OPEN_HAT, RIDE) else 1.0
                notes.append(BeatNote(drum, bar.beat + step / 4, 0.25, _vel(STEP_VELOCITY[char], bar.energy, accent)))
        return notes
