"""Procedural 4-stem songs (bass, drums, guitar, piano), deterministic from a seed.

A song is planned top-down the way a band arranges one: tempo, key and mode; a form of sections
(intro, verse, chorus, bridge or break, outro); a chord progression per section; a drum groove
whose kick pattern the bass locks to; then each player turns every bar into notes in the style its
section asks for. Positions are in beats until the very end, where swing, tempo and humanised
timing (a few ms per onset, clipped to +-10 ms) and velocity turn them into seconds. The result is
a plain description (`Song`) that the renderer synthesises and writes as a Slakh2100-style track;
beat, downbeat, chord and section times are exact ground truth (the unhumanised grid).

Everything random comes from one `random.Random(seed)`, so a seed always gives the same song.

Where each part lives (each module imports only those above it in this list):

- `theory`: the bar length, note names, scales, chords (`Chord`, `parse_chord`) and progressions.
- `bars`: the per-bar plan every player reads (`Bar`) and the notes they play on the beat grid.
- `form`: sections and their bars (`plan_form`), each section's progression, the bar plan.
- `drums`: GM percussion keys, grooves, fills and the `Drummer`.
- `players`: the `Bassist`, `Guitarist` and `Pianist` and their styles.
- `arrangement`: which style each stem plays per section; GM programs and kits.
- `timing`: beats to seconds (`Timing`), swing, humanisation, and `Note` (a note in seconds).
- `song`: `Song`, `Stem`, `Section`, `COMPOSER_VERSION` and `compose_song`.
"""

from jaxaccomp.constants import STEMS
from jaxaccomp.data.compose.arrangement import DRUM_KITS, PROGRAM_FAMILIES, PROGRAM_NAMES
from jaxaccomp.data.compose.form import plan_form
from jaxaccomp.data.compose.song import COMPOSER_VERSION, Section, Song, Stem, compose_song
from jaxaccomp.data.compose.theory import Chord, parse_chord
from jaxaccomp.data.compose.timing import MAX_TIMING_ERROR, Note, Timing

__all__ = [
    "COMPOSER_VERSION", "DRUM_KITS", "MAX_TIMING_ERROR", "PROGRAM_FAMILIES", "PROGRAM_NAMES", "STEMS",
    "Chord", "Note", "Section", "Song", "Stem", "Timing", "compose_song", "parse_chord", "plan_form",
]
