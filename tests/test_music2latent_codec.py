"""Music2Latent without the hub: checkpoint resolution, strict loading, the factory's choice."""

import logging

import numpy as np
import pytest

pytest.importorskip("music2latent")
torch = pytest.importorskip("torch")

from jaxaccomp.codec import get_codec  # noqa: E402
from jaxaccomp.codec.embedded import EmbeddedCodec  # noqa: E402
from jaxaccomp.codec.stats import Standardised  # noqa: E402
from jaxaccomp.codec.music2latent import (ENV_CHECKPOINT, CheckpointNotFound, Music2LatentCodec,  # noqa: E402
                                          build_network, resolve_checkpoint)

pytestmark = pytest.mark.torch


@pytest.fixture(autouse=True)
def empty_hub_cache(tmp_path, monkeypatch):
    """Every test starts with no environment variable and an empty Hugging Face cache."""
    import huggingface_hub.constants

    monkeypatch.delenv(ENV_CHECKPOINT, raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    return tmp_path / "hub"


@pytest.fixture(scope="module")
def full_checkpoint(tmp_path_factory):
    """A checkpoint shaped like the published music2latent.pt: random full-size weights plus a numpy scalar."""
    torch.manual_seed(0)
    network = build_network("full", zero_init=False)
    path = tmp_path_factory.mktemp("m2l") / "music2latent.pt"
    torch.save({"gen_state_dict": network.state_dict(), "it": np.float64(12345.0)}, path)
    return path, network


def test_no_checkpoint_names_every_place_looked_in():
    with pytest.raises(CheckpointNotFound) as info:
        resolve_checkpoint()
    message = str(info.value)
    assert "Hugging Face cache" in message and "music2latent package folder" in message
    assert ENV_CHECKPOINT in message and "\n" not in message


def test_resolution_order(tmp_path, monkeypatch, empty_hub_cache):
    env_file, explicit = tmp_path / "env.pt", tmp_path / "explicit.pt"
    env_file.write_bytes(b"x")
    explicit.write_bytes(b"x")
    monkeypatch.setenv(ENV_CHECKPOINT, str(env_file))
    assert resolve_checkpoint() == env_file
    assert resolve_checkpoint(explicit) == explicit
    with pytest.raises(CheckpointNotFound, match="does not exist"):
        resolve_checkpoint(tmp_path / "missing.pt")

    monkeypatch.delenv(ENV_CHECKPOINT)
    repo = empty_hub_cache / "models--SonyCSLParis--music2latent"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("abc123")
    snapshot = repo / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (snapshot / "music2latent.pt").write_bytes(b"x")
    assert resolve_checkpoint() == snapshot / "music2latent.pt"


def test_a_checkpoint_loads_strictly_and_really_sets_the_weights(full_checkpoint):
    path, network = full_checkpoint
    codec = Music2LatentCodec(path, device="cpu")
    assert codec.is_pretrained and codec.name == "music2latent"
    reference = Music2LatentCodec(device="cpu", network=network)
    audio = (0.1 * np.random.default_rng(0).standard_normal((1, 44100))).astype(np.float32)
    np.testing.assert_array_equal(codec.encode(audio), reference.encode(audio))


def test_a_checkpoint_for_another_network_is_refused(tmp_path, full_checkpoint):
    path, network = full_checkpoint
    weights = dict(network.state_dict())
    weights.pop(next(iter(weights)))
    broken = tmp_path / "broken.pt"
    torch.save({"gen_state_dict": weights}, broken)
    with pytest.raises(ValueError, match="does not fit the Music2Latent network: .*Missing key"):
        Music2LatentCodec(broken, device="cpu")
    other = tmp_path / "other.pt"
    torch.save({"state_dict": weights}, other)
    with pytest.raises(ValueError, match="not a Music2Latent checkpoint"):
        Music2LatentCodec(other, device="cpu")


def test_factory_prefers_music2latent_and_falls_back_offline(monkeypatch, caplog, full_checkpoint):
    with caplog.at_level(logging.WARNING, logger="jaxaccomp.codec"):
        codec = get_codec("auto")
    assert isinstance(codec, Standardised) and isinstance(codec.raw, EmbeddedCodec)  # the embedded tier's codec
    assert "codec: embedded (Music2Latent unavailable: no Music2Latent checkpoint found" in caplog.text

    monkeypatch.setenv(ENV_CHECKPOINT, str(full_checkpoint[0]))
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="jaxaccomp.codec"):
        codec = get_codec("auto", device="cpu")
    assert isinstance(codec, Music2LatentCodec) and codec.is_pretrained
    assert f"codec: music2latent (checkpoint {full_checkpoint[0]})" in caplog.text
    with pytest.raises(ValueError, match="unknown codec 'mp3'"):
        get_codec("mp3")


@pytest.mark.slow
def test_full_size_network_keeps_the_contract():
    codec = Music2LatentCodec.random("full", device="cpu")
    audio = (0.1 * np.random.default_rng(0).standard_normal((2, 264600))).astype(np.float32)
    latents = codec.encode(audio)
    assert latents.shape == (2, 64, 64)
    decoded = codec.decode(latents[:, :, :4], seed=0)
    assert decoded.shape == (2, 4 * 4096 + 1536)
    np.testing.assert_array_equal(decoded, codec.decode(latents[:, :, :4], seed=0))
