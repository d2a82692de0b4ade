"""The procedural composer and the Slakh-style renderer (FluidSynth; skipped without it or the soundfont)."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml

from jaxaccomp.data.compose import MAX_TIMING_ERROR, PROGRAM_FAMILIES, STEMS, Timing, compose_song, parse_chord
from jaxaccomp.data.render import DEFAULT_SOUNDFONT, render_dataset

SECONDS = 8.0
SEED = 7


def _needs_fluidsynth():
    pytest.importorskip("fluidsynth", reason="pyfluidsynth / libfluidsynth not installed")
    if not Path(DEFAULT_SOUNDFONT).is_file():
        pytest.skip(f"{DEFAULT_SOUNDFONT} absent (Debian package fluid-soundfont-gm)")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """Two ~8 s tracks rendered in this process."""
    _needs_fluidsynth()
    out = tmp_path_factory.mktemp("render")
    return out, render_dataset(out, 2, "train", SEED, 1, DEFAULT_SOUNDFONT, SECONDS)


def _stems(track: Path) -> list[np.ndarray]:
    return [sf.read(track / "stems" / f"S{k:02d}.flac", dtype="int16")[0] for k in range(4)]


# ----------------------------------------------------------------------------------------------
# Composition (no synthesis needed)


def test_chord_symbols():
    assert parse_chord("V7/V").root == 2 and parse_chord("V7/V").quality == "7"
    assert parse_chord("I6").bass == 4 and parse_chord("v6").bass == 10  # first inversions
    assert parse_chord("bVII").root == 10 and parse_chord("ii7").quality == "m7"
    with pytest.raises(ValueError, match="cannot read"):
        parse_chord("IX")


def test_songs_are_deterministic_and_well_formed():
    for seed in range(12):
        song = compose_song(seed, 30.0)
        assert song == compose_song(seed, 30.0)
        assert 70 <= song.tempo <= 180 and song.mode in ("major", "minor")
        assert [s.name for s in song.stems] == list(STEMS)
        for stem in song.stems:
            assert stem.notes, (seed, stem.name)
            assert stem.is_drum == (stem.name == "drums")
            if not stem.is_drum:
                assert stem.program in PROGRAM_FAMILIES[stem.name]
            assert all(0 <= n.start < n.end <= song.duration and 1 <= n.velocity <= 127 for n in stem.notes)
        bars = song.sections[-1].first_bar + song.sections[-1].bars
        assert len(song.beat_times) == 4 * bars and song.downbeat_times == song.beat_times[::4]
        assert all(a.end == pytest.approx(b.start) for a, b in zip(song.sections, song.sections[1:]))
    assert compose_song(0, 30.0) != compose_song(1, 30.0)


def test_humanised_drums_stay_near_the_grid():
    song = compose_song(3, 30.0)
    timing = Timing(song.tempo, song.swing, song.swing_period)
    grid = np.array([timing.seconds(step / 4) for step in range(4 * len(song.beat_times) + 1)])
    starts = np.array([n.start for n in song.stem("drums").notes])
    error = np.abs(starts[:, None] - grid[None, :]).min(axis=1)
    assert error.max() <= MAX_TIMING_ERROR + 2e-6  # onsets are stored to the microsecond
    assert error.mean() > 0.0005  # but not quantised


# ----------------------------------------------------------------------------------------------
# Rendering


def test_layout_and_metadata(dataset):
    out, tracks = dataset
    assert [t.name for t in tracks] == ["Track00001", "Track00002"]
    assert all(t.parent == out / "train" for t in tracks)
    for track in tracks:
        for name in ["mix.flac", "all_src.mid", "metadata.yaml", "render.json"] + \
                [f"stems/S{k:02d}.flac" for k in range(4)] + [f"MIDI/S{k:02d}.mid" for k in range(4)]:
            assert (track / name).is_file(), name
        meta = yaml.safe_load((track / "metadata.yaml").read_text())
        assert meta["audio_dir"] == "stems" and meta["midi_dir"] == "MIDI" and len(meta["UUID"]) == 32
        stems = meta["stems"]
        assert sorted(s["inst_class"] for s in stems.values()) == ["Bass", "Drums", "Guitar", "Piano"]
        for s in stems.values():
            assert s["audio_rendered"] is True and s["plugin_name"] == Path(DEFAULT_SOUNDFONT).name
            family = {"Bass": range(32, 40), "Guitar": range(24, 32), "Piano": range(0, 8), "Drums": [128]}
            assert s["program_num"] in family[s["inst_class"]] and s["is_drum"] == (s["inst_class"] == "Drums")
        assert 0 < meta["overall_gain"] and meta["target_peak"] == -1.0
    uuids = {yaml.safe_load((t / "metadata.yaml").read_text())["UUID"] for t in tracks}
    assert len(uuids) == 2


def test_audio_is_mono_nonsilent_and_mix_is_the_sum(dataset):
    for track in dataset[1]:
        for path in [track / "mix.flac", *sorted((track / "stems").glob("*.flac"))]:
            info = sf.info(path)
            assert (info.samplerate, info.channels, info.subtype) == (44100, 1, "PCM_16"), path
        stems = _stems(track)
        assert len({len(s) for s in stems}) == 1
        for s in stems:
            assert np.sqrt(np.mean(s.astype(np.float64) ** 2)) > 100  # well above silence (-50 dBFS)
        mix = sf.read(track / "mix.flac", dtype="int16")[0].astype(np.int32)
        np.testing.assert_array_equal(mix, np.sum([s.astype(np.int32) for s in stems], axis=0))
        assert np.abs(mix).max() <= 32767 * 10 ** (-1 / 20) + 3  # -1 dBFS peak


def test_beat_times_follow_the_tempo(dataset):
    for track in dataset[1]:
        info = json.loads((track / "render.json").read_text())
        beats = np.array(info["beat_times"])
        assert 70 <= info["tempo"] <= 180 and info["time_signature"] == "4/4"
        np.testing.assert_allclose(np.diff(beats), 60.0 / info["tempo"], atol=2e-6)
        assert info["downbeat_times"] == info["beat_times"][::4]
        assert info["sections"][0]["start"] == 0
        assert info["sections"][-1]["end"] == pytest.approx(beats[-1] + 60 / info["tempo"], abs=1e-5)
        assert info["samples"] == len(_stems(track)[0]) and info["seed"] == SEED and info["soundfont"]
        # the MIDI files carry the same tempo (microseconds per quarter note)
        data = (track / "all_src.mid").read_bytes()
        at = data.index(b"\xff\x51\x03") + 3
        assert int.from_bytes(data[at:at + 3], "big") == round(60e6 / info["tempo"])


def _note_ons(path: Path) -> int:
    """Note-ons in a MIDI file written without running status."""
    data, count = path.read_bytes(), 0
    assert data[:4] == b"MThd"
    at = 14
    while at < len(data):
        assert data[at:at + 4] == b"MTrk"
        end = at + 8 + struct.unpack(">I", data[at + 4:at + 8])[0]
        at += 8
        while at < end:
            while data[at] & 0x80:  # delta time
                at += 1
            at += 1
            status = data[at]
            if status == 0xFF:
                length = data[at + 2]
                at += 3 + length
            else:
                count += (status & 0xF0) == 0x90
                at += 2 if (status & 0xF0) == 0xC0 else 3
        at = end
    return count


def test_midi_files_hold_every_note(dataset):
    for track in dataset[1]:
        info = json.loads((track / "render.json").read_text())
        per_stem = [_note_ons(track / "MIDI" / f"S{k:02d}.mid") for k in range(4)]
        assert per_stem == [info["stems"][name]["notes"] for name in STEMS]
        assert _note_ons(track / "all_src.mid") == sum(per_stem)


def test_same_seed_same_audio_across_workers_and_other_seed_differs(dataset, tmp_path):
    out, tracks = dataset
    again = render_dataset(tmp_path / "again", 2, "train", SEED, 2, DEFAULT_SOUNDFONT, SECONDS)  # two processes
    for a, b in zip(tracks, again):
        for name in ("metadata.yaml", "render.json", "MIDI/S00.mid", "all_src.mid"):
            assert (a / name).read_bytes() == (b / name).read_bytes(), name
        for x, y in zip(_stems(a), _stems(b)):
            np.testing.assert_array_equal(x, y)
    other = render_dataset(tmp_path / "other", 1, "train", SEED + 1, 1, DEFAULT_SOUNDFONT, SECONDS)[0]
    assert (other / "render.json").read_text() != (tracks[0] / "render.json").read_text()
    assert len(_stems(other)[0]) != len(_stems(tracks[0])[0]) or not np.array_equal(_stems(other)[0], _stems(tracks[0])[0])


def test_resumes_and_refuses_other_settings(dataset):
    out, tracks = dataset
    stamps = {p: p.stat().st_mtime_ns for t in tracks for p in t.rglob("*")}
    more = render_dataset(out, 3, "train", SEED, 1, DEFAULT_SOUNDFONT, SECONDS)
    assert more[:2] == tracks and (more[2] / "render.json").is_file()
    assert {p: p.stat().st_mtime_ns for t in tracks for p in t.rglob("*")} == stamps  # untouched
    with pytest.raises(ValueError, match="other settings: seed"):
        render_dataset(out, 1, "train", SEED + 5, 1, DEFAULT_SOUNDFONT, SECONDS)
    assert not list((out / "train").glob(".*"))  # no partial folders left behind


def test_user_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="fluid-soundfont-gm"):
        render_dataset(tmp_path, 1, soundfont=tmp_path / "missing.sf2")
    (tmp_path / "fake.sf2").write_bytes(b"not a soundfont")
    with pytest.raises(ValueError, match="not a SoundFont"):
        render_dataset(tmp_path, 1, soundfont=tmp_path / "fake.sf2")
    for kwargs, message in [({"songs": 0}, "positive integer"), ({"split": "dev"}, "unknown split"),
                            ({"seconds": 1.0}, "between"), ({"workers": 0}, "workers")]:
        with pytest.raises(ValueError, match=message):
            render_dataset(tmp_path, **{"songs": 1, **kwargs})


def test_cli_help_and_one_line_error(tmp_path):
    command = [sys.executable, "-m", "jaxaccomp.data.render"]
    help_run = subprocess.run([*command, "--help"], capture_output=True, text=True)
    assert help_run.returncode == 0
    for flag in ("--out", "--songs", "--hours", "--split", "--seed", "--workers", "--soundfont", "--seconds"):
        assert flag in help_run.stdout
    run = subprocess.run([*command, "--out", str(tmp_path), "--songs", "1", "--soundfont", str(tmp_path / "x.sf2")],
                         capture_output=True, text=True)
    assert run.returncode == 1
    assert run.stderr.startswith("error: soundfont") and "fluid-soundfont-gm" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
