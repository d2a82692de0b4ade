"""Every codec honours the same contract: grid, shapes, lengths, determinism, seeding, batching, errors."""

import numpy as np
import pytest

from jaxaccomp.codec.base import Codec, decoded_length, num_frames


def _embedded():
    from jaxaccomp.codec.embedded import EmbeddedCodec

    return EmbeddedCodec()


def _music2latent_tiny():
    pytest.importorskip("music2latent")
    from jaxaccomp.codec.music2latent import Music2LatentCodec

    return Music2LatentCodec.random("tiny", seed=0, device="cpu")


CODECS = {"embedded": _embedded, "music2latent-tiny": pytest.param(_music2latent_tiny, marks=pytest.mark.torch)}


@pytest.fixture(scope="module", params=list(CODECS.values()), ids=list(CODECS))
def codec(request):
    return request.param()


def _audio(batch, samples, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(samples) / 44100
    tone = np.sin(2 * np.pi * rng.uniform(80, 800, (batch, 1)) * t)
    return (0.3 * tone + 0.05 * rng.standard_normal((batch, samples))).astype(np.float32)


@pytest.mark.parametrize("samples, frames", [(264600, 64), (263680, 64), (131072, 31), (5632, 1), (5631, 0)])
def test_num_frames(samples, frames):
    assert num_frames(samples) == frames


def test_grid_and_protocol(codec):
    assert isinstance(codec, Codec)
    assert (codec.sample_rate, codec.latent_channels, codec.hop, codec.pad) == (44100, 64, 4096, 1536)
    assert isinstance(codec.name, str) and isinstance(codec.is_pretrained, bool)


@pytest.mark.parametrize("samples", [264600, 263680, 131072])
def test_encode_shapes(codec, samples):
    latents = codec.encode(_audio(1, samples))
    assert latents.shape == (1, 64, num_frames(samples)) and latents.dtype == np.float32
    assert np.all(np.isfinite(latents))


def test_decode_length_and_seeding(codec):
    latents = codec.encode(_audio(2, decoded_length(6)))
    audio = codec.decode(latents, seed=1)
    assert audio.shape == (2, decoded_length(6)) and audio.dtype == np.float32
    np.testing.assert_array_equal(audio, codec.decode(latents, seed=1))
    assert np.abs(audio - codec.decode(latents, seed=2)).max() > 0


def test_encode_is_deterministic_and_batch_equals_items(codec):
    audio = _audio(3, decoded_length(5), seed=4)
    batch = codec.encode(audio)
    np.testing.assert_array_equal(batch, codec.encode(audio))
    for i in range(3):
        np.testing.assert_allclose(codec.encode(audio[i:i + 1])[0], batch[i], atol=1e-4, rtol=1e-4)


def test_bad_input_is_a_clear_error(codec):
    with pytest.raises(ValueError, match="too short: the codec needs at least 5632"):
        codec.encode(np.zeros((1, 5631), np.float32))
    with pytest.raises(ValueError, match=r"audio must be \[batch, samples\]"):
        codec.encode(np.zeros(44100, np.float32))
    bad = _audio(1, 44100)
    bad[0, 100] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        codec.encode(bad)
    with pytest.raises(ValueError, match=r"latents must be \[batch, 64, frames >= 1\]"):
        codec.decode(np.zeros((1, 32, 4), np.float32))
