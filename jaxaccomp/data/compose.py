"""Procedural 4-stem songs (bass, drums, guitar, piano), deterministic from a seed.

A song is planned top-down the way a band arranges one: tempo, key and mode; a form of sections
(intro, verse, chorus, bridge or break, outro); a chord progression per section; a drum groove
whose kick pattern the bass locks to; then each player turns every bar into notes in the style its
section asks for. Positions are in beats until the very end, where swing, tempo and humanised
timing (a few ms per onset, clipped to +-10 ms) and velocity turn them into seconds. The result is
a plain description (`Song`) that the renderer synthesises and writes as a Slakh2100-style track;
beat, downbeat, chord and section times are exact ground truth (the unhumanised grid).

Everything random comes from one `random.Random(seed)`, so a seed always gives the same song.
"""

from __future__ import annotations

import dataclasses
import random
import re

COMPOSER_VERSION = 1  # bump when the same seed starts giving a different song
STEMS = ("bass", "drums", "guitar", "piano")
INST_CLASS = {"bass": "Bass", "drums": "Drums", "guitar": "Guitar", "piano": "Piano"}
MIN_TEMPO, MAX_TEMPO = 70, 180
BEATS_PER_BAR = 4
TAIL_SECONDS = 2.0  # after the last bar: the final chord's release and the reverb tail
MAX_TIMING_ERROR = 0.010  # s; humanised onsets stay within this of the grid (strums spread further)

# General MIDI names of the programs the families use (0-based programs).
PROGRAM_NAMES = {
    0: "Acoustic Grand Piano", 1: "Bright Acoustic Piano", 2: "Electric Grand Piano", 3: "Honky-tonk Piano",
    4: "Electric Piano 1", 5: "Electric Piano 2", 6: "Harpsichord", 7: "Clavinet",
    24: "Acoustic Guitar (nylon)", 25: "Acoustic Guitar (steel)", 26: "Electric Guitar (jazz)",
    27: "Electric Guitar (clean)", 28: "Electric Guitar (muted)", 29: "Overdriven Guitar",
    30: "Distortion Guitar", 31: "Guitar Harmonics",
    32: "Acoustic Bass", 33: "Electric Bass (finger)", 34: "Electric Bass (pick)", 35: "Fretless Bass",
    36: "Slap Bass 1", 37: "Slap Bass 2", 38: "Synth Bass 1", 39: "Synth Bass 2",
}
DRUM_KITS = {0: "Standard", 8: "Room", 16: "Power", 24: "Electronic", 25: "TR-808", 32: "Jazz", 40: "Brush"}
PROGRAM_FAMILIES = {"piano": range(0, 8), "guitar": range(24, 32), "bass": range(32, 40)}

NOTE_NAMES_SHARP = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
NOTE_NAMES_FLAT = ("C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B")
SCALES = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10)}

# GM percussion keys (channel 10).
KICK, SIDE_STICK, SNARE, CLAP = 36, 37, 38, 39
FLOOR_TOM, CLOSED_HAT, LOW_TOM, PEDAL_HAT, MID_TOM, OPEN_HAT, HIGH_TOM = 41, 42, 45, 44, 47, 46, 50
CRASH, RIDE, CRASH_2 = 49, 51, 57


# ----------------------------------------------------------------------------------------------
# The description the renderer consumes.


@dataclasses.dataclass(frozen=True)
class Note:
    pitch: int  # MIDI key
    start: float  # seconds
    end: float  # seconds
    velocity: int  # 1-127


@dataclasses.dataclass
class Stem:
    name: str  # one of STEMS
    program: int  # GM program (0-127); for drums the GM/GS kit number on bank 128
    is_drum: bool
    notes: list[Note]
    reverb: int  # CC91 reverb send, 0-127 (what a mixing engineer would set per instrument)
    styles: dict[str, str]  # section name -> playing style ("tacet" where it rests)

    @property
    def inst_class(self) -> str:
        return INST_CLASS[self.name]

    @property
    def program_num(self) -> int:
        """Slakh's program number: the GM program, 128 for drums."""
        return 128 if self.is_drum else self.program


@dataclasses.dataclass(frozen=True)
class Section:
    name: str
    first_bar: int
    bars: int
    start: float  # seconds
    end: float  # seconds


