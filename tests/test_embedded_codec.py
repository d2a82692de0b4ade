"""The embedded codec keeps what the model and a listener need: onsets, spectral envelope, harmony."""

import numpy as np
import pytest

from jaxaccomp.codec.base import decoded_length
from jaxaccomp.codec.embedded import EmbeddedCodec

SR = 44100


@pytest.fixture(scope="module")
def codec():
    return EmbeddedCodec()


def drum_pattern(seed: int, frames: int = 40) -> np.ndarray:
    """Noise-burst hits at irregular times over a quiet pad: a rhythm with no fixed period."""
    rng = np.random.default_rng(seed)
    n = decoded_length(frames)
    audio = 0.01 * np.sin(2 * np.pi * 220 * np.arange(n) / SR)
    position = 2000
    decay = np.exp(-np.arange(4000) / 500)
    while position < n - 4000:
        audio[position:position + 4000] += 0.6 * rng.standard_normal(4000) * decay
        position += int(rng.uniform(0.1, 0.4) * SR)
    return audio[None].astype(np.float32)


def onset_envelope(audio: np.ndarray) -> np.ndarray:
    """Positive change of log energy per 512-sample hop."""
    hops = audio[0, : audio.shape[1] // 512 * 512].reshape(-1, 512)
    energy = np.log(np.square(hops).sum(axis=1) + 1e-6)
    return np.maximum(np.diff(energy), 0.0)


def test_round_trip_keeps_onsets(codec):
    original = drum_pattern(seed=1)
    decoded = codec.decode(codec.encode(original), seed=0)
    control = codec.decode(codec.encode(drum_pattern(seed=2)), seed=0)
    kept = np.corrcoef(onset_envelope(original), onset_envelope(decoded))[0, 1]
    shuffled = np.corrcoef(onset_envelope(original), onset_envelope(control))[0, 1]
    assert kept > 0.5
    assert kept > shuffled + 0.3


def instrument(kind: str, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = decoded_length(32)
    t = np.arange(n) / SR
    if kind == "bass":
        f0 = rng.uniform(41, 82)
        audio = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in (1, 2, 3))
    elif kind == "hihat":
        noise = np.diff(rng.standard_normal(n + 1))  # high-passed
        audio = noise * (np.sin(2 * np.pi * rng.uniform(3, 6) * t) > 0.6)
    else:  # piano-like chord with decaying harmonics
        root = 261.63 * 2 ** (rng.integers(0, 5) / 12)
        audio = sum(np.sin(2 * np.pi * root * r * k * t) * np.exp(-3 * t % 1) / k
                    for r in (1, 2 ** (4 / 12), 2 ** (7 / 12)) for k in (1, 2, 3, 4))
    return (0.2 * audio / np.abs(audio).max())[None].astype(np.float32)


def test_latents_tell_instruments_apart(codec):
    kinds = ("bass", "hihat", "piano")
    means = {(k, s): codec.encode(instrument(k, s))[0].mean(axis=1) for k in kinds for s in (0, 1)}
    within = max(np.linalg.norm(means[k, 0] - means[k, 1]) for k in kinds)
    between = min(np.linalg.norm(means[a, s] - means[b, u]) for a in kinds for b in kinds if a < b
                  for s in (0, 1) for u in (0, 1))
    assert between > 2 * within


def test_round_trip_keeps_the_pitch_classes_of_a_chord(codec):
    n = decoded_length(16)
    t = np.arange(n) / SR
    chord = sum(np.sin(2 * np.pi * f * t) for f in (261.63, 329.63, 392.0))  # C, E, G
    latents = codec.encode((0.2 * chord)[None].astype(np.float32))
    again = codec.encode(codec.decode(latents, seed=3))
    for z in (latents, again):
        strongest = set(np.argsort(z[0, 52:64].mean(axis=1))[-3:])
        assert strongest == {0, 4, 7}


def test_round_trip_keeps_the_spectral_envelope(codec):
    low = instrument("bass", 0)
    high = instrument("hihat", 0)
    for audio in (low, high, instrument("piano", 0)):
        latents = codec.encode(audio)
        again = codec.encode(codec.decode(latents, seed=0))
        bands = latents[0, :44].mean(axis=1)
        loud = bands > bands.max() - 1.5  # bands within about 26 dB of the loudest one
        error = np.abs(again[0, :44].mean(axis=1) - bands)[loud]
        assert loud.sum() >= 3
        assert error.max() < 0.5  # in latent units: a factor of e^2 in band power
