"""The song: the description the renderer consumes (`Song`, `Stem`, `Section`) and `compose_song`,
which plans a song top-down from one seed and has every player play it."""

from __future__ import annotations

import dataclasses
import random

from jaxaccomp.constants import STEMS
from jaxaccomp.data.compose.arrangement import _arrange, _choose_programs
from jaxaccomp.data.compose.bars import BeatNote
from jaxaccomp.data.compose.drums import GROOVES, KICK, Drummer
from jaxaccomp.data.compose.form import _plan_bars, _section_progressions, plan_form
from jaxaccomp.data.compose.players import Bassist, Guitarist, Pianist
from jaxaccomp.data.compose.theory import BEATS_PER_BAR, NOTE_NAMES_FLAT, NOTE_NAMES_SHARP, SCALES
from jaxaccomp.data.compose.timing import Note, Timing, _humanise

COMPOSER_VERSION = 1  # bump when the same seed starts giving a different song
INST_CLASS = {"bass": "Bass", "drums": "Drums", "guitar": "Guitar", "piano": "Piano"}
MIN_TEMPO, MAX_TEMPO = 70, 180
TAIL_SECONDS = 2.0  # after the last bar: the final chord's release and the reverb tail


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