@dataclasses.dataclass
class Song:
    seed: int
    tempo: float  # quarter notes per minute
    tonic: int  # pitch class of the key
    key: str  # tonic name, e.g. "F#"
    mode: str  # "major" or "minor"
    time_signature: tuple[int, int]
    groove: str
    swing: float  # position of the off-beat within its pair (0.5 = straight, 2/3 = triplet shuffle)
    swing_period: float  # beats per swung pair: 1.0 swings eighths, 0.5 sixteenths
    beat_times: list[float]  # every beat of every bar, seconds
    downbeat_times: list[float]
    sections: list[Section]
    chords: list[tuple[float, str]]  # (start seconds, chord symbol) at every chord change
    stems: list[Stem]  # in STEMS order
    duration: float  # seconds of audio to render (bars plus the release tail)

    def stem(self, name: str) -> Stem:
        return next(s for s in self.stems if s.name == name)

    def metadata(self) -> dict:
        """Song-level facts as plain JSON-able values (what render.json records)."""
        return {
            "song_seed": self.seed,
            "composer_version": COMPOSER_VERSION,
            "tempo": self.tempo,
            "key": self.key,
            "mode": self.mode,
            "time_signature": f"{self.time_signature[0]}/{self.time_signature[1]}",
            "groove": self.groove,
            "swing": round(self.swing, 4),
            "swing_period": self.swing_period,
            "duration": round(self.duration, 6),
            "beat_times": [round(t, 6) for t in self.beat_times],
            "downbeat_times": [round(t, 6) for t in self.downbeat_times],
            "sections": [dataclasses.asdict(s) | {"start": round(s.start, 6), "end": round(s.end, 6)}
                         for s in self.sections],
            "chords": [[round(t, 6), name] for t, name in self.chords],
            "stems": {
                s.name: {"program": s.program, "is_drum": s.is_drum, "reverb": s.reverb, "notes": len(s.notes),
                         "styles": s.styles}
                for s in self.stems
            },
        }


# ----------------------------------------------------------------------------------------------
# Harmony: chords written as Roman numerals relative to the tonic.

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


# ----------------------------------------------------------------------------------------------
# Form: sections and their bars.

FORMS = (
    ("intro", "verse", "chorus", "verse", "chorus", "bridge", "chorus", "outro"),
    ("intro", "verse", "verse", "chorus", "break", "chorus", "outro"),
    ("intro", "chorus", "verse", "chorus", "bridge", "chorus", "chorus", "outro"),
    ("intro", "verse", "chorus", "break", "verse", "chorus", "outro"),
)
SECTION_UNITS = {"intro": 1, "verse": 2, "chorus": 2, "bridge": 2, "break": 1, "outro": 1}
SECTION_ENERGY = {"intro": 0.45, "verse": 0.65, "chorus": 0.9, "bridge": 0.6, "break": 0.4, "outro": 0.75}


def plan_form(rng: random.Random, bars: int) -> list[tuple[str, int]]:
    """(section, bars) filling exactly `bars`: an intro and outro around the form's body, repeated
    as needed. Longer songs get 4-bar units, short ones 2 or 1 so every section still fits; verses
    and choruses last one or two units, chosen per song."""
    unit = 4 if bars >= 24 else 2 if bars >= 8 else 1
    form = rng.choice(FORMS)
    units = dict(SECTION_UNITS, verse=rng.choice((1, 2, 2)), chorus=rng.choice((1, 2, 2)))
    intro, outro = unit, unit if bars >= 3 * unit + 1 else 0
    body_bars = bars - intro - outro
    body: list[tuple[str, int]] = []
    names = form[1:-1]
    i = 0
    while body_bars > 0:
        name = names[i % len(names)]
        length = min(units[name] * unit, body_bars)
        body.append((name, length))
        body_bars -= length
        i += 1
    return [("intro", intro), *body] + ([("outro", outro)] if outro else [])


# ----------------------------------------------------------------------------------------------
# Grooves: 16-step drum patterns per bar. "X" accent, "x" normal, "o" ghost, "O" open hi-hat.


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


# ----------------------------------------------------------------------------------------------
# Per-bar plan shared by all players.


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


def _nearest(pc: int, target: float, low: int, high: int) -> int:
    """The pitch of class `pc` within [low, high] closest to `target` (voice leading)."""
    candidates = [p for p in range(low, high + 1) if p % 12 == pc % 12]
    return min(candidates, key=lambda p: (abs(p - target), p))


# ----------------------------------------------------------------------------------------------
# Players. Each keeps what it needs between bars (last pitch, voicing) for smooth voice leading.


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


