"""Players: how the bass, guitar and piano turn each bar into notes in a given style.

Each keeps what it needs between bars (last pitch, voicing) for smooth voice leading. The drummer
lives in `drums.py`.
"""

from __future__ import annotations

import dataclasses
import random

from jaxaccomp.data.compose.bars import Bar, BeatNote, _vel
from jaxaccomp.data.compose.theory import Chord, _nearest


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
