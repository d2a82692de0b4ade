"""The periodic continuation of the song (streaming.continuation) and how the engine uses it."""

from __future__ import annotations

import numpy as np
import pytest

from jaxaccomp.constants import SAMPLE_RATE
from jaxaccomp.streaming.continuation import (FEATURE_FFT, FEATURE_HOP, HISTORY_S, MEMORY_S, REPEAT_AFTER_S,
                                              PeriodicContinuation, band_energies, find_period, find_repeat,
                                              lag_correlations, sounding)
from tests.support.predictors import Recorder


def groove(seconds: float, bar: float, seed: int = 0) -> np.ndarray:
    """A bar of kick and hi-hat with a two-chord progression over two bars, repeated: period 2 bars."""
    hit = np.exp(-np.arange(2000) / 300.0) * np.random.default_rng(seed).standard_normal(2000)  # one drum sample
    n = int(seconds * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    audio = np.zeros(n, np.float32)
    beat = bar / 4
    for k in range(int(seconds / beat) + 1):
        start = int(k * beat * SAMPLE_RATE)
        audio[start:start + 2000] += (1.0 if k % 4 == 0 else 0.3) * hit[:max(0, min(2000, n - start))]
    chord = np.where((t // bar) % 2 == 0, 110.0, 146.8)  # A2 then D3, a bar each
    return audio + 0.3 * np.sin(2 * np.pi * np.cumsum(chord) / SAMPLE_RATE).astype(np.float32)


def song_with_form(bar: float, seed: int = 0) -> tuple[np.ndarray, int]:
    """Verse (A2 D3 E3 F#3, a bar each) twice, chorus (F3 C3 G3 A3) twice, then the verse again, over
    one drum groove; returns the audio and where the verse's return starts."""
    hit = np.exp(-np.arange(2000) / 300.0) * np.random.default_rng(seed).standard_normal(2000)
    bar_samples = int(bar * SAMPLE_RATE)
    verse, chorus = (110.0, 146.8, 164.8, 185.0), (174.6, 130.8, 196.0, 220.0)
    chords = [*verse, *verse, *chorus, *chorus, *verse]
    audio = np.zeros(bar_samples * len(chords), np.float32)
    t = np.arange(bar_samples) / SAMPLE_RATE
    for k, f0 in enumerate(chords):
        audio[k * bar_samples:(k + 1) * bar_samples] += 0.3 * np.sin(2 * np.pi * f0 * t).astype(np.float32)
    for k in range(4 * len(chords)):
        at = k * bar_samples // 4
        audio[at:at + 2000] += (1.0 if k % 4 == 0 else 0.3) * hit[:max(0, min(2000, audio.shape[0] - at))]
    return audio, 16 * bar_samples


@pytest.mark.parametrize("bar", [1.6, 2.137])
def test_period_is_the_progression_to_the_sample_scale(bar: float) -> None:
    period = find_period(groove(HISTORY_S, bar))
    assert period is not None
    # the chords repeat every two bars (so also every four or six); one bar would be a wrong chord half the time
    progressions = period / (2 * bar * SAMPLE_RATE)
    assert round(progressions) >= 1 and abs(period - round(progressions) * 2 * bar * SAMPLE_RATE) < 0.001 * SAMPLE_RATE


def test_no_period_in_noise_or_in_too_little_audio() -> None:
    rng = np.random.default_rng(1)
    assert find_period(rng.standard_normal(int(HISTORY_S * SAMPLE_RATE)).astype(np.float32)) is None
    assert find_period(groove(2.5, 1.6)) is None  # too short to score a 1-s lag on 2 s of overlap
    assert PeriodicContinuation()(np.zeros(SAMPLE_RATE, np.float32), SAMPLE_RATE, 1000) is None


@pytest.mark.parametrize("bar", [1.6, 2.137])
def test_repeat_is_the_progression_to_the_sample_scale(bar: float) -> None:
    lag = find_repeat(band_energies(groove(20.0, bar)))
    assert lag is not None
    progressions = lag / (2 * bar * SAMPLE_RATE)
    assert round(progressions) >= 1 and abs(lag - round(progressions) * 2 * bar * SAMPLE_RATE) < 0.001 * SAMPLE_RATE


def test_no_repeat_in_noise_or_in_too_little_audio() -> None:
    rng = np.random.default_rng(1)
    assert find_repeat(band_energies(rng.standard_normal(20 * SAMPLE_RATE).astype(np.float32))) is None
    assert find_repeat(band_energies(groove(3.9, 1.6))) is None  # 3 s matched need a lag of 1 s before them


@pytest.mark.parametrize("heard_s", [REPEAT_AFTER_S - 2.0, REPEAT_AFTER_S + 2.0])
def test_a_returning_verse_is_continued_as_the_verse_went_on_once_enough_was_heard(heard_s: float) -> None:
    """Two bars into the returning verse, the last period of the song is the chorus's; the newest
    seconds sound like the verse, so the repeat continues with the verse's third and fourth chords,
    never heard since the chorus. Before `REPEAT_AFTER_S` of the stream the period is used."""
    bar = heard_s / 18.2  # the return starts at bar 16; 2.2 bars into it `heard_s` have been heard
    audio, verse_again = song_with_form(bar)
    end = verse_again + int(2.2 * bar * SAMPLE_RATE)
    length = int(1.5 * bar * SAMPLE_RATE)
    follow = PeriodicContinuation()
    guess = follow(audio[:end], end, length)  # the whole stream so far, less than MEMORY_S
    truth = audio[end:end + length]
    last_period = audio[end - 4 * int(bar * SAMPLE_RATE):][:length]  # a chorus-length period back
    assert np.corrcoef(last_period, truth)[0, 1] < 0.5  # what repeating the last period plays
    if heard_s >= REPEAT_AFTER_S:
        assert np.corrcoef(guess, truth)[0, 1] > 0.95  # sample by sample: the chords' sines dominate
    else:
        assert follow.lag == find_period(audio[end - int(HISTORY_S * SAMPLE_RATE):end])


def test_silence_before_the_song_is_not_song_heard() -> None:
    """A musician who starts playing after 40 s of silence (the server was waiting) has been heard
    for 10 s: the period is used, not the repeat."""
    song = groove(10.0, 1.6)
    stream = np.concatenate([np.zeros(40 * SAMPLE_RATE, np.float32), song])
    follow = PeriodicContinuation()
    follow(stream[-int(MEMORY_S * SAMPLE_RATE):], stream.shape[0], 1000)
    assert follow.lag == find_period(stream[-int(HISTORY_S * SAMPLE_RATE):])


@pytest.mark.parametrize(("dbfs", "counts"), [(-20.0, True), (-66.0, True), (-74.0, False), (None, False)])
def test_a_frame_sounds_above_the_stop_gates_floor(dbfs: float | None, counts: bool) -> None:
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    amplitude = 0.0 if dbfs is None else np.sqrt(2 * 10 ** (dbfs / 10))  # a sine's mean square is A^2 / 2
    frames = sounding(band_energies((amplitude * np.sin(2 * np.pi * 220 * t)).astype(np.float32)))
    assert frames.all() == counts and frames.any() == counts


def test_continuation_repeats_the_last_period() -> None:
    history = groove(HISTORY_S, 1.6)
    period = find_period(history)
    length = period + SAMPLE_RATE  # more than one period: the last one is tiled
    guess = PeriodicContinuation()(history, history.shape[0], length)
    assert guess.shape == (length,) and guess.dtype == np.float32
    np.testing.assert_array_equal(guess[:period], history[-period:])
    np.testing.assert_array_equal(guess[period:length], guess[:length - period])
    # and it is what the song really does next
    longer = groove(HISTORY_S + length / SAMPLE_RATE + 1, 1.6)
    truth = longer[history.shape[0]:history.shape[0] + length]
    assert np.corrcoef(band_energies(guess).ravel(), band_energies(truth).ravel())[0, 1] > 0.9


def test_only_sounding_frames_score_a_lag() -> None:
    """The masked correlation equals Pearson's over the pairs of sounding frames, counted one by one,
    and with every frame sounding it is the plain one."""
    rng = np.random.default_rng(0)
    features = (rng.standard_normal((400, 32)) + np.sin(np.arange(400) / 7.0)[:, None]).astype(np.float32)
    lags = np.arange(60, 250)
    sounds = rng.random(400) > 0.3
    masked = lag_correlations(features, lags, sounds, min_pairs=1)
    for lag, score in zip(lags, masked):
        pairs = sounds[:-lag] & sounds[lag:]
        a, b = features[:-lag][pairs].astype(np.float64), features[lag:][pairs].astype(np.float64)
        a, b = a - a.mean(axis=0), b - b.mean(axis=0)
        assert score == pytest.approx((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum()), abs=1e-9)
    np.testing.assert_allclose(lag_correlations(features, lags, np.ones(400, bool)), lag_correlations(features, lags))
    assert not lag_correlations(features, lags, sounds, min_pairs=400).any()  # too few pairs: no score


def pause(audio: np.ndarray, start_s: float, seconds: float) -> np.ndarray:
    out = audio.copy()
    out[int(start_s * SAMPLE_RATE):int((start_s + seconds) * SAMPLE_RATE)] = 0
    return out


def test_a_pause_of_the_band_is_not_the_songs_period() -> None:
    """4 s of silence in the period's history: scored with the silence, the best lag was 10.0 s, out of
    phase with the two-bar progression (on rendered songs, often the shortest lag: a one-second loop);
    scored on what sounds, it is a whole number of progressions, as without the pause."""
    bar = 1.6
    period = find_period(pause(groove(HISTORY_S, bar), 6.0, 4.0)) / (2 * bar * SAMPLE_RATE)
    assert period >= 1 and period == pytest.approx(round(period), abs=FEATURE_HOP / (2 * bar * SAMPLE_RATE))


def test_after_a_pause_the_guess_is_copied_from_a_repetition_that_sounds() -> None:
    """1 s after the band comes back the last period still holds the pause; the guess is the
    repetition before it, and so what the song really does next."""
    bar, length = 1.6, 3 * SAMPLE_RATE
    song = groove(HISTORY_S + 4, bar)
    end = int(HISTORY_S * SAMPLE_RATE)
    history = pause(song, HISTORY_S - 4.0, 3.0)[:end]  # silent from 4 s to 1 s before the end
    follow = PeriodicContinuation()
    guess = follow(history, end, length)
    progressions = follow.lag / (2 * bar * SAMPLE_RATE)
    assert progressions == pytest.approx(round(progressions), abs=2 * FEATURE_HOP / (2 * bar * SAMPLE_RATE))
    assert follow.lag > 4 * SAMPLE_RATE  # a copy from less than 4 s back would hold the pause
    assert sounding(band_energies(guess)).all()
    truth = song[end:end + length]
    assert np.corrcoef(band_energies(guess).ravel(), band_energies(truth).ravel())[0, 1] > 0.9


def stream_lags(audio: np.ndarray, step_s: float = 1.5, length: int = 3 * SAMPLE_RATE) -> list[tuple[int, int | None, np.ndarray | None]]:
    """(end, lag, guess) of a follower called as the engine calls it, a step at a time (r = 1/4)."""
    follow, step, out = PeriodicContinuation(), int(step_s * SAMPLE_RATE), []
    for end in range(step, audio.shape[0] - length, step):
        guess = follow(audio[max(0, end - int(MEMORY_S * SAMPLE_RATE)):end], end, length)
        out.append((end, follow.lag, guess))
    return out


def test_a_cut_to_another_song_is_followed_within_seconds(monkeypatch) -> None:
    """A song in 1.6-s bars cut at 16 s to one in 2.137-s bars: 6.5 s after the cut the period is the
    new song's progression and the guess what it plays next. Without the rule the old song, most of
    the period's history, held a period of three quarters of it until 11 s after the cut."""
    import jaxaccomp.streaming.continuation as continuation

    bar = 2.137
    first = groove(16.0, 1.6)
    audio = np.concatenate([first, groove(20.0, bar, seed=1)])

    def six_and_a_half_s_after_the_cut() -> tuple[float, float]:
        end, lag, guess = next(row for row in stream_lags(audio) if row[0] >= first.shape[0] + 6.5 * SAMPLE_RATE)
        truth = audio[end:end + guess.shape[0]]
        return lag / (2 * bar * SAMPLE_RATE), np.corrcoef(band_energies(guess).ravel(), band_energies(truth).ravel())[0, 1]

    progressions, agreement = six_and_a_half_s_after_the_cut()
    assert progressions == pytest.approx(round(progressions), abs=0.01) and round(progressions) >= 1
    assert agreement > 0.99
    monkeypatch.setattr(continuation, "STILL_REPEATS", -2.0)  # every period describes the song: no rule
    progressions, agreement = six_and_a_half_s_after_the_cut()
    assert progressions == pytest.approx(0.75, abs=0.01) and agreement < 0.97


def test_a_song_that_goes_on_after_a_pause_is_not_a_new_one(monkeypatch) -> None:
    """Streamed a step at a time, a groove with a 4-s pause gets the same lags with the rule as without."""
    import jaxaccomp.streaming.continuation as continuation

    audio = pause(groove(40.0, 1.6), 14.0, 4.0)
    with_rule = [lag for _, lag, _ in stream_lags(audio)]
    monkeypatch.setattr(continuation, "STILL_REPEATS", -2.0)
    assert with_rule == [lag for _, lag, _ in stream_lags(audio)]
    assert sum(lag is not None for lag in with_rule) > len(with_rule) // 2  # the rule had periods to judge


@pytest.mark.parametrize("continues", [True, False])
def test_engine_shows_the_continued_song_once_it_repeats(continues: bool) -> None:
    from jaxaccomp.codec.embedded import EmbeddedCodec
    from jaxaccomp.stream_settings import StreamSettings
    from jaxaccomp.streaming import StreamingEngine
    from jaxaccomp.streaming.engine import silence_latent

    codec, recorder = EmbeddedCodec(), Recorder(continues)
    engine = StreamingEngine(codec, recorder, ["bass"], StreamSettings())
    silence = silence_latent(codec, 64)
    song = groove(20.0, 1.6)
    step = engine.step_size
    plans = [engine.step(song[k * step:(k + 1) * step]).plan for k in range(song.shape[0] // step)]
    for plan, (seen_plan, context) in zip(plans, recorder.seen):
        history_s = plan.playback / SAMPLE_RATE
        if continues and history_s >= 4.0:  # a 1-s lag scored on 2 s of overlap, and the 3.2-s progression found
            assert seen_plan.first_masked == 64
            future = context[:, plan.first_masked + 1:]  # columns wholly after P: the guess, not silence
            assert np.abs(future - silence[:, None]).max(axis=0).min() > 0.5
        else:
            assert seen_plan.first_masked == plan.first_masked
    # the result's plan is the stream's own, whatever the model was shown
    assert all(plan.first_masked < 64 for plan in plans)


def test_period_is_found_again_only_after_a_second_of_new_audio(monkeypatch) -> None:
    import jaxaccomp.streaming.continuation as continuation

    searches = []
    progression = int(2 * 1.6 * SAMPLE_RATE)  # the groove's own period: it describes the newest seconds
    monkeypatch.setattr(continuation, "find_period", lambda audio, rate: searches.append(len(audio)) or progression)
    follow = PeriodicContinuation()
    song = groove(HISTORY_S, 1.6)
    end = 10 * SAMPLE_RATE
    for offset in (0, 4134, SAMPLE_RATE - 1):  # steps of r = 1/64 within one second: one search
        follow(song[:end + offset], end + offset, 100)
    assert len(searches) == 1
    follow(song[:end + SAMPLE_RATE], end + SAMPLE_RATE, 100)  # a second later
    follow(song[:end], end, 100)  # the stream went back (a reset elsewhere): search again
    assert len(searches) == 3


def test_memory_holds_each_frame_once_and_forgets_after_a_gap() -> None:
    audio, _ = song_with_form(1.6)
    follow = PeriodicContinuation()
    step = SAMPLE_RATE + 4410  # each call finds the lag again
    kept = int(MEMORY_S * SAMPLE_RATE)
    for end in range(step, audio.shape[0], step):
        follow(audio[max(0, end - kept):end], end, 100)
    batch = band_energies(audio[:end])
    memory = follow._features
    assert memory.shape[0] == min(batch.shape[0], int(MEMORY_S * SAMPLE_RATE / FEATURE_HOP))
    # Equal to float32 rounding, not bit for bit: the band sums are one BLAS product, whose kernel
    # (and so the last bit) may depend on how many frames it multiplies; a frame held twice, missing
    # or one hop off differs by whole units.
    np.testing.assert_allclose(memory, batch[-memory.shape[0]:], rtol=1e-5, atol=1e-6)
    jump = end + 2 * kept  # far ahead: the history no longer joins the memory
    follow(np.zeros(3 * SAMPLE_RATE, np.float32), jump, 100)
    first, last = -(-(jump - 3 * SAMPLE_RATE) // FEATURE_HOP), (jump - FEATURE_FFT) // FEATURE_HOP
    assert follow._features.shape[0] == last - first + 1  # only the frames of the new history


def test_the_checkpoint_recommends_a_continuation_and_a_flag_overrides_it(tmp_path) -> None:
    import json
    import shutil

    from jaxaccomp.streaming import models

    _, shipped = models.load_model(None, "diffusion", None, None)
    _, off = models.load_model(None, "diffusion", None, None, continuation="off")
    assert (shipped.continues_context, off.continues_context) == (True, False)  # frames_edm recommends it
    assert "periodic continuation" in shipped.sampler_name() and "no continuation" in off.sampler_name()
    folder = tmp_path / "model"
    shutil.copytree(models.default_checkpoint("diffusion"), folder)
    meta = json.loads((folder / "meta.json").read_text())
    (folder / "meta.json").write_text(json.dumps({**meta, "sampling": {}}))
    assert not models.load_model(folder, None, None, None)[1].continues_context  # says nothing: off
    (folder / "meta.json").write_text(json.dumps({**meta, "sampling": {"continuation": "psychic"}}))
    with pytest.raises(ValueError, match="unknown context continuation 'psychic'"):
        models.load_model(folder, None, None, None)