class Bassist:
    LOW, HIGH = 28, 52

    def __init__(self, rng: random.Random, tonic: int, scale: tuple[int, ...]):
        self.rng, self.tonic, self.scale = rng, tonic, scale
        self.last = 38.0
        self.gate = rng.uniform(0.6, 0.92)

    def _root(self, chord: Chord, low: int = 28, high: int = 43) -> int:
        pitch = _nearest(self.tonic + chord.bass, self.last, low, high)
        self.last = pitch
        return pitch

    def _approach(self, target: int) -> int:
        """A note leading into `target`: a chromatic neighbour or the scale step below."""
        if self.rng.random() < 0.5:
            return target + self.rng.choice((-1, 1))
        below = [p for p in range(target - 2, target) if (p - self.tonic) % 12 in self.scale]
        return below[-1] if below else target - 1

    def play(self, bar: Bar, style: str) -> list[BeatNote]:
        if style == "tacet":
            return []
        e = bar.energy
        if bar.final or style in ("sustain", "hits"):
            notes = []
            for start, length, chord in bar.chord_spans():
                held = 4.0 if bar.final else (length * 0.95 if style == "sustain" else 0.5)
                notes.append(BeatNote(self._root(chord), bar.beat + start, held, _vel(96, e)))
                if style == "hits":
                    break
            return notes
        play = getattr(self, f"_{style}")
        notes = play(bar, e)
        next_root = _nearest(self.tonic + bar.next_chord.bass, self.last, 28, 43)
        if style not in ("walking", "reggae") and not bar.final and self.rng.random() < 0.35:
            # replace the last eighth with an approach note into the next chord
            cut = bar.beat + 3.5
            notes = [dataclasses.replace(n, length=min(n.length, cut - n.beat)) for n in notes if n.beat < cut]
            notes.append(BeatNote(self._approach(next_root), bar.beat + 3.5, 0.45, _vel(86, e)))
        return notes

    def _roots8(self, bar: Bar, e: float) -> list[BeatNote]:
        notes = []
        for start, length, chord in bar.chord_spans():
            root = self._root(chord)
            for k in range(int(length * 2)):
                beat = start + k / 2
                pitch = root + 12 if (k % 4 == 3 and self.rng.random() < 0.3) else root
                notes.append(BeatNote(pitch, bar.beat + beat, 0.5 * self.gate, _vel(100 if k % 2 == 0 else 84, e)))
        return notes

    def _octaves(self, bar: Bar, e: float) -> list[BeatNote]:
        notes = []
        for start, length, chord in bar.chord_spans():
            root = self._root(chord, 28, 40)
            for k in range(int(length * 2)):
                notes.append(BeatNote(root + 12 * (k % 2), bar.beat + start + k / 2, 0.42, _vel(102 if k % 2 else 94, e)))
        return notes

    def _kick(self, bar: Bar, e: float) -> list[BeatNote]:
        """Lock to the kick drum: a note on every kick, lasting until the next one."""
        steps = [i for i, c in enumerate(bar.kick) if c != "."] or [0, 8]
        if 0 not in steps:
            steps = [0, *steps]
        notes = []
        for i, step in enumerate(steps):
            end = steps[i + 1] if i + 1 < len(steps) else 16
            beat = step / 4
            root = self._root(bar.chord_at(beat))
            pitch = root + 12 if (i > 0 and self.rng.random() < 0.15) else root
            velocity = _vel(104 if step % 4 == 0 else 90, e)
            notes.append(BeatNote(pitch, bar.beat + beat, (end - step) / 4 * self.gate, velocity))
        return notes

    def _funk16(self, bar: Bar, e: float) -> list[BeatNote]:
        """Kick-locked roots plus octave pops and dead notes on the 16ths in between."""
        kicks = {i for i, c in enumerate(bar.kick) if c != "."} | {0}
        notes = []
        for step in range(16):
            beat = step / 4
            root = self._root(bar.chord_at(beat))
            if step in kicks:
                notes.append(BeatNote(root, bar.beat + beat, 0.22, _vel(106, e)))
            elif step % 4 in (2, 3) and self.rng.random() < 0.3:
                notes.append(BeatNote(root + 12, bar.beat + beat, 0.15, _vel(100, e)))
            elif self.rng.random() < 0.15:
                notes.append(BeatNote(root, bar.beat + beat, 0.08, _vel(40, e)))  # dead note
        return notes

    def _root_fifth(self, bar: Bar, e: float) -> list[BeatNote]:
        notes = []
        for start, length, chord in bar.chord_spans():
            root = self._root(chord)
            fifth_pc = self.tonic + chord.root + chord.intervals()[2]
            fifth = _nearest(fifth_pc, root + 3, root - 7, root + 8)
            for k in range(int(length)):
                pitch, velocity = (root, 98) if k % 2 == 0 else (fifth, 86)
                notes.append(BeatNote(pitch, bar.beat + start + k, 0.9 * self.gate, _vel(velocity, e)))
        return notes

    def _walking(self, bar: Bar, e: float) -> list[BeatNote]:
        """Quarter notes: root, chord tones or scale steps, then a chromatic approach to the next root."""
        notes = []
        spans = bar.chord_spans()
        for i, (start, length, chord) in enumerate(spans):
            root = self._root(chord)
            nxt = spans[i + 1][2] if i + 1 < len(spans) else bar.next_chord
            target = _nearest(self.tonic + nxt.bass, root, 28, 45)
            tones = [root + iv for iv in chord.intervals()[1:]]
            line = [root]
            for k in range(1, int(length)):
                if k == int(length) - 1:
                    chromatic = target + (1 if target < line[-1] else -1)  # from the side we are on
                    line.append(chromatic if self.rng.random() < 0.7 else self._approach(target))
                else:
                    line.append(self.rng.choice(tones))
            for k, pitch in enumerate(line):
                pitch = max(self.LOW, min(self.HIGH, pitch))
                notes.append(BeatNote(pitch, bar.beat + start + k, 0.92, _vel(96 if k == 0 else 86, e)))
        return notes

    def _reggae(self, bar: Bar, e: float) -> list[BeatNote]:
        """A one-drop line: rest on the downbeat, roots and fifths around it."""
        notes = []
        root = self._root(bar.chord_at(0.0))
        fifth = root + 7
        rhythm = self.rng.choice(((0.5, 1.0, 1.5, 2.5, 3.0), (1.0, 1.5, 2.0, 3.0, 3.5), (0.5, 1.5, 2.0, 2.5)))
        for k, beat in enumerate(rhythm):
            pitch = root if k % 3 != 2 else (fifth if self.rng.random() < 0.5 else root + 12)
            notes.append(BeatNote(pitch, bar.beat + beat, 0.45, _vel(100 if beat % 1 == 0 else 90, e)))
        return notes


