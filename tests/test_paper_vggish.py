"""The paper's VGGish embedding (`jaxaccomp.eval.paper.vggish`) against the PyPI torchvggish package."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from jaxaccomp.eval.paper import WeightsError, vggish

RATE = 16000


@pytest.fixture(scope="module")
def torchvggish():
    """The torchvggish package (0.2), an independent VGGish port (installed by make install)."""
    return pytest.importorskip("torchvggish", reason="torchvggish==0.2 (PyPI) is the independent reference")


@pytest.fixture(scope="module")
def reference(torchvggish, tmp_path_factory):
    """torchvggish's randomly initialised network without its last ReLU (as frechet_audio_distance
    does for use_activation=False), and its state dict saved as a .pth."""
    torch.manual_seed(0)
    network = torchvggish.torchvggish._vgg(postprocess=False).eval()
    path = tmp_path_factory.mktemp("vggish") / "random.pth"
    torch.save(network.state_dict(), path)
    network.embeddings = network.embeddings[:-1]
    return network, path


def test_matches_torchvggish(torchvggish, reference):
    network, path = reference
    audio = np.random.default_rng(0).uniform(-0.5, 0.5, 3 * RATE + 1234)
    theirs_examples = torchvggish.vggish_input.waveform_to_examples(audio, RATE, return_tensor=False)
    ours_examples = vggish.examples(audio, RATE)
    assert ours_examples.shape == theirs_examples.shape == (3, 96, 64)
    np.testing.assert_allclose(ours_examples, theirs_examples, rtol=1e-6, atol=1e-5)
    at_44k = np.random.default_rng(2).uniform(-0.5, 0.5, 44100 * 2)  # resampled to 16 kHz as the reference
    np.testing.assert_allclose(vggish.examples(at_44k, 44100),
                               torchvggish.vggish_input.waveform_to_examples(at_44k, 44100, return_tensor=False),
                               rtol=1e-6, atol=1e-5)
    with torch.no_grad():
        theirs = network(torch.from_numpy(ours_examples)[:, None]).numpy()
    ours = vggish.vectors(audio, RATE, path)
    assert ours.dtype == np.float32 and ours.shape == (3, 128)
    assert (ours < 0).any(), "the embedding is taken before the last ReLU"
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5 * np.abs(theirs).max())


def test_refusals(tmp_path):
    def refusal(path) -> str:
        with pytest.raises(WeightsError) as error:
            vggish.load(path)
        message = str(error.value)
        assert message.startswith("--vggish ") and "\n" not in message
        return message

    assert "no such file" in refusal(tmp_path / "absent.pth")
    (tmp_path / "text.pth").write_text("not a checkpoint")
    assert "not a readable torch checkpoint" in refusal(tmp_path / "text.pth")
    names = [f"features.{i}.{kind}" for i in (0, 3, 6, 8, 11, 13) for kind in ("weight", "bias")]
    names += [f"embeddings.{i}.{kind}" for i in (0, 2, 4) for kind in ("weight", "bias")]
    torch.save({name: torch.zeros(1) for name in names}, tmp_path / "shapes.pth")
    assert "'features.0.weight' has shape (1,), expected (64, 1, 3, 3)" in refusal(tmp_path / "shapes.pth")
    torch.save({name: torch.zeros(1) for name in names[:-1]}, tmp_path / "missing.pth")
    assert "lacks 'embeddings.4.bias'" in refusal(tmp_path / "missing.pth")


@pytest.fixture(scope="module")
def random_weights(tmp_path_factory):
    """Our own network's random state dict, saved as a .pth."""
    torch.manual_seed(1)
    path = tmp_path_factory.mktemp("vggish") / "ours.pth"
    torch.save(vggish.VGGish().state_dict(), path)
    return path


def test_vectors_at_44k_and_short_audio(random_weights):
    path = random_weights
    audio = np.random.default_rng(1).standard_normal(3 * 44100).astype(np.float32) * 0.1
    vectors = vggish.vectors(audio, 44100, path)
    assert vectors.shape == (3, 128) and vectors.dtype == np.float32 and np.all(np.isfinite(vectors))
    assert vggish.load(path) is vggish.load(str(path))  # cached per file
    with pytest.raises(ValueError, match=r"^VGGish needs at least 0.96 s of audio, got 0.50 s$"):
        vggish.examples(np.zeros(44100 // 2), 44100)
