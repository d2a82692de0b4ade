"""Arrangement: which style each stem plays in each kind of section, and which GM program plays it."""

from __future__ import annotations

import random

from jaxaccomp.data.compose.drums import Groove

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