GUITAR_SHAPES = {  # barre-chord shapes: intervals above the root on consecutive strings
    "E": {"maj": (0, 7, 12, 16, 19, 24), "min": (0, 7, 12, 15, 19, 24), "7": (0, 7, 10, 16, 19, 24),
          "m7": (0, 7, 10, 15, 19, 24), "maj7": (0, 7, 11, 16, 19), "dim": (0, 6, 12, 15),
          "sus4": (0, 7, 12, 17, 19, 24), "sus2": (0, 7, 12, 14, 19)},
    "A": {"maj": (0, 7, 12, 16, 19), "min": (0, 7, 12, 15, 19), "7": (0, 7, 10, 16, 19), "m7": (0, 7, 10, 15, 19),
          "maj7": (0, 7, 11, 16, 19), "dim": (0, 6, 12, 15), "sus4": (0, 7, 12, 17, 19), "sus2": (0, 7, 12, 14, 19)},
}
SHAPE_ROOTS = {"E": (40, 51), "A": (45, 56)}  # E string root E2-D#3, A string root A2-G#3
STRUM_PATTERNS = ("D.DU.UDU", "D.D.D.DU", "DUDUDUDU", "D..UD.DU", "D.DUD.DU")


class Guitarist:
    def __init__(self, rng: random.Random, tonic: int):
        self.rng, self.tonic = rng, tonic
        self.center = 56.0
        self.string_delay = rng.uniform(0.006, 0.014)  # seconds between strings of a down-strum
        self.strum = rng.choice(STRUM_PATTERNS)
        self.arp = rng.choice(((0, 2, 3, 4, 5, 4, 3, 2), (0, 3, 2, 4, 1, 3, 2, 4), (0, 2, 4, 2, 3, 2, 4, 2)))

    def voicing(self, chord: Chord) -> list[int]:
        """The barre shape (E or A string root) closest to the previous one."""
        options = []
        for shape, (low, high) in SHAPE_ROOTS.items():
            root = _nearest(self.tonic + chord.root, (low + high) / 2, low, high)
            notes = [root + i for i in GUITAR_SHAPES[shape][chord.quality]]
            options.append(notes)
        best = min(options, key=lambda n: abs(sum(n) / len(n) - self.center))
        self.center = sum(best) / len(best)
        return best

    def _upper(self, chord: Chord) -> list[int]:
        """The top three strings, kept above G3 for bright chops."""
        top = self.voicing(chord)[-3:]
        while min(top) < 55:
            top = [p + 12 for p in top]
        return top

    def _strum(self, notes: list[int], beat: float, length: float, velocity: float, down: bool,
               delay: float) -> list[BeatNote]:
        """Strings one after another, `delay` seconds apart; up-strums catch only the top four."""
        order = notes if down else notes[::-1][:4]
        return [BeatNote(p, beat, length, velocity * (1 - 0.03 * k), k * delay) for k, p in enumerate(order)]

    def play(self, bar: Bar, style: str) -> list[BeatNote]:
        if style == "tacet":
            return []
        e = bar.energy
        if bar.final or style in ("whole", "hits"):
            out = []
            for start, length, chord in bar.chord_spans():
                held = 4.0 if bar.final else (length if style == "whole" else 0.5)
                out += self._strum(self.voicing(chord), bar.beat + start, held, _vel(92, e), True, self.string_delay * 1.5)
                if style == "hits":
                    break
            return out
        return getattr(self, f"_{style}")(bar, e)

    def _strum8(self, bar: Bar, e: float) -> list[BeatNote]:
        out = []
        for slot, stroke in enumerate(self.strum):
            if stroke == ".":
                continue
            beat = slot / 2
            chord = bar.chord_at(beat)
            length = next((s - slot for s in range(slot + 1, 8) if self.strum[s] != "."), 8 - slot) / 2
            velocity = _vel(96 if slot % 2 == 0 else 74, e)
            delay = self.string_delay if stroke == "D" else self.string_delay * 0.6
            out += self._strum(self.voicing(chord), bar.beat + beat, length, velocity, stroke == "D", delay)
        return out

    def _power8(self, bar: Bar, e: float) -> list[BeatNote]:
        out = []
        for k in range(8):
            chord = bar.chord_at(k / 2)
            root = _nearest(self.tonic + chord.root, 45, 40, 52)
            for s, iv in enumerate((0, 7, 12)):
                out.append(BeatNote(root + iv, bar.beat + k / 2, 0.3, _vel(100 if k % 2 == 0 else 86, e), s * 0.004))
        return out

    def _skank(self, bar: Bar, e: float) -> list[BeatNote]:
        """Short off-beat chops on the top strings (reggae, ska, disco)."""
        out = []
        for k in range(4):
            beat = k + 0.5
            for s, p in enumerate(self._upper(bar.chord_at(beat))[::-1]):
                out.append(BeatNote(p, bar.beat + beat, 0.2, _vel(92, e), s * 0.003))
        return out

    def _funk_chops(self, bar: Bar, e: float) -> list[BeatNote]:
        """16th-note stabs and muted scratches on a syncopated rhythm."""
        rhythm = "x.xx.x.xx.x.x.xx"
        out = []
        for step, c in enumerate(rhythm):
            if c == "." or self.rng.random() < 0.2:
                continue
            beat = step / 4
            accent = step % 4 == 2
            for s, p in enumerate(self._upper(bar.chord_at(beat))):
                out.append(BeatNote(p, bar.beat + beat, 0.18, _vel(98 if accent else 62, e), s * 0.003))
        return out

    def _arpeggio(self, bar: Bar, e: float) -> list[BeatNote]:
        """Picked broken chords: each note rings for half a bar."""
        out = []
        for k in range(8):
            notes = self.voicing(bar.chord_at(k / 2))
            pitch = notes[self.arp[k] % len(notes)]
            out.append(BeatNote(pitch, bar.beat + k / 2, 2.0, _vel(84 if k % 2 == 0 else 74, e)))
        return out


