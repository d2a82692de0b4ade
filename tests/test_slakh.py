"""Slakh2100 reading: class grouping and summing, silence for missing classes, skipped files,
resampling, both layouts, lazy windowed reads, one-line errors."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import resample_poly
from tests.support.slakh import SKIPPED, SR, TRAIN_SECONDS, read_stem_file

from jaxaccomp.data.slakh import load_split, read_metadata, stem_of

BASS, DRUMS, GUITAR, PIANO = range(4)


@pytest.fixture(scope="module")
def train(slakh_root):
    return load_split(slakh_root, "train")


def test_program_groups():
    assert [stem_of(p) for p in (0, 7, 24, 31, 32, 39)] == [PIANO, PIANO, GUITAR, GUITAR, BASS, BASS]
    assert stem_of(128) == DRUMS and stem_of(0, is_drum=True) == DRUMS
    assert [stem_of(p) for p in (8, 23, 40, 48, 127, None)] == [None] * 6


def test_tracks_ids_lengths_and_skips(train):
    assert [t.id for t in train.tracks] == sorted(TRAIN_SECONDS)
    assert [t.length for t in train.tracks] == [s * SR for s in TRAIN_SECONDS.values()]
    assert {name for name, _ in train.skipped} == SKIPPED
    reasons = dict(train.skipped)
    assert "shorter than 6.1 s" in reasons["Track00004"]
    assert train.layout == "slakh"


def test_skips_are_logged(slakh_root, caplog):
    with caplog.at_level(logging.WARNING, logger="jaxaccomp.data"):
        load_split(slakh_root, "train")
    assert sum("skipping" in r.message for r in caplog.records) == len(SKIPPED)
    assert any("2 tracks read, 2 skipped" in r.message for r in caplog.records)


def test_class_summing_and_dropped_instruments(slakh_root, train):
    stems = train.tracks[0].stems
    assert stems.shape == (4, 12 * SR) and stems.dtype == np.float32
    files = {name: read_stem_file(slakh_root, "Track00001", name)[0] for name in ("S00", "S01", "S02", "S03")}
    np.testing.assert_array_equal(stems[BASS], files["S00"])
    np.testing.assert_array_equal(stems[DRUMS], files["S01"])
    np.testing.assert_array_equal(stems[GUITAR], files["S02"] + files["S03"])  # two guitars summed
    # strings (S05, 600 Hz) are dropped: no stem carries its energy
    spectrum = np.abs(np.fft.rfft(stems.sum(axis=0)))
    freqs = np.fft.rfftfreq(stems.shape[1], 1 / SR)
    assert spectrum[np.argmin(np.abs(freqs - 600))] < 1e-3 * spectrum.max()


def test_missing_class_is_silence(train):
    stems = train.tracks[1].stems
    assert not stems[PIANO].any() and all(stems[k].any() for k in (BASS, DRUMS, GUITAR))
    assert train.tracks[1].sources[PIANO] == ()


def test_resampled_stem(slakh_root, train):
    audio, sr = read_stem_file(slakh_root, "Track00001", "S04")
    assert sr == SR // 2
    piano = train.tracks[0].stems[PIANO]
    np.testing.assert_allclose(piano, resample_poly(audio, 2, 1), atol=1e-6)
    freqs = np.fft.rfftfreq(piano.size, 1 / SR)
    assert abs(freqs[np.argmax(np.abs(np.fft.rfft(piano)))] - 262) < 1  # pitch kept


def test_windowed_reads_equal_whole_reads(train):
    track = train.tracks[0]
    whole = track.stems
    for start, length in [(0, 1000), (123457, 50000), (track.length - 300, 1000)]:
        window = track.read(start, length)
        inside = whole[:, start:start + length]
        np.testing.assert_array_equal(window[:, : inside.shape[1]], inside)
        assert not window[:, inside.shape[1]:].any()  # zero past the end


def test_stray_byte_metadata(slakh_root):
    path = slakh_root / "train" / "Track00001" / "metadata.yaml"
    assert path.read_bytes()[:1] == b"\x01"
    assert set(read_metadata(path)["stems"]) == {f"S0{i}" for i in range(7)}


def test_prepared_layout(tmp_path):
    track = tmp_path / "validation" / "Track01600"
    track.mkdir(parents=True)
    rng = np.random.default_rng(0)
    stereo = (0.1 * rng.standard_normal((7 * SR, 2))).astype(np.float32)
    sf.write(track / "bass.wav", stereo, SR, subtype="FLOAT")
    sf.write(track / "drums.wav", stereo[:, 0], SR, subtype="FLOAT")
    sf.write(track / "guitar.wav", stereo[:, 1], SR, subtype="FLOAT")
    sf.write(track / "mixture.wav", np.ones(7 * SR, np.float32), SR, subtype="FLOAT")  # ignored
    split = load_split(tmp_path, "validation")
    assert split.layout == "prepared" and [t.id for t in split.tracks] == ["Track01600"]
    stems = split.tracks[0].stems
    np.testing.assert_array_equal(stems[BASS], stereo.mean(axis=1, dtype=np.float32))  # channel mean
    np.testing.assert_array_equal(stems[DRUMS], stereo[:, 0])
    assert not stems[PIANO].any()


def test_empty_dataset_is_one_line_error(slakh_root, tmp_path):
    (tmp_path / "test" / "Track02000").mkdir(parents=True)
    with pytest.raises(ValueError, match=r"^no usable tracks in .*test \(1 skipped; first: Track02000") as info:
        load_split(tmp_path, "test")
    assert "\n" not in str(info.value)
    with pytest.raises(FileNotFoundError, match="expected a Slakh2100 copy"):
        load_split(tmp_path, "validation")
    with pytest.raises(ValueError, match="unknown split 'valid'"):
        load_split(slakh_root, "valid")
