import numpy as np
import pytest

from jaxaccomp.codec.embedded import EmbeddedCodec
from jaxaccomp.codec.stats import LatentStats, compute_stats


def _clips(seed):
    rng = np.random.default_rng(seed)
    t = np.arange(44100 * 2) / 44100
    for _ in range(4):
        tone = np.sin(2 * np.pi * rng.uniform(60, 1000, (2, 1)) * t) * rng.uniform(0.01, 0.5, (2, 1))
        yield (tone + rng.uniform(0.001, 0.05) * rng.standard_normal(tone.shape)).astype(np.float32)


def test_normalised_latents_are_unit_scale_and_stats_round_trip(tmp_path):
    codec = EmbeddedCodec()
    stats = compute_stats(codec, _clips(0))
    latents = np.concatenate([codec.encode(c) for c in _clips(0)], axis=0)
    normalised = stats.normalize(latents)
    varying = stats.std > 1e-3
    np.testing.assert_allclose(normalised.mean(axis=(0, 2))[varying], 0, atol=1e-4)
    np.testing.assert_allclose(normalised.std(axis=(0, 2))[varying], 1, atol=1e-3)
    np.testing.assert_allclose(stats.denormalize(normalised), latents, atol=1e-4)

    stats.save(tmp_path / "stats.json")
    loaded = LatentStats.load(tmp_path / "stats.json", expected_codec=EmbeddedCodec.name)
    np.testing.assert_array_equal(loaded.mean, stats.mean)
    assert loaded.frames == stats.frames == 4 * 2 * 21
    with pytest.raises(ValueError, match=f"statistics of codec '{EmbeddedCodec.name}', not 'music2latent'"):
        LatentStats.load(tmp_path / "stats.json", expected_codec="music2latent")
    with pytest.raises(ValueError, match="no audio"):
        compute_stats(codec, [])