class Pianist:
    def __init__(self, rng: random.Random, tonic: int):
        self.rng, self.tonic = rng, tonic
        self.center = 67.0
        self.color = rng.random() < 0.4  # adds sevenths / ninths to triads
        self.rhythm = rng.choice(("x..x..x...x.x...", "x...x.x...x..x..", "x..x...xx..x....", "x.x..x..x.x..x.."))

    def voicing(self, chord: Chord) -> list[int]:
        """Right hand: close position, the inversion nearest the previous chord."""
        pcs = chord.pitch_classes(self.tonic)
        if self.color and len(pcs) == 3 and chord.quality in ("maj", "min"):
            pcs = pcs + [(self.tonic + chord.root + 2) % 12]  # add9
        options = []
        for rot in range(len(pcs)):
            order = pcs[rot:] + pcs[:rot]
            for bottom in (55, 60, 64):
                notes, p = [], bottom
                for pc in order:
                    while p % 12 != pc:
                        p += 1
                    notes.append(p)
                    p += 1
                if notes[-1] <= 82:
                    options.append(notes)
        best = min(options, key=lambda n: (abs(sum(n) / len(n) - self.center), n[0]))
        self.center = 0.7 * (sum(best) / len(best)) + 0.3 * 67
        return best

    def left(self, chord: Chord) -> list[int]:
        bass = _nearest(self.tonic + chord.bass, 43, 36, 50)
        return [bass, bass + 12] if bass < 45 else [bass]

    def play(self, bar: Bar, style: str) -> list[BeatNote]:
        if style == "tacet":
            return []
        e = bar.energy
        if bar.final or style in ("block", "hits"):
            out = []
            for start, length, chord in bar.chord_spans():
                held = 4.0 if bar.final else (length * 0.97 if style == "block" else 0.5)
                for p in self.left(chord) + self.voicing(chord):
                    out.append(BeatNote(p, bar.beat + start, held, _vel(84, e)))
                if style == "hits":
                    break
            return out
        return getattr(self, f"_{style}")(bar, e)

    def _pulse(self, bar: Bar, e: float) -> list[BeatNote]:
        """Eighth-note right-hand chords over left-hand roots on 1 and 3."""
        out = []
        for k in range(8):
            chord = bar.chord_at(k / 2)
            out += [BeatNote(p, bar.beat + k / 2, 0.45, _vel(80 if k % 2 == 0 else 66, e)) for p in self.voicing(chord)]
            if k % 4 == 0:
                out += [BeatNote(p, bar.beat + k / 2, 1.9, _vel(84, e)) for p in self.left(chord)]
        return out

    def _syncopated(self, bar: Bar, e: float) -> list[BeatNote]:
        out = []
        hits = [i for i, c in enumerate(self.rhythm) if c != "."]
        for i, step in enumerate(hits):
            end = hits[i + 1] if i + 1 < len(hits) else 16
            chord = bar.chord_at(step / 4)
            length = (end - step) / 4 * 0.9
            out += [BeatNote(p, bar.beat + step / 4, length, _vel(88 if step % 4 else 80, e)) for p in self.voicing(chord)]
        for start, length, chord in bar.chord_spans():
            out += [BeatNote(p, bar.beat + start, length * 0.95, _vel(82, e)) for p in self.left(chord)]
        return out

    def _arpeggio(self, bar: Bar, e: float) -> list[BeatNote]:
        """Sixteenths (slow tempi feel) or eighths rising and falling through both hands."""
        out = []
        for start, length, chord in bar.chord_spans():
            notes = self.left(chord)[:1] + self.voicing(chord)
            path = notes + notes[-2:0:-1]
            for k in range(int(length * 2)):
                out.append(BeatNote(path[k % len(path)], bar.beat + start + k / 2, 1.0, _vel(78 if k % 2 == 0 else 68, e)))
        return out

    def _ballad(self, bar: Bar, e: float) -> list[BeatNote]:
        """Left hand root-fifth-octave eighths, right hand chords on the half notes."""
        out = []
        for start, length, chord in bar.chord_spans():
            root = self.left(chord)[0]
            line = (root, root + 7, root + 12, root + 7)
            for k in range(int(length * 2)):
                out.append(BeatNote(line[k % 4], bar.beat + start + k / 2, 0.9, _vel(72, e)))
            for k in range(0, int(length), 2):
                out += [BeatNote(p, bar.beat + start + k, 1.9, _vel(80, e)) for p in self.voicing(chord)]
        return out

    def _stabs(self, bar: Bar, e: float) -> list[BeatNote]:
        """Short off-beat chord stabs (clavinet funk, house piano)."""
        out = []
        for step in (2, 6, 10, 14) if self.rng.random() < 0.6 else (3, 6, 10, 13):
            chord = bar.chord_at(step / 4)
            out += [BeatNote(p, bar.beat + step / 4, 0.2, _vel(92, e)) for p in self.voicing(chord)]
        return out


