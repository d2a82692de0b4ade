"""Generated notes in tune with the band (codec.intonation) and the metric that hears it (eval.intonation)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from jaxaccomp.codec import get_codec, intonation
from jaxaccomp.codec.base import HeardBand
from jaxaccomp.codec.embedded import _PERIODICITY, _PITCH, A4_HZ, LOG2_F0_CENTRE, LOG2_F0_SCALE, EmbeddedCodec, band_chord, pitch_track
from jaxaccomp.constants import SAMPLE_RATE
from jaxaccomp.eval.intonation import in_chord_share, in_tune_share, pitched_share
from tests.support.predictors import FakePredictor

SR = SAMPLE_RATE


def latents(semitones: np.ndarray, periodicity: np.ndarray) -> np.ndarray:
    """[64, T] raw embedded latents holding these quarter-frame pitches (semitones above A4) and periodicities."""
    frames = semitones.shape[0] // 4
    out = np.random.default_rng(0).normal(size=(64, frames)).astype(np.float32)
    log2_f0 = semitones / 12 + np.log2(A4_HZ)
    out[_PITCH] = ((log2_f0 - LOG2_F0_CENTRE) / LOG2_F0_SCALE).reshape(frames, 4).T
    out[_PERIODICITY] = (2 * periodicity - 1).reshape(frames, 4).T
    return out


def pitches(raw: np.ndarray) -> np.ndarray:
    return pitch_track(raw)[0]


def offset(raw: np.ndarray) -> float:
    return intonation.band_offset(*pitch_track(raw))


def test_the_band_offset_is_its_pitched_frames_circular_mean_and_a440_without_agreement():
    rng = np.random.default_rng(1)
    notes = rng.integers(-24, 12, 64).astype(float)
    pitched = np.full(64, 0.95)
    assert offset(latents(notes + 0.3 + rng.normal(0, 0.03, 64), pitched)) == pytest.approx(0.3, abs=0.02)
    # -0.45 and +0.45 are 10 cents apart across the boundary: their mean is -0.5 / +0.5, not 0
    assert abs(offset(latents(notes + np.resize([0.45, -0.45], 64), pitched))) == pytest.approx(0.5, abs=0.01)
    assert offset(latents(notes + 0.3, np.full(64, 0.6))) == 0  # nothing clearly pitched
    assert offset(latents(notes[:8].repeat(8) + 0.3, np.r_[np.full(12, 0.95), np.zeros(52)])) == 0
    assert offset(latents(rng.uniform(-24, 12, 64), pitched)) == 0  # no common tuning


def test_each_note_becomes_one_pitch_on_the_grid_and_silence_holds_the_nearest_note():
    # a wavering note around 2.4, a legato step to 7.1, a gap, a note around -5.6 (quarters)
    semitones = np.r_[2.4 + 0.15 * np.sin(np.arange(10)), 7.1, 7.2, 6.9, 7.0, np.full(6, 30.0), -5.6, -5.5, -5.7, -5.6]
    periodicity = np.r_[np.full(14, 0.95), np.full(6, 0.1), np.full(4, 0.9)]
    band = latents(np.arange(24) - 12.0, np.full(24, 0.95))  # an A440 band
    target = latents(semitones, periodicity)
    out = EmbeddedCodec().in_tune(target[None], band)[0]
    np.testing.assert_allclose(pitches(out), np.r_[np.full(10, 2), np.full(4, 7), np.full(3, 7), np.full(3, -6),
                                                   np.full(4, -6)], atol=1e-4)
    untouched = np.ones(64, bool)
    untouched[_PITCH] = False
    np.testing.assert_array_equal(out[untouched], target[untouched])  # only the pitch rows move
    # a band 30 cents sharp moves the grid with it
    sharp = EmbeddedCodec().in_tune(target[None], latents(np.arange(24) - 11.7, np.full(24, 0.95)))[0]
    np.testing.assert_allclose(pitches(sharp)[:10], 2.3, atol=1e-4)
    # nothing voiced: the pitches stay as they are
    unvoiced = latents(semitones, np.full(24, 0.2))
    np.testing.assert_allclose(EmbeddedCodec().in_tune(unvoiced[None], band)[0], unvoiced, atol=1e-6)


def test_with_the_band_each_note_takes_the_nearest_of_its_two_strongest_pitch_classes():
    codec = EmbeddedCodec()
    band = tone(261.63) + tone(329.63) + tone(523.25)  # C and E
    context = codec.encode(band[None])[0]
    quarters = 4 * context.shape[1]
    # four notes (quarters, a rest after each) near A#4 (+1.2), near F4 (-4.4), on E5 (+7), near D4 (-7.4)
    semitones = np.repeat([1.2, -4.4, 7.0, -7.4], quarters // 4)
    target = latents(semitones, np.resize(np.r_[np.full(quarters // 4 - 1, 0.95), 0.1], quarters))
    firsts, grid = np.arange(4) * (quarters // 4), offset(context)  # the band's own tuning, 2.5 cents sharp
    out = pitches(codec.in_tune(target[None], context, HeardBand(band, context.shape[1], band))[0])
    # C5 (+3), E4 (-5), E5 unchanged (+7), and from -7.4: C4 (-9) and E4 (-5) are 1.6 and 2.4 away
    np.testing.assert_allclose(out[firsts] - grid, [3, -5, 7, -9], atol=1e-4)
    # a band that sounds no chord (silence, or nothing played yet) only rounds, as without the band's audio
    silent = np.zeros_like(band)
    for out in (codec.in_tune(target[None], context, HeardBand(silent, context.shape[1], silent)),
                codec.in_tune(target[None], context)):
        np.testing.assert_allclose(pitches(out[0])[firsts] - grid, [1, -4, 7, -7], atol=1e-4)


def test_a_bass_takes_the_chords_root_in_its_register_where_the_root_is_one_of_the_two_strongest():
    semitones = np.repeat([-28.4, -30.2, -26.0, -29.1, -28.4, -25.6], 4)  # notes around E2-G2 (A4 = 0)
    periodicity = np.resize(np.r_[np.full(3, 0.95), 0.1], semitones.shape[0])
    c_major, a_minor = np.zeros(12), np.zeros(12)
    c_major[[0, 7, 4]] = [0.4, 0.35, 0.25]  # C G E: the root C among the two strongest
    a_minor[[4, 0, 9]] = [0.4, 0.35, 0.25]  # E C A: A minor's root A is not
    chord = np.repeat(np.stack([c_major] * 4 + [a_minor] * 2, axis=1), 4, axis=1)
    bass = intonation.snap_notes(semitones, periodicity, periodicity > 0.5, 0.0, chord, root=True)
    # C in the octave around the notes' median (-28): C2 (-33), even for the note nearer G2 (-26)
    np.testing.assert_allclose(bass[::4][:4], -33)
    other = intonation.snap_notes(semitones, periodicity, periodicity > 0.5, 0.0, chord)
    np.testing.assert_allclose(other[::4][:4], [-26, -33, -26, -26])  # the nearest of C and G
    # over A minor the root is not among E and C: the nearest of them, as for any part
    np.testing.assert_allclose(bass[::4][4:], other[::4][4:])
    np.testing.assert_allclose(bass[::4][4:], -29)  # E2
    # a low part's root stays above E1 (-41), the lowest note of a bass
    low = intonation.snap_notes(semitones - 15, periodicity, periodicity > 0.5, 0.0, chord, root=True)
    np.testing.assert_allclose(low[::4][:4], -33)
    flat = intonation.snap_notes(semitones, periodicity, periodicity > 0.5, 0.0, np.full((12, 24), 1 / 12), root=True)
    np.testing.assert_allclose(flat[::4], np.round(semitones[::4]))  # no chord: only rounded


def test_the_codec_puts_only_the_parts_marked_as_basses_on_the_roots():
    codec = EmbeddedCodec()
    band = 2 * tone(261.63) + tone(392.0) + 0.5 * tone(329.63)  # C loudest, then G, then E
    context = codec.encode(band[None])[0]
    quarters = 4 * context.shape[1]
    target = latents(np.full(quarters, -4.4), np.full(quarters, 0.95))  # near F4
    heard = HeardBand(band, context.shape[1], band)
    bass, other = (pitches(part) - offset(context) for part in
                   codec.in_tune(np.stack([target, target]), context, heard, roots=[True, False]))
    np.testing.assert_allclose(bass, -9, atol=1e-4)  # C4, the root
    np.testing.assert_allclose(other, -2, atol=1e-4)  # G4, the nearer of C and G


def test_ahead_of_playback_notes_land_on_the_last_chord_heard_then_on_the_songs_key():
    codec = EmbeddedCodec()
    window = tone(261.63) + tone(329.63) + tone(523.25)  # C and E heard over the window's first 4 columns
    context = codec.encode(window[None])[0]
    past = tone(220.0, seconds=10.0) + tone(329.63, seconds=10.0)  # a song in A and E so far
    frames = context.shape[1]
    resting = np.arange(4 * frames) // 4 % 6 == 5  # a rest every 6th column: notes of 5 columns
    target = latents(np.full(4 * frames, 1.2), np.where(resting, 0.0, 0.95))  # near A#4
    out = pitches(codec.in_tune(target[None], context, HeardBand(window, 4, past))[0]) - offset(context)
    # the note right after playback (columns 6-10) still hears the last chord: C5 (+3); from 16 columns
    # (1.5 s) ahead only the key: A4 (0), the nearer of A and E
    assert out[4 * 6] == pytest.approx(3, abs=1e-4)
    np.testing.assert_allclose(out[[4 * 18, 4 * 24]], 0, atol=1e-4)


def test_the_songs_key_is_its_mean_chroma_until_the_last_ten_seconds_move_away_from_it():
    frame_s = 0.5
    c_major, d_major = np.full(12, 0.02), np.full(12, 0.02)
    c_major[[0, 4, 7]] = 0.3  # C E G
    d_major[[2, 6, 9]] = 0.3  # D F# A: a tone up
    steady = np.repeat(c_major[:, None], 60, axis=1)  # 30 s in C
    np.testing.assert_allclose(intonation.song_key(steady, frame_s), c_major)
    changed = np.concatenate([steady[:, :40], np.repeat(d_major[:, None], 20, axis=1)], axis=1)  # 10 s in D
    np.testing.assert_allclose(intonation.song_key(changed, frame_s), d_major)
    brief = np.concatenate([steady[:, :56], np.repeat(d_major[:, None], 4, axis=1)], axis=1)  # 2 s of D: no change
    np.testing.assert_allclose(intonation.song_key(brief, frame_s), brief.mean(axis=1))
    flat = np.full((12, 60), 1 / 12)
    np.testing.assert_allclose(intonation.song_key(flat, frame_s), 1 / 12)


def test_the_chord_ahead_fades_from_the_last_chord_heard_to_the_key():
    heard = np.zeros((12, 8))
    heard[[0, 4]] = 0.5  # C and E
    key = np.full(12, 0.02)
    key[[9, 4]] = 0.4  # A and E
    ahead = intonation.chord_ahead(heard, key, 24)
    np.testing.assert_allclose(ahead.sum(axis=0), 1.0)
    assert set(np.argsort(ahead[:, 0])[-2:]) == {0, 4}  # the last chord first
    np.testing.assert_allclose(ahead[:, intonation.HOLD_AHEAD_FRAMES:], key[:, None].repeat(8, axis=1))
    assert np.all(np.diff(ahead[0]) <= 0)  # C fades
    np.testing.assert_allclose(intonation.chord_ahead(heard[:, :0], key, 3), key[:, None].repeat(3, axis=1))


def test_the_bands_chord_is_the_share_of_each_pitch_class_of_its_peaks():
    chord = band_chord(tone(220.0) + tone(277.18) + tone(329.63), 0.0)  # A major: A, C#, E
    assert chord.shape == (12, 31)
    assert set(np.argsort(chord[:, 15])[-3:]) == {9, 1, 4}
    np.testing.assert_allclose(chord.sum(axis=0), 1.0, atol=1e-6)
    np.testing.assert_allclose(band_chord(np.zeros(4096 * 31 + 1536, np.float32), 0.0), 1 / 12)
    every = band_chord(tone(220.0) + tone(277.18) + tone(329.63), 0.0, every=5)
    np.testing.assert_allclose(every, chord[:, ::5], atol=1e-6)


def test_the_standardised_codec_snaps_in_raw_units():
    codec = get_codec("embedded")
    band = latents(np.arange(24) - 12.0, np.full(24, 0.95))
    target = latents(np.full(24, 3.35), np.full(24, 0.95))
    out = codec.in_tune(codec.stats.normalize(target[None]), codec.stats.normalize(band))
    np.testing.assert_allclose(pitches(codec.stats.denormalize(out)[0]), 3.0, atol=1e-4)


def tone(hz: float, seconds: float = 3.0, partials: int = 4) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (sum(0.2 / k * np.sin(2 * np.pi * k * hz * t) for k in range(1, partials + 1))).astype(np.float32)


def test_a_detuned_note_comes_out_of_the_decoder_in_tune_by_an_independent_ear():
    codec = EmbeddedCodec()
    band = tone(220.0) + tone(329.63)  # A3 and E4 in A440
    bass = tone(55.0 * 2 ** (0.35 / 12))  # A1, 35 cents sharp
    context = codec.encode(band[None])[0]
    plain = codec.decode(codec.encode(bass[None]))[0]
    snapped = codec.decode(codec.in_tune(codec.encode(bass[None]), context))[0]
    assert in_tune_share(band, plain, SR) < 0.2
    assert in_tune_share(band, snapped, SR) > 0.9


def test_a_note_off_the_chord_comes_out_of_the_decoder_on_it_by_an_independent_ear():
    codec = EmbeddedCodec()
    band = tone(261.63) + tone(329.63) + tone(523.25)  # C and E
    bass = tone(73.42)  # D2: no note of the band's
    context = codec.encode(band[None])[0]
    plain = codec.decode(codec.in_tune(codec.encode(bass[None]), context))[0]
    on_chord = codec.decode(codec.in_tune(codec.encode(bass[None]), context, HeardBand(band, context.shape[1], band)))[0]
    assert in_chord_share(band, plain, SR) < 0.1
    assert in_chord_share(band, on_chord, SR) > 0.9


def test_half_voiced_notes_are_voiced_decisively_and_noise_is_left_alone():
    """A stretch of 2 moves each quarter the decoder voices at all twice as far from the voicing floor
    (0.5), at most to 1; quarters below the floor, and every row but periodicity and pitch, stay."""
    periodicity = np.resize([0.3, 0.6, 0.7, 0.9], 24)
    band = latents(np.arange(24) - 12.0, np.full(24, 0.95))
    target = latents(np.full(24, 3.0), periodicity)
    codec = EmbeddedCodec()
    stretched = codec.in_tune(np.stack([target, target]), band, voicing=[2.0, 1.0])
    np.testing.assert_allclose(pitch_track(stretched[0])[1], np.resize([0.3, 0.7, 0.9, 1.0], 24), atol=1e-6)
    np.testing.assert_allclose(pitch_track(stretched[1])[1], periodicity, atol=1e-6)  # 1: as generated
    np.testing.assert_allclose(codec.in_tune(target[None], band)[0], stretched[1], atol=1e-6)  # none given: as 1
    others = np.ones(64, bool)
    others[_PITCH] = others[_PERIODICITY] = False
    np.testing.assert_array_equal(stretched[0][others], target[others])


def test_a_half_voiced_bass_note_comes_out_of_the_decoder_as_a_note_by_an_independent_ear():
    """The decoder plays a quarter of periodicity 0.7 less than half as a tone, the rest as noise, and
    pyin hears no A1 in it; stretched by 2, it does."""
    codec = EmbeddedCodec()
    band = tone(220.0) + tone(329.63)
    context = codec.encode(band[None])[0]
    half = codec.encode(tone(55.0)[None])
    half[:, _PERIODICITY] = 2 * 0.7 - 1
    plain, decisive = (codec.decode(codec.in_tune(half, context, voicing=[stretch]))[0] for stretch in (1.0, 2.0))
    assert pitched_share(band, plain, SR) < 0.1
    assert pitched_share(band, decisive, SR) > 0.9


def test_the_chord_metric_counts_notes_among_the_bands_three_strongest_pitch_classes():
    band = tone(261.63) + tone(329.63) + tone(392.0)  # C major
    for hz in (130.81, 82.41, 196.0):  # C3, E2, G3
        assert in_chord_share(band, tone(hz), SR) > 0.9
    for hz in (174.61, 138.59, 110.0):  # F3, C#3, A2
        assert in_chord_share(band, tone(hz), SR) < 0.1
    noise = np.random.default_rng(0).normal(0, 0.1, 3 * SR).astype(np.float32)
    assert in_chord_share(band, noise, SR) is None  # nothing pitched
    assert in_chord_share(np.zeros_like(band), tone(130.81), SR) is None  # no band to judge against


def test_the_metric_hears_the_bands_tuning_and_ignores_unpitched_parts():
    sharp = 2 ** (0.3 / 12)
    band = tone(220.0 * sharp) + tone(329.63 * sharp)
    assert in_tune_share(band, tone(110.0 * sharp), SR) > 0.9  # in tune with a sharp band
    assert in_tune_share(band, tone(110.0), SR) < 0.1  # in A440, 30 cents flat of it
    noise = np.random.default_rng(0).normal(0, 0.1, 3 * SR).astype(np.float32)
    assert in_tune_share(band, noise, SR) is None


def test_pitched_share_tells_notes_from_noise():
    band = tone(220.0)
    noise = np.random.default_rng(0).normal(0, 0.1, 3 * SR).astype(np.float32)
    half = np.concatenate([tone(110.0)[: 3 * SR // 2], np.zeros(3 * SR // 2, np.float32)])
    assert pitched_share(band, tone(110.0), SR) > 0.9
    assert pitched_share(band, noise, SR) < 0.05 and pitched_share(band, np.zeros(3 * SR, np.float32), SR) == 0
    assert pitched_share(band, half, SR) == pytest.approx(0.5, abs=0.1)  # a note half the time


class OffGrid(FakePredictor):
    """A Predictor whose every note is A#4 35 cents sharp (3.35 semitones above A4), steady and voiced."""

    def __init__(self, codec, tuning: str):
        self.tuning = tuning
        self.window = codec.stats.normalize(latents(np.full(4 * self.width, 3.35), np.full(4 * self.width, 0.95)))

    def __call__(self, plan, source, context, labels, key):
        return np.broadcast_to(self.window, source.shape).copy()


