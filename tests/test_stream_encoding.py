"""Stream encoding: every window's latents are those of encoding it whole, while each step analyses
only the audio that is new or not final yet."""

from __future__ import annotations

import numpy as np
import pytest

import jaxaccomp.codec.stream_encoding as stream_encoding
from jaxaccomp.codec import get_codec
from jaxaccomp.codec.embedded import EmbeddedCodec
from jaxaccomp.codec.stream_encoding import stream_encoder
from jaxaccomp.stream_settings import StreamSettings
from jaxaccomp.streaming import StreamingEngine
from tests.support.predictors import Recorder

SR = 44100
HOP = 4096
WINDOW = 64 * HOP + 1536  # the samples of one model window
STEPS = {"r = 1/64": 4134, "r = 1/16": 16537, "r = 1/4": 66150}  # a 264600-sample window's steps


@pytest.fixture(scope="module")
def codec():
    return EmbeddedCodec()


@pytest.fixture(scope="module")
def band():
    """10 s of a bass line (harmonic notes of changing pitch) with rests, and decaying noise hits."""
    rng = np.random.default_rng(0)
    audio = np.zeros(10 * SR)
    at = 0
    for hz in rng.choice([41.2, 55.0, 73.4, 98.0, 130.8], 20):
        length = int(rng.uniform(0.15, 0.6) * SR)
        t = np.arange(min(length, audio.shape[0] - at)) / SR
        audio[at:at + t.shape[0]] += sum(0.3 / k * np.sin(2 * np.pi * k * hz * t) for k in range(1, 6)) * np.exp(-3 * t)
        at += length + int(rng.uniform(0, 0.3) * SR)  # a rest: the unvoiced quarters take their neighbours' pitch
    for hit in rng.integers(0, audio.shape[0] - 2000, 40):
        audio[hit:hit + 2000] += 0.5 * rng.standard_normal(2000) * np.exp(-np.arange(2000) / 300)
    return audio.astype(np.float32)


def windows(band: np.ndarray, step: int):
    """(window, its first sample, its final samples) of each step as the engine lays them out at w = 0
    (`timeline.plan_step`): the window ends at the first whole frame a step after the playback position;
    what lies after the playback position is a guess that changes."""
    rng = np.random.default_rng(1)
    for playback in range(step, band.shape[0], step):
        start = -(-(playback + step) // HOP) * HOP - 64 * HOP
        final = playback - start
        window = np.zeros(WINDOW, np.float32)
        window[max(-start, 0):final] = band[max(start, 0):playback]
        window[final:] = 0.05 * rng.standard_normal(WINDOW - final)
        yield window, start, final


@pytest.mark.parametrize("step", STEPS.values(), ids=STEPS.keys())
def test_each_window_encodes_as_the_whole_window_does(codec, band, step):
    encoder = stream_encoder(codec)
    for window, start, final in windows(band, step):
        np.testing.assert_array_equal(encoder(window, start, final), codec.encode(window[None])[0])


def test_a_small_step_analyses_only_its_new_audio_and_the_guess(band, monkeypatch):
    codec = EmbeddedCodec()
    frames, quarters = [], []
    column_features, quarter_pitch = codec.column_features, stream_encoding.quarter_pitch
    monkeypatch.setattr(codec, "column_features", lambda audio: frames.append((audio.shape[1] - 1536) // HOP)
                        or column_features(audio))
    monkeypatch.setattr(stream_encoding, "quarter_pitch", lambda audio, first, count: quarters.append(count)
                        or quarter_pitch(audio, first, count))
    encoder = stream_encoder(codec)
    for window, start, final in windows(band, STEPS["r = 1/64"]):
        encoder(window, start, final)
    assert frames[0] == 64 and sum(quarters[:2]) == 256  # the first window is analysed whole
    assert max(frames[1:]) <= 4, frames  # of 64: the frames the guess reaches and the one now final
    assert max(a + b for a, b in zip(quarters[2::2], quarters[3::2])) <= 16, quarters  # of 256


def test_samples_delivered_again_are_analysed_again(codec, band):
    """A step may deliver samples the last one delivered; forgetting them makes the window whole again."""
    window, start, final = next(w for w in windows(band, STEPS["r = 1/16"]) if w[1] > 0)
    kept, stale = stream_encoder(codec), stream_encoder(codec)
    kept(window, start, final)
    stale(window, start, final)
    changed = window.copy()
    changed[final - 20000:final] *= -0.5
    kept.forget_from(start + final - 20000)
    np.testing.assert_array_equal(kept(changed, start, final), codec.encode(changed[None])[0])
    assert not np.array_equal(stale(changed, start, final), codec.encode(changed[None])[0])


def test_a_window_off_the_frame_grid_is_refused(codec, band):
    with pytest.raises(ValueError, match="frame grid"):
        stream_encoder(codec)(band[:WINDOW], 100, WINDOW)


def test_the_standardised_codec_streams_standardised_latents(band):
    codec = get_codec("embedded-2")  # the shipped models' latents: standardised per channel
    encoder = stream_encoder(codec)
    for window, start, final in list(windows(band, STEPS["r = 1/4"]))[:3]:
        np.testing.assert_array_equal(encoder(window, start, final), codec.encode(window[None])[0])


def test_a_codec_without_local_analysis_encodes_every_window_whole(codec, band):
    class Network:
        calls = 0

        def encode(self, audio):
            Network.calls += 1
            return codec.encode(audio)

    encoder = stream_encoder(Network())
    for window, start, final in list(windows(band, STEPS["r = 1/64"]))[:4]:
        np.testing.assert_array_equal(encoder(window, start, final), codec.encode(window[None])[0])
    assert Network.calls == 4


@pytest.mark.parametrize("r", [1 / 4, 1 / 64])
def test_the_engine_conditions_on_the_whole_windows_latents(codec, band, r):
    recorder = Recorder()
    engine = StreamingEngine(codec, recorder, ("bass",), StreamSettings(264600, r, 1, 0.02), seed=0)
    for k in range(1, min(12, band.shape[0] // engine.step_size + 1)):
        engine.step(band[(k - 1) * engine.step_size:k * engine.step_size])
    for plan, context in recorder.seen:
        window = np.zeros(WINDOW, np.float32)
        window[max(-plan.window_start, 0):plan.playback - plan.window_start] = band[max(plan.window_start, 0):plan.playback]
        np.testing.assert_array_equal(context, codec.encode(window[None])[0])
