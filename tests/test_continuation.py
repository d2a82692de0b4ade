"""The periodic continuation of the song (streaming.continuation) and how the engine uses it."""

from __future__ import annotations

import numpy as np
import pytest

from jaxaccomp.constants import SAMPLE_RATE
from jaxaccomp.streaming.continuation import HISTORY_S, PeriodicContinuation, band_energies, find_period


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


class Recorder:
    """A Predictor that returns zeros and records what the engine showed it."""

    width = 64

    def __init__(self, continues_context: bool):
        self.continues_context = continues_context
        self.seen: list[tuple[int, np.ndarray]] = []

    def __call__(self, plan, source, context, labels, key):
        self.seen.append((plan.first_masked, context))
        return np.zeros_like(source)


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
    for plan, (first_masked, context) in zip(plans, recorder.seen):
        history_s = plan.playback / SAMPLE_RATE
        if continues and history_s >= 4.0:  # a 1-s lag scored on 2 s of overlap, and the 3.2-s progression found
            assert first_masked == 64
            future = context[:, plan.first_masked + 1:]  # columns wholly after P: the guess, not silence
            assert np.abs(future - silence[:, None]).max(axis=0).min() > 0.5
        else:
            assert first_masked == plan.first_masked
    # the result's plan is the stream's own, whatever the model was shown
    assert all(plan.first_masked < 64 for plan in plans)


def test_period_is_found_again_only_after_a_second_of_new_audio(monkeypatch) -> None:
    import jaxaccomp.streaming.continuation as continuation

    searches = []
    monkeypatch.setattr(continuation, "find_period", lambda audio, rate: searches.append(len(audio)) or 44100)
    follow = PeriodicContinuation()
    history = groove(HISTORY_S, 1.6)
    end = 10 * SAMPLE_RATE
    for offset in (0, 4134, SAMPLE_RATE - 1):  # steps of r = 1/64 within one second: one search
        follow(history, end + offset, 100)
    assert len(searches) == 1
    follow(history, end + SAMPLE_RATE, 100)  # a second later
    follow(history, end, 100)  # the stream went back (a reset elsewhere): search again
    assert len(searches) == 3


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