@pytest.mark.parametrize("tuning, expected", [("band", (3.0, 3.35, 3.0)), ("chord", (0.0, 3.35, 0.0)), ("off", (3.35, 3.35, 3.35))])
def test_the_engine_stores_the_notes_in_tune_when_the_generator_asks(tuning, expected):
    from jaxaccomp.stream_settings import StreamSettings
    from jaxaccomp.streaming.engine import StreamingEngine

    codec = get_codec("embedded")
    engine = StreamingEngine(codec, OffGrid(codec, tuning), ["bass", "drums", "piano"], StreamSettings())
    step = engine.step((tone(220.0, seconds=10) + tone(329.63, seconds=10))[:engine.step_size])
    stored = np.stack([engine._latents[c] for c in sorted(engine._latents)], axis=-1)  # [stems, 64, columns]
    assert stored.shape[-1] >= step.plan.length // codec.hop
    for stem, pitch in zip(codec.stats.denormalize(stored), expected):  # the drums are left alone
        np.testing.assert_allclose(pitches(stem), pitch, atol=0.03)  # the band's grid: 1 cent off A440


def test_the_engine_voices_each_stems_notes_as_decisively_as_the_generator_asks():
    from jaxaccomp.stream_settings import StreamSettings
    from jaxaccomp.streaming.engine import StreamingEngine

    class HalfVoiced(OffGrid):
        voicing_stretch = {"bass": 2.0}

        def __init__(self, codec, tuning: str):
            self.tuning = tuning
            self.window = codec.stats.normalize(latents(np.full(4 * self.width, 3.35), np.full(4 * self.width, 0.7)))

    codec = get_codec("embedded")
    for tuning, expected in (("chord", (0.9, 0.7)), ("off", (0.7, 0.7))):  # not put in tune: left as generated
        engine = StreamingEngine(codec, HalfVoiced(codec, tuning), ["bass", "drums", "piano"], StreamSettings())
        engine.step((tone(220.0, seconds=10) + tone(329.63, seconds=10))[:engine.step_size])
        stored = codec.stats.denormalize(np.stack([engine._latents[c] for c in sorted(engine._latents)], axis=-1))
        bass, drums, piano = (pitch_track(stem)[1] for stem in stored)
        np.testing.assert_allclose(bass, expected[0], atol=1e-4)
        np.testing.assert_allclose(np.r_[drums, piano], expected[1], atol=1e-4)


