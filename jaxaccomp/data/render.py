"""Render procedural songs into a Slakh2100-style dataset: 44.1 kHz mono 16-bit FLAC stems.

    python -m jaxaccomp.data.render --out data/synth --songs 100 --workers 2

Each track is written as Slakh2100 (redux) lays it out, so the same reader serves both:

    <out>/<split>/TrackNNNNN/
        stems/S00.flac ... S03.flac   bass, drums, guitar, piano (44.1 kHz mono, 16-bit)
        mix.flac                      the exact sum of the four stems' 16-bit samples
        MIDI/S00.mid ... S03.mid      the notes each stem was rendered from (one file per stem)
        all_src.mid                   all four stems in one MIDI file
        metadata.yaml                 Slakh's fields: UUID, audio_dir, midi_dir, stems: {S00: ...}
        render.json                   tempo, key, mode, beat/downbeat times, sections, chords, seeds

Synthesis is FluidSynth (through pyfluidsynth) with a General MIDI soundfont. Every worker
process loads the soundfont once and renders each stem on a fresh, lightweight synthesizer that
borrows it: a reused synthesizer keeps per-voice state (gain ramps, reverb modulation) from the
previous song, so the same song would not come out bit-identical on another worker or after
another song. A track is rendered into a hidden `.TrackNNNNN.partial-*` folder and renamed when
complete, so a finished track folder is always whole and an interrupted run resumes where it
stopped. Levels: each stem is scaled to the same active RMS, then one gain brings the loudest of
the mix and the stems to -1 dBFS peak (recorded as `overall_gain`).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import ctypes
import hashlib
import json
import logging
import math
import multiprocessing
import os
import shutil
import struct
import uuid
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import soundfile as sf
import yaml

from jaxaccomp.constants import SAMPLE_RATE
from jaxaccomp.data.compose import COMPOSER_VERSION, DRUM_KITS, PROGRAM_FAMILIES, PROGRAM_NAMES, Song, Stem, compose_song

log = logging.getLogger("jaxaccomp.data")

DEFAULT_SOUNDFONT = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
SPLITS = ("train", "validation", "test")
# Track numbers are unique across splits, as in Slakh2100: train 1..80000, validation 80001..90000,
# test 90001..99999.
SPLIT_TRACKS = {"train": (1, 80000), "validation": (80001, 90000), "test": (90001, 99999)}
FORMAT = "jaxaccomp-render/1"
STEM_RMS_DBFS = -20.0  # every stem's active RMS before the overall gain
TARGET_PEAK_DBFS = -1.0
MIN_SECONDS, MAX_SECONDS = 4.0, 1800.0
TICKS_PER_BEAT = 480


# ----------------------------------------------------------------------------------------------
# FluidSynth


def _fluidsynth():
    """pyfluidsynth, or a one-line error naming what to install."""
    try:
        import fluidsynth
    except (ImportError, OSError) as exc:  # the module is missing, or libfluidsynth is
        raise FileNotFoundError(
            f"FluidSynth is not available ({exc}); install it with `apt-get install fluidsynth` "
            "and `pip install pyfluidsynth==1.4.0`") from None
    return fluidsynth


def check_soundfont(path: str | Path) -> Path:
    """The soundfont's path if it exists and looks like one (RIFF sfbk: .sf2 and .sf3)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"soundfont {path} not found; install the Debian package fluid-soundfont-gm "
            "(apt-get install fluid-soundfont-gm) or pass --soundfont")
    with path.open("rb") as f:
        head = f.read(12)
    if head[:4] != b"RIFF" or head[8:12] != b"sfbk":
        raise ValueError(f"{path} is not a SoundFont (.sf2/.sf3) file")
    return path


