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


def test_the_embedded_tier_codec_is_the_raw_codec_standardised_by_the_shipped_statistics():
    from jaxaccomp.codec import get_codec
    from jaxaccomp.codec.stats import EMBEDDED_STATS, Standardised

    codec, raw = get_codec("embedded"), EmbeddedCodec()
    stats = LatentStats.load(EMBEDDED_STATS, expected_codec=raw.name)
    assert isinstance(codec, Standardised) and codec.name == raw.name
    assert stats.frames > 10_000 and np.all(stats.std > 0.1)  # measured on rendered songs, not a placeholder
    audio = next(_clips(1))
    np.testing.assert_allclose(codec.encode(audio), (raw.encode(audio) - stats.mean[:, None]) / stats.std[:, None],
                               rtol=1e-5, atol=1e-5)
    latents = codec.encode(audio)
    raw_latents = latents * stats.std[:, None] + stats.mean[:, None]
    np.testing.assert_array_equal(codec.decode(latents, seed=3), raw.decode(raw_latents, seed=3))
    with pytest.raises(ValueError, match="cannot standardise"):
        Standardised(raw, LatentStats("music2latent", stats.mean, stats.std, stats.frames))


def test_stats_command_measures_stems_and_accompaniments_and_never_overwrites(slakh_root, tmp_path, capsys):
    from jaxaccomp.data.latent_stats import main

    out = tmp_path / "stats.json"
    assert main(["--data", str(slakh_root), "--songs", "2", "--seconds", "4", "--out", str(out)]) == 0
    stats = LatentStats.load(out, expected_codec=EmbeddedCodec.name)
    assert stats.frames == 2 * 8 * ((4 * 44100 - 1536) // 4096)  # 2 songs x (4 stems + 4 accompaniments)
    before = out.read_text()
    with pytest.raises(SystemExit):
        main(["--data", str(slakh_root), "--songs", "1", "--out", str(out)])
    assert "exists; pass --force" in capsys.readouterr().err and out.read_text() == before
