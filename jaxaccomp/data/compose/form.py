"""Form: sections and their bars.

The song's form (which sections, how many bars each), the progression each kind of section uses,
and the per-bar plan (`Bar`) laid over the form: chords, energy and section boundaries.
"""

from __future__ import annotations

import random

from jaxaccomp.data.compose.bars import Bar
from jaxaccomp.data.compose.theory import (
    BEATS_PER_BAR, BRIDGE_PROGRESSIONS, PROGRESSIONS, Chord, _double_time, _parse_progression, parse_chord,
)

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