class Synthesizer:
    """One loaded soundfont; `render` synthesises a stem on a fresh synth that borrows it."""

    SETTINGS = {
        "synth.sample-rate": float(SAMPLE_RATE), "synth.gain": 0.5, "synth.polyphony": 256,
        "synth.midi-channels": 16, "synth.cpu-cores": 1, "synth.reverb.active": 1, "synth.chorus.active": 1,
        "synth.lock-memory": 0, "synth.threadsafe-api": 0,
    }

    def __init__(self, soundfont: str | Path):
        fs = _fluidsynth()
        self.path = check_soundfont(soundfont)
        self._fs = fs
        self._lib = ctypes.CDLL(fs.lib)
        self._declare(self._lib)
        for level in (2, 3, 4):  # FLUID_WARN, INFO, DBG: quiet ("no preset on channel" on empty synths)
            self._lib.fluid_set_log_function(level, None, None)
        self._loader = fs.Synth(**self.SETTINGS)
        sfid = self._loader.sfload(str(self.path))
        if sfid < 0:
            raise ValueError(f"FluidSynth could not load the soundfont {self.path}")
        self._sfid = sfid
        self._sfont = self._lib.fluid_synth_get_sfont_by_id(self._loader.synth, sfid)

    @staticmethod
    def _declare(lib: ctypes.CDLL) -> None:
        """Prototypes of the calls pyfluidsynth does not wrap."""
        p, i = ctypes.c_void_p, ctypes.c_int
        lib.fluid_synth_write_float.argtypes = [p, i, p, i, i, p, i, i]
        lib.fluid_synth_write_float.restype = i
        lib.fluid_synth_get_sfont_by_id.argtypes = [p, i]
        lib.fluid_synth_get_sfont_by_id.restype = p
        lib.fluid_synth_add_sfont.argtypes = [p, p]
        lib.fluid_synth_add_sfont.restype = i
        lib.fluid_synth_remove_sfont.argtypes = [p, p]
        lib.fluid_synth_remove_sfont.restype = i
        lib.fluid_set_log_function.argtypes = [i, p, p]
        lib.fluid_set_log_function.restype = p

    def preset(self, stem: Stem) -> tuple[int, int, str]:
        """(bank, program, preset name) to play `stem` with: its own program, or the nearest the font has."""
        bank = 128 if stem.is_drum else 0
        candidates = [stem.program, *DRUM_KITS] if stem.is_drum else [stem.program, *PROGRAM_FAMILIES[stem.name], 0]
        for program in candidates:
            name = self._loader.sfpreset_name(self._sfid, bank, program)
            if name:
                return bank, program, name
        raise ValueError(f"{self.path} has no preset for {stem.name} (bank {bank}, program {stem.program})")

    def render(self, stem: Stem, samples: int) -> np.ndarray:
        """The stem as mono float32 at 44.1 kHz, `samples` long."""
        bank, program, _ = self.preset(stem)
        channel = 9 if stem.is_drum else 0
        synth = self._fs.Synth(**self.SETTINGS)
        left = np.zeros(samples, np.float32)
        right = np.zeros(samples, np.float32)
        try:
            sfid = self._lib.fluid_synth_add_sfont(synth.synth, self._sfont)
            synth.program_select(channel, sfid, bank, program)
            for control, value in _controls(stem):
                synth.cc(channel, control, value)
            position = 0
            for sample, is_on, pitch, velocity in _events(stem, samples):
                if sample > position:
                    self._write(synth, left, right, position, sample)
                    position = sample
                if is_on:
                    synth.noteon(channel, pitch, velocity)
                else:
                    synth.noteoff(channel, pitch)
            if position < samples:
                self._write(synth, left, right, position, samples)
        finally:
            synth.system_reset()
            self._lib.fluid_synth_remove_sfont(synth.synth, self._sfont)
            synth.delete()
        return (0.5 * (left + right)).astype(np.float32)

    def _write(self, synth, left: np.ndarray, right: np.ndarray, start: int, stop: int) -> None:
        self._lib.fluid_synth_write_float(synth.synth, stop - start, left.ctypes.data + 4 * start, 0, 1,
                                          right.ctypes.data + 4 * start, 0, 1)