# ----------------------------------------------------------------------------------------------
# Arrangement: which style each stem plays in each kind of section.

INTRO_RECIPES = ("keys", "guitar", "light_band", "drums", "full")
BREAK_RECIPES = ("no_drums", "drums_bass", "stops", "keys")


def _arrange(rng: random.Random, groove: Groove) -> dict[str, dict[str, str]]:
    """Section -> stem -> style. Verse and chorus always use all four stems, so no stem is silent."""
    main = {"bass": rng.choice(groove.bass), "guitar": rng.choice(groove.guitar), "piano": rng.choice(groove.piano)}
    verse = {
        "drums": "groove",
        "bass": main["bass"] if rng.random() < 0.6 else rng.choice(groove.bass),
        "guitar": main["guitar"] if rng.random() < 0.5 else rng.choice(groove.guitar + ("arpeggio",)),
        "piano": main["piano"] if rng.random() < 0.5 else rng.choice(groove.piano + ("block",)),
    }
    chorus = {"drums": "big", **main}
    bridge = {
        "drums": "halftime" if rng.random() < 0.4 else "groove",
        "bass": rng.choice(("sustain", main["bass"], "root_fifth")),
        "guitar": rng.choice(("arpeggio", "whole", main["guitar"])),
        "piano": rng.choice(("arpeggio", "ballad", "block", main["piano"])),
    }
    intro_recipe = rng.choice(INTRO_RECIPES)
    intro = {
        "keys": {"drums": "tacet", "bass": "tacet", "guitar": "tacet", "piano": rng.choice(("block", "arpeggio"))},
        "guitar": {"drums": "tacet", "bass": "tacet", "guitar": rng.choice(("arpeggio", "whole")), "piano": "tacet"},
        "light_band": {"drums": "light", "bass": "sustain", "guitar": "whole", "piano": "block"},
        "drums": {"drums": "groove", "bass": "tacet", "guitar": "tacet", "piano": "tacet"},
        "full": dict(verse),
    }[intro_recipe]
    break_recipe = rng.choice(BREAK_RECIPES)
    brk = {
        "no_drums": {"drums": "tacet", "bass": "sustain", "guitar": rng.choice(("whole", "arpeggio")),
                     "piano": rng.choice(("block", "arpeggio"))},
        "drums_bass": {"drums": "groove", "bass": main["bass"], "guitar": "tacet", "piano": "tacet"},
        "stops": {"drums": "hits", "bass": "hits", "guitar": "hits", "piano": "hits"},
        "keys": {"drums": "tacet", "bass": "tacet", "guitar": "tacet", "piano": rng.choice(("arpeggio", "ballad", "block"))},
    }[break_recipe]
    outro = dict(chorus) if rng.random() < 0.5 else dict(verse)
    return {"intro": intro, "verse": verse, "chorus": chorus, "bridge": bridge, "break": brk, "outro": outro}