def test_models_play_in_tune_unless_told_not_to():
    from jaxaccomp.streaming import models

    _, default = models.load_model(None, "consistency", None, None)
    _, band = models.load_model(None, "consistency", None, None, tuning="band")
    _, off = models.load_model(None, "consistency", None, None, tuning="off")
    assert (default.tuning, band.tuning, off.tuning) == ("chord", "band", "off")
    assert "in tune with the band, on its chords" in default.sampler_name()
    assert "in tune with the band" in band.sampler_name() and "chords" not in band.sampler_name()
    assert "in tune" not in off.sampler_name()
    with pytest.raises(ValueError, match="tuning must be one of chord, band, off"):
        models.load_model(None, "consistency", None, None, tuning="a432")


_METRICS_IN_A_FRESH_PROCESS = """
import numpy as np
from jaxaccomp.eval.intonation import in_chord_share, in_tune_share, pitched_share
rng = np.random.default_rng(1)
t = np.arange(7 * 44100) / 44100
stem = (np.sin(2 * np.pi * 55.0 * t) + 0.05 * rng.standard_normal(t.shape)).astype(np.float32)
chord = np.sin(2 * np.pi * 261.6 * t) + np.sin(2 * np.pi * 392.0 * t)
context = (chord + 0.1 * rng.standard_normal(t.shape)).astype(np.float32)
in_tune_share(context, stem, 44100), in_chord_share(context, stem, 44100), pitched_share(context, stem, 44100)
"""


def test_after_the_warm_up_the_metrics_compile_nothing_so_workers_never_write_the_shared_cache(tmp_path):
    """numba writes its on-disk cache unsafely when processes compile the same kernel at once (a torn
    cache segfaults whoever loads it next), so the evaluation compiles librosa's kernels in one process
    before its workers start: in a fresh cache, the metrics that follow on other audio, in another
    process, find every kernel they need and write nothing."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba")}

    def files() -> dict[str, int]:
        return {str(p): p.stat().st_mtime_ns for p in (tmp_path / "numba").rglob("*") if p.is_file()}

    def python(code: str) -> None:
        done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]

    python("from jaxaccomp.eval.intonation import compile_librosa; compile_librosa()")
    warmed = files()
    assert any(name.endswith(".nbi") for name in warmed)  # the kernels went to the cache the test chose
    python(_METRICS_IN_A_FRESH_PROCESS)
    assert files() == warmed