def _controls(stem: Stem) -> list[tuple[int, int]]:
    """Channel volume, pan centre, reverb send, no chorus send: the same in the MIDI files."""
    return [(7, 100), (10, 64), (91, stem.reverb), (93, 0)]


def _events(stem: Stem, samples: int) -> list[tuple[int, bool, int, int]]:
    """(sample, is note-on, key, velocity), note-offs before note-ons at the same sample."""
    events = []
    for n in stem.notes:
        on = min(round(n.start * SAMPLE_RATE), samples)
        off = min(max(round(n.end * SAMPLE_RATE), on + 1), samples)
        events.append((on, True, n.pitch, n.velocity))
        events.append((off, False, n.pitch, 0))
    return sorted(events, key=lambda e: (e[0], e[1], e[2]))


# ----------------------------------------------------------------------------------------------
# Levels


def active_rms(audio: np.ndarray, block: int = 4410) -> float:
    """RMS over the 100 ms blocks within 40 dB of the loudest: rests do not lower a stem's level."""
    n = len(audio) // block
    if n == 0:
        return float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) if len(audio) else 0.0
    power = np.mean(np.square(audio[: n * block].reshape(n, block), dtype=np.float64), axis=1)
    active = power > max(power.max() * 1e-4, 1e-12)
    return float(np.sqrt(power[active].mean())) if active.any() else 0.0


def level(stems: list[np.ndarray]) -> tuple[list[np.ndarray], list[float], float]:
    """int16 stems at equal active RMS, then one gain so the loudest of mix and stems peaks at -1 dBFS.

    Returns (int16 stems, per-stem gains, overall gain). The mix is the sum of the int16 stems, so
    mix = sum of stems holds exactly in the files.
    """
    target = 10 ** (STEM_RMS_DBFS / 20)
    gains = [target / rms if rms > 0 else 1.0 for rms in (active_rms(s) for s in stems)]
    scaled = [s.astype(np.float64) * g for s, g in zip(stems, gains)]
    peak = max(float(np.abs(sum(scaled)).max()), *(float(np.abs(s).max()) for s in scaled))
    if peak <= 0:
        raise ValueError("the song rendered to silence")
    overall = 10 ** (TARGET_PEAK_DBFS / 20) / peak
    ints = [np.round(s * overall * 32767).astype(np.int16) for s in scaled]
    return ints, gains, overall


# ----------------------------------------------------------------------------------------------
# MIDI files (Standard MIDI File type 1), written directly: a handful of event kinds is all we need.


def _vlq(value: int) -> bytes:
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def _chunk(events: list[tuple[int, int, bytes]]) -> bytes:
    """An MTrk chunk from (tick, order, raw event) with delta times; order breaks ties."""
    data, now = bytearray(), 0
    for tick, _, raw in sorted(events, key=lambda e: (e[0], e[1])):
        data += _vlq(tick - now) + raw
        now = tick
    data += b"\x00\xff\x2f\x00"  # end of track
    return b"MTrk" + struct.pack(">I", len(data)) + bytes(data)


def _meta(kind: int, payload: bytes) -> bytes:
    return bytes([0xFF, kind]) + _vlq(len(payload)) + payload


MAJOR_KEY_SHARPS = {0: 0, 7: 1, 2: 2, 9: 3, 4: 4, 11: 5, 6: 6, 1: -5, 8: -4, 3: -3, 10: -2, 5: -1}