def _choose_programs(rng: random.Random, groove: Groove, arrangement: dict[str, dict[str, str]]) -> dict[str, int]:
    """One GM program per stem, leaning towards what suits the groove and the main style."""
    guitar_style = arrangement["chorus"]["guitar"]
    preferred = {
        "bass": {"funk": (36, 37, 33, 34), "four_on_the_floor": (38, 39, 33), "shuffle": (32, 33, 35),
                 "one_drop": (33, 35, 32), "halftime": (33, 35, 38)}.get(groove.name, (33, 34, 32)),
        "guitar": {"power8": (29, 30, 28), "strum8": (25, 24, 27, 29), "skank": (27, 28, 26), "funk_chops": (27, 28),
                   "arpeggio": (24, 25, 26, 27)}.get(guitar_style, (27,)),
        "piano": {"stabs": (7, 4, 5, 0), "syncopated": (0, 4, 1, 2)}.get(arrangement["chorus"]["piano"], (0, 1, 4, 5, 2)),
    }
    programs = {}
    for name, family in PROGRAM_FAMILIES.items():
        others = [p for p in family if p != 31]  # guitar harmonics only by preference, never by chance
        programs[name] = rng.choice(preferred[name]) if rng.random() < 0.75 else rng.choice(others)
    kit = rng.choice(groove.kits)
    programs["drums"] = kit
    return programs


# ----------------------------------------------------------------------------------------------
# Time: beats to seconds with swing and humanisation.


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


# ----------------------------------------------------------------------------------------------
# The song.


def compose_song(seed: int, seconds: float = 60.0) -> Song:
    """A complete song of about `seconds` (whole bars plus a short release tail)."""
    if not seconds > 0:
        raise ValueError(f"song length must be positive, not {seconds}")
    rng = random.Random(seed)
    groove = rng.choices(GROOVES, weights=[g.weight for g in GROOVES])[0]
    tempo = float(rng.randint(max(MIN_TEMPO, groove.tempo[0]), min(MAX_TEMPO, groove.tempo[1])))
    swing = rng.uniform(*groove.swing)
    timing = Timing(tempo, swing, groove.swing_period)
    tonic = rng.randrange(12)
    mode = "minor" if rng.random() < 0.45 else "major"
    flats = tonic in ((1, 3, 5, 8, 10) if mode == "major" else (0, 2, 3, 5, 7, 10))
    key = (NOTE_NAMES_FLAT if flats else NOTE_NAMES_SHARP)[tonic]

    bar_seconds = BEATS_PER_BAR * 60.0 / tempo
    n_bars = max(4, round((seconds - TAIL_SECONDS / 2) / bar_seconds))
    if n_bars >= 8:  # whole 2- or 4-bar units, so sections end on phrase boundaries
        unit = 4 if n_bars >= 24 else 2
        n_bars = unit * round(n_bars / unit)
    form = plan_form(rng, n_bars)
    progressions = _section_progressions(rng, mode, tempo, {name for name, _ in form})
    arrangement = _arrange(rng, groove)
    programs = _choose_programs(rng, groove, arrangement)

    bars = _plan_bars(rng, form, progressions, mode)
    drummer = Drummer(rng, groove)
    patterns = [drummer.pattern(arrangement[b.section]["drums"]) for b in bars]
    bars = [dataclasses.replace(b, kick=patterns[i].get(KICK, "")) for i, b in enumerate(bars)]
    scale = SCALES[mode]
    players = {"bass": Bassist(rng, tonic, scale), "guitar": Guitarist(rng, tonic), "piano": Pianist(rng, tonic)}

    grid: dict[str, list[BeatNote]] = {name: [] for name in STEMS}
    for i, bar in enumerate(bars):
        grid["drums"] += drummer.play(bar, patterns[i])
        for name, player in players.items():
            grid[name] += player.play(bar, arrangement[bar.section][name])

    end_limit = n_bars * bar_seconds + TAIL_SECONDS * 0.6
    humanise = {"drums": (0.003, 5.0), "bass": (0.005, 6.0), "guitar": (0.006, 7.0), "piano": (0.005, 6.0)}
    reverb = {"drums": (15, 45), "bass": (0, 20), "guitar": (30, 75), "piano": (25, 70)}
    stems = []
    for name in STEMS:
        notes = _humanise(grid[name], timing, rng, *humanise[name], end_limit=end_limit)
        styles = {section: arrangement[section][name] for section, _ in form}
        stems.append(Stem(name, programs[name], name == "drums", notes, rng.randint(*reverb[name]), styles))

    beat_times = [round(timing.seconds(b), 9) for b in range(n_bars * BEATS_PER_BAR)]
    sections, first = [], 0
    for name, length in form:
        sections.append(Section(name, first, length, first * bar_seconds, (first + length) * bar_seconds))
        first += length
    chords = []
    for bar in bars:
        for start, chord in bar.chords:
            label = chord.name(tonic, flats)
            if not chords or chords[-1][1] != label:
                chords.append((timing.seconds(bar.beat + start), label))
    return Song(
        seed=seed, tempo=tempo, tonic=tonic, key=key, mode=mode, time_signature=(BEATS_PER_BAR, 4),
        groove=groove.name, swing=swing, swing_period=groove.swing_period, beat_times=beat_times,
        downbeat_times=beat_times[::BEATS_PER_BAR],
        sections=sections, chords=chords, stems=stems, duration=n_bars * bar_seconds + TAIL_SECONDS,
    )


