"""A rendered song played again with a tempo change: the band speeding up or slowing down.

Live players do not keep a metronome's tempo: a band pushes a chorus or pulls back at an ending,
and the accompaniment has to follow. A rendered track (`jaxaccomp.data.render`) records the seed its
song was composed from, so the same notes can be composed again, moved in time and rendered with the
same presets and gains: every note after the change is where a band at the new tempo would play
it, with no time-stretching artefacts (an audio stretch smears drum hits, which would blur the very
timing being measured).

`TempoChange` maps a note's time in the song as written ("score time") to when the band plays it:
unchanged until `at_s`, then the tempo moves linearly over `ramp_s` seconds to `factor` times the
written one (1.1: 10 % faster) and stays there. A note's start and end are both mapped, so notes
shorten as the band speeds up, as they would under a MIDI tempo change.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np

from jaxaccomp.constants import STEMS
from jaxaccomp.data.compose import COMPOSER_VERSION, compose_song
from jaxaccomp.data.render import FORMAT, Synthesizer, song_seed


@dataclasses.dataclass(frozen=True)
class TempoChange:
    at_s: float  # played time at which the tempo starts to move
    factor: float  # the new tempo over the written one (> 1: faster)
    ramp_s: float = 0.0  # played seconds over which it moves linearly (0: at once)

    def __post_init__(self):
        if not (self.at_s >= 0 and self.factor > 0 and self.ramp_s >= 0):
            raise ValueError(f"a tempo change needs at_s >= 0, factor > 0 and ramp_s >= 0, not {self}")

    @property
    def ramp_end_score_s(self) -> float:
        """Score time reached when the ramp ends (the mean tempo over a linear ramp is its midpoint)."""
        return self.at_s + self.ramp_s * (1.0 + self.factor) / 2.0

    def played(self, score_s: float) -> float:
        """When the band plays the moment written at `score_s`."""
        if score_s <= self.at_s:
            return score_s
        if score_s >= self.ramp_end_score_s:
            return self.at_s + self.ramp_s + (score_s - self.ramp_end_score_s) / self.factor
        # within the ramp: score = at + x + (factor - 1) x^2 / (2 ramp), solved for the played x >= 0
        curvature = (self.factor - 1.0) / (2.0 * self.ramp_s)
        excess = score_s - self.at_s
        if abs(curvature) < 1e-12:
            return score_s
        return self.at_s + (math.sqrt(1.0 + 4.0 * curvature * excess) - 1.0) / (2.0 * curvature)

    def score(self, played_s: float) -> float:
        """The score time the band is at when `played_s` seconds have been played (inverse of `played`)."""
        if played_s <= self.at_s:
            return played_s
        x = min(played_s - self.at_s, self.ramp_s)
        within = x + (self.factor - 1.0) * x * x / (2.0 * self.ramp_s) if self.ramp_s > 0 else 0.0
        return self.at_s + within + self.factor * max(0.0, played_s - self.at_s - self.ramp_s)


def recorded_song(track_dir: Path) -> dict:
    """The track's render.json, refused unless it is a render this composer can play again."""
    marker = Path(track_dir) / "render.json"
    if not marker.is_file():
        raise ValueError(f"{track_dir} has no render.json: only songs rendered by jaxaccomp.data.render can be "
                         "played at another tempo")
    info = json.loads(marker.read_text())
    if info.get("format") != FORMAT or info.get("composer_version") != COMPOSER_VERSION:
        raise ValueError(f"{marker} is format {info.get('format')!r}, composer version {info.get('composer_version')!r}; "
                         f"this code composes {FORMAT!r} version {COMPOSER_VERSION}: render the songs again")
    return info


def retimed_stems(synth: Synthesizer, track_dir: Path, change: TempoChange, samples: int) -> np.ndarray:
    """[4, samples] float32 stems (STEMS order) of the track played with `change`, at the track's levels.

    With a change that moves nothing, this is the track's own stems up to their 16-bit rounding.
    """
    info = recorded_song(track_dir)
    song = compose_song(song_seed(info["seed"], info["split"], info["index"]), info["seconds"])
    files = sorted(info["stem_files"].values(), key=lambda f: STEMS.index(f["stem"]))
    out = np.zeros((len(STEMS), samples), np.float32)
    for stem, recorded in zip(song.stems, files):
        moved = dataclasses.replace(stem, notes=[dataclasses.replace(n, start=round(change.played(n.start), 6),
                                                                     end=round(change.played(n.end), 6))
                                                 for n in stem.notes])
        if synth.preset(moved)[:2] != (recorded["bank"], recorded["program"]):
            raise ValueError(f"{track_dir}: the soundfont gives {stem.name} another preset than the render did; "
                             f"use its soundfont ({info['soundfont']})")
        scale = recorded["gain"] * info["overall_gain"] * 32767.0 / 32768.0  # as the 16-bit files read back
        out[STEMS.index(stem.name)] = synth.render(moved, samples) * np.float32(scale)
    return out