def midi_file(song: Song, stems: Sequence[Stem], programs: Sequence[int]) -> bytes:
    """Tempo map (tempo, 4/4, key) plus one track per stem, with the renderer's programs and controls."""
    ticks = song.tempo / 60.0 * TICKS_PER_BEAT  # per second
    relative_major = (song.tonic + (3 if song.mode == "minor" else 0)) % 12
    conductor = [
        (0, 0, _meta(0x51, round(60e6 / song.tempo).to_bytes(3, "big"))),
        (0, 1, _meta(0x58, bytes([song.time_signature[0], int(math.log2(song.time_signature[1])), 24, 8]))),
        (0, 2, _meta(0x59, struct.pack(">bB", MAJOR_KEY_SHARPS[relative_major], song.mode == "minor"))),
    ]
    chunks = [_chunk(conductor)]
    for stem, program in zip(stems, programs):
        channel = 9 if stem.is_drum else 0
        events = [(0, 0, _meta(0x03, stem.inst_class.encode())), (0, 1, bytes([0xC0 | channel, program]))]
        events += [(0, 2, bytes([0xB0 | channel, c, v])) for c, v in _controls(stem)]
        for n in stem.notes:
            on = round(n.start * ticks)
            off = max(round(n.end * ticks), on + 1)
            events.append((on, 4, bytes([0x90 | channel, n.pitch, n.velocity])))
            events.append((off, 3, bytes([0x80 | channel, n.pitch, 0])))
        chunks.append(_chunk(events))
    header = b"MThd" + struct.pack(">IHHH", 6, 1, len(chunks), TICKS_PER_BEAT)
    return header + b"".join(chunks)


# ----------------------------------------------------------------------------------------------
# Tracks


def track_name(split: str, index: int) -> str:
    first, last = SPLIT_TRACKS[split]
    number = first + index
    if number > last:
        raise ValueError(f"at most {last - first + 1} {split} tracks can be numbered; index {index} is beyond")
    return f"Track{number:05d}"


def song_seed(seed: int, split: str, index: int) -> int:
    """The composer's seed for one track: differs across indices and splits, fixed for a dataset seed."""
    digest = hashlib.sha256(f"jaxaccomp-render:{seed}:{split}:{index}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


def _settings(seed: int, split: str, index: int, seconds: float, soundfont: Path) -> dict:
    """What must match for a finished track to count as this dataset's."""
    return {"format": FORMAT, "composer_version": COMPOSER_VERSION, "seed": seed, "split": split, "index": index,
            "seconds": seconds, "soundfont": str(soundfont.resolve())}


def _finished(folder: Path, settings: dict) -> bool:
    """True if `folder` is a finished track of these settings; an error if it holds something else."""
    marker = folder / "render.json"
    if not folder.exists():
        return False
    if not marker.is_file():
        raise ValueError(f"{folder} exists but is not a finished render (no render.json); move it away or use another --out")
    recorded = json.loads(marker.read_text())
    different = {k: (recorded.get(k), v) for k, v in settings.items() if recorded.get(k) != v}
    if different:
        what = ", ".join(f"{k} {old!r} (now {new!r})" for k, (old, new) in different.items())
        raise ValueError(f"{folder} was rendered with other settings: {what}; use another --out")
    return True


def render_track(synth: Synthesizer, split_dir: Path, index: int, seed: int, seconds: float) -> float:
    """Compose, render and write one track; returns its duration in seconds."""
    split = split_dir.name
    name = track_name(split, index)
    settings = _settings(seed, split, index, seconds, synth.path)
    song = compose_song(song_seed(seed, split, index), seconds)
    samples = math.ceil(song.duration * SAMPLE_RATE)
    presets = [synth.preset(stem) for stem in song.stems]
    ints, gains, overall = level([synth.render(stem, samples) for stem in song.stems])

    for stale in split_dir.glob(f".{name}.partial-*"):
        shutil.rmtree(stale, ignore_errors=True)
    tmp = split_dir / f".{name}.partial-{os.getpid()}"
    (tmp / "stems").mkdir(parents=True)
    (tmp / "MIDI").mkdir()
    keys = [f"S{k:02d}" for k in range(len(song.stems))]
    programs = [program for _, program, _ in presets]
    for key, audio in zip(keys, ints):
        sf.write(tmp / "stems" / f"{key}.flac", audio, SAMPLE_RATE, subtype="PCM_16", format="FLAC")
    mix = np.sum([a.astype(np.int32) for a in ints], axis=0)
    sf.write(tmp / "mix.flac", np.clip(mix, -32768, 32767).astype(np.int16), SAMPLE_RATE, subtype="PCM_16", format="FLAC")
    for key, stem, program in zip(keys, song.stems, programs):
        (tmp / "MIDI" / f"{key}.mid").write_bytes(midi_file(song, [stem], [program]))
    (tmp / "all_src.mid").write_bytes(midi_file(song, song.stems, programs))

    plugin = synth.path.name
    metadata = {
        "UUID": uuid.UUID(bytes=hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).digest()[:16], version=4).hex,
        "audio_dir": "stems",
        "midi_dir": "MIDI",
        "normalized": True,
        "overall_gain": round(overall, 6),
        "target_peak": TARGET_PEAK_DBFS,
        "stems": {
            key: {
                "audio_rendered": True,
                "inst_class": stem.inst_class,
                "is_drum": stem.is_drum,
                "midi_program_name": "Drums" if stem.is_drum else PROGRAM_NAMES.get(program, f"Program {program}"),
                "midi_saved": True,
                "plugin_name": plugin,
                "program_num": 128 if stem.is_drum else program,
            }
            for key, stem, program in zip(keys, song.stems, programs)
        },
    }
    (tmp / "metadata.yaml").write_text(yaml.safe_dump(metadata, sort_keys=False))
    render_info = {
        **settings,
        "track": name,
        "soundfont_name": plugin,
        "sample_rate": SAMPLE_RATE,
        "samples": samples,
        "stem_rms_dbfs": STEM_RMS_DBFS,
        "target_peak_dbfs": TARGET_PEAK_DBFS,
        "overall_gain": overall,
        "stem_files": {key: {"stem": stem.name, "gain": gain, "bank": bank, "program": program, "preset": preset}
                       for key, stem, gain, (bank, program, preset) in zip(keys, song.stems, gains, presets)},
        **song.metadata(),
    }
    (tmp / "render.json").write_text(json.dumps(render_info, indent=1) + "\n")
    os.rename(tmp, split_dir / name)  # the finished track appears whole
    return samples / SAMPLE_RATE