def _section_progressions(rng: random.Random, mode: str, tempo: float,
                          names: set[str]) -> dict[str, list[tuple[Chord, float]]]:
    """A progression per kind of section: verse and chorus from one family, a contrasting bridge."""
    families = PROGRESSIONS[mode]
    family = rng.choice(sorted(families))
    verse = _parse_progression(rng.choice(families[family]))
    chorus_family = family if rng.random() < 0.6 else rng.choice(sorted(families))
    chorus = _parse_progression(rng.choice(families[chorus_family]))
    if tempo < 110 and rng.random() < 0.3:
        chorus = _double_time(chorus)
    bridge = _parse_progression(rng.choice(BRIDGE_PROGRESSIONS[mode]))
    out = {"verse": verse, "chorus": chorus, "bridge": bridge, "intro": chorus if rng.random() < 0.5 else verse,
           "break": verse if rng.random() < 0.5 else bridge, "outro": chorus}
    return {name: out[name] for name in names}


def _plan_bars(rng: random.Random, form: list[tuple[str, int]], progressions: dict, mode: str) -> list[Bar]:
    """Lay each section's progression over its bars, with a dominant turnaround before choruses and
    the tonic on the final bar."""
    tonic_chord = parse_chord("I" if mode == "major" else "i")
    dominant = parse_chord("V7" if rng.random() < 0.5 else "V")
    bar_chords: list[list[tuple[float, Chord]]] = []
    meta: list[tuple[str, bool, bool]] = []
    for s, (name, length) in enumerate(form):
        progression = progressions[name]
        cycle = sum(beats for _, beats in progression)
        for b in range(length):
            window = (b * BEATS_PER_BAR) % cycle  # where this bar starts within the repeating cycle
            chords, position = [], 0.0
            for chord, beats in progression * 2:
                if position + beats > window + 1e-9 and position < window + BEATS_PER_BAR - 1e-9:
                    chords.append((max(position - window, 0.0), chord))
                position += beats
            next_name = form[s + 1][0] if s + 1 < len(form) else None
            if b == length - 1 and next_name == "chorus" and name != "chorus" and rng.random() < 0.5:
                chords = [(0.0, chords[0][1]), (2.0, dominant)] if length > 1 and rng.random() < 0.5 else [(0.0, dominant)]
            bar_chords.append(chords)
            meta.append((name, b == 0, b == length - 1))
    bar_chords[-1] = [(0.0, tonic_chord)]
    bars = []
    for i, chords in enumerate(bar_chords):
        name, first, last = meta[i]
        next_chord = bar_chords[i + 1][0][1] if i + 1 < len(bar_chords) else tonic_chord
        bars.append(Bar(i, float(i * BEATS_PER_BAR), name, SECTION_ENERGY[name], tuple(chords), next_chord,
                        first, last, i == len(bar_chords) - 1, ""))
    return bars