# ----------------------------------------------------------------------------------------------
# Datasets: one synthesizer per worker process.

_SYNTHS: dict[str, Synthesizer] = {}


def _synthesizer(soundfont: str) -> Synthesizer:
    if soundfont not in _SYNTHS:
        _SYNTHS[soundfont] = Synthesizer(soundfont)
    return _SYNTHS[soundfont]


def _worker(task: tuple[str, str, int, int, float]) -> tuple[int, float]:
    soundfont, split_dir, index, seed, seconds = task
    return index, render_track(_synthesizer(soundfont), Path(split_dir), index, seed, seconds)


def render_dataset(out: str | Path, songs: int, split: str = "train", seed: int = 0, workers: int = 1,
                   soundfont: str | Path = DEFAULT_SOUNDFONT, seconds: float = 60.0, *,
                   progress: bool = False) -> list[Path]:
    """Render tracks 0..songs-1 of `split` into `out` (skipping finished ones); their folders in order."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    if not isinstance(songs, int) or songs < 1:
        raise ValueError(f"the number of songs must be a positive integer, not {songs!r}")
    if not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer, not {workers!r}")
    if not MIN_SECONDS <= seconds <= MAX_SECONDS:
        raise ValueError(f"song length must be between {MIN_SECONDS:g} and {MAX_SECONDS:g} seconds, not {seconds:g}")
    soundfont = check_soundfont(soundfont).resolve()
    _fluidsynth()
    track_name(split, songs - 1)  # the numbering has room for them all
    split_dir = Path(out) / split
    split_dir.mkdir(parents=True, exist_ok=True)
    folders = [split_dir / track_name(split, i) for i in range(songs)]
    pending = [i for i, folder in enumerate(folders)
               if not _finished(folder, _settings(seed, split, i, seconds, soundfont))]
    tasks = [(str(soundfont), str(split_dir), i, seed, float(seconds)) for i in pending]
    from tqdm import tqdm

    bar = tqdm(total=songs, initial=songs - len(pending), unit="song", desc=f"rendering {split}",
               disable=not progress, dynamic_ncols=True)
    audio = 0.0
    with bar:
        if workers == 1 or len(tasks) <= 1:
            for task in tasks:
                audio += _worker(task)[1]
                bar.update()
        else:
            context = multiprocessing.get_context("spawn")  # no inherited threads or JAX state
            with concurrent.futures.ProcessPoolExecutor(min(workers, len(tasks)), mp_context=context) as pool:
                for future in concurrent.futures.as_completed([pool.submit(_worker, t) for t in tasks]):
                    audio += future.result()[1]
                    bar.update()
    log.info("%s: rendered %d tracks (%.2f h of audio), %d already finished", split_dir, len(tasks), audio / 3600,
             songs - len(tasks))
    return folders


# ----------------------------------------------------------------------------------------------
# Command line


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m jaxaccomp.data.render",
        description="Compose procedural 4-stem songs (bass, drums, guitar, piano) and render them with "
                    "FluidSynth into a Slakh2100-style dataset: <out>/<split>/TrackNNNNN/{stems/S00.flac..., "
                    "mix.flac, MIDI/S00.mid..., metadata.yaml, render.json}. Finished tracks are skipped, so an "
                    "interrupted run resumes.")
    parser.add_argument("--out", required=True, type=Path, help="dataset root; tracks go to <out>/<split>/")
    amount = parser.add_mutually_exclusive_group(required=True)
    amount.add_argument("--songs", type=int, help="number of tracks to render (tracks 0..N-1 of the split)")
    amount.add_argument("--hours", type=float, help="render about this many hours of audio (N = hours*3600/seconds)")
    parser.add_argument("--split", choices=SPLITS, default="train",
                        help="split folder; also feeds each song's seed, so splits never share a song (default: train)")
    parser.add_argument("--seed", type=int, default=0,
                        help="dataset seed: with the split and track index it fixes every song (default: 0)")
    parser.add_argument("--workers", type=int, default=1,
                        help="parallel render processes, each loading the soundfont once (default: 1)")
    parser.add_argument("--soundfont", type=Path, default=Path(DEFAULT_SOUNDFONT),
                        help=f"General MIDI .sf2/.sf3 soundfont (default: {DEFAULT_SOUNDFONT}, "
                             "Debian package fluid-soundfont-gm)")
    parser.add_argument("--seconds", type=float, default=60.0,
                        help="approximate length of each song; songs are whole bars plus a 2 s tail (default: 60)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    import time

    args = build_parser().parse_args(argv)
    if args.hours is not None:
        if not args.hours > 0:
            raise ValueError(f"--hours must be positive, not {args.hours}")
        songs = math.ceil(args.hours * 3600 / args.seconds)
    else:
        songs = args.songs
    split_dir = args.out / args.split
    names = [track_name(args.split, i) for i in range(songs)] if songs >= 1 else []
    done_before = {name for name in names if (split_dir / name / "render.json").is_file()}
    wall, cpu, children = time.perf_counter(), time.process_time(), os.times()
    folders = render_dataset(args.out, songs, args.split, args.seed, args.workers, args.soundfont, args.seconds,
                             progress=True)
    wall = time.perf_counter() - wall
    after = os.times()
    cpu = (time.process_time() - cpu) + (after.children_user - children.children_user) \
        + (after.children_system - children.children_system)
    new = [f for f in folders if f.name not in done_before]
    hours = sum(json.loads((f / "render.json").read_text())["samples"] for f in new) / SAMPLE_RATE / 3600
    print(f"{split_dir}: {len(new)} tracks rendered ({hours:.3f} h of 4-stem audio), "
          f"{len(folders) - len(new)} already there; {wall:.1f} s wall, {cpu:.1f} s CPU")
    if new and cpu > 0:
        print(f"throughput: {hours / (cpu / 3600):.1f} h of audio per CPU-hour, {hours / (wall / 3600):.1f} per wall-hour")
    return 0


if __name__ == "__main__":
    from jaxaccomp.cli import run

    run(main)
