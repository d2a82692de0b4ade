"""Beat This for the paper's beat F1 (jaxaccomp.eval.paper.beat_this): the log-mel front end, the
checkpoint loader, the chunked inference against beat_this's own, and the refusals of a wrong file."""

from __future__ import annotations

import importlib
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

pytest.importorskip("beat_this", reason="beat-this is not installed (the Makefile installs it with --no-deps)")
from beat_this.model.beat_tracker import BeatThis  # noqa: E402

from jaxaccomp.eval.paper import WeightsError, beat_this  # noqa: E402

SMALL = dict(transformer_dim=32, ff_mult=1, n_layers=1, head_dim=8, stem_dim=8)  # partial transformers on
TINY = dict(SMALL, partial_transformers=False)  # ~0.1 s per 1500-frame chunk on one CPU thread
TRAINING = dict(fps=50, lr=0.0008, weight_decay=0.01, pos_weights={"beat": 1, "downbeat": 1},
                loss_type="shift_tolerant_weighted_bce", warmup_steps=1000, max_epochs=100, use_dbn=False,
                eval_trim_beats=5, dropout={"frontend": 0.1, "transformer": 0.2})  # PLBeatThis's other arguments


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def network(hyper: dict, seed: int = 0, head_bias: float = 0.0) -> BeatThis:
    """A BeatThis with random weights and batch-norm statistics (`head_bias` raises every logit)."""
    torch.manual_seed(seed)
    net = BeatThis(**hyper)
    for module in net.modules():
        if isinstance(module, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            module.running_mean.normal_(0.0, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    with torch.no_grad():
        net.task_heads.beat_downbeat_lin.bias.fill_(head_bias)
    return net.eval()


def save_checkpoint(path: Path, net: BeatThis, hyper: dict | None, key_prefix: str = "model.") -> Path:
    """`net` saved as a Lightning checkpoint of beat_this's PLBeatThis."""
    checkpoint = {"state_dict": {key_prefix + key: value for key, value in net.state_dict().items()},
                  "epoch": 99, "global_step": 1000, "pytorch-lightning_version": "2.2.1"}
    if hyper is not None:
        checkpoint["hyper_parameters"] = {**TRAINING, **hyper}
    torch.save(checkpoint, path)
    return path


@pytest.fixture
def package_inference(monkeypatch):
    """beat_this.inference, imported with an empty stand-in for torchaudio (only its front end uses it)."""
    names = ("beat_this.inference", "beat_this.preprocessing")
    monkeypatch.setitem(sys.modules, "torchaudio", types.ModuleType("torchaudio"))
    for name in names:
        monkeypatch.delitem(sys.modules, name, raising=False)
    yield importlib.import_module("beat_this.inference")
    for name in names:  # forget the modules imported with the stand-in
        sys.modules.pop(name, None)
        if hasattr(sys.modules["beat_this"], name.split(".")[1]):
            delattr(sys.modules["beat_this"], name.split(".")[1])


def test_log_mel_matches_librosa():
    librosa = pytest.importorskip("librosa")
    rng = np.random.default_rng(0)
    t = np.arange(int(2.3 * 22050)) / 22050
    audio = (0.3 * np.sin(2 * np.pi * 220 * t) + 0.1 * rng.standard_normal(len(t))).astype(np.float32)
    ours = beat_this.log_mel(torch.from_numpy(audio)).numpy()
    filters = librosa.filters.mel(sr=22050, n_fft=1024, n_mels=128, fmin=30, fmax=11000, htk=False, norm=None)
    np.testing.assert_allclose(beat_this.mel_filters().numpy().T, filters, atol=5e-5)  # float32 as torchaudio
    magnitude = np.abs(librosa.stft(audio.astype(np.float64), n_fft=1024, hop_length=441, window="hann",
                                    center=True, pad_mode="reflect")) / np.sqrt(1024)
    expected = np.log1p(1000 * (filters @ magnitude)).T
    assert ours.shape == expected.shape == (len(audio) // 441 + 1, 128)
    np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-5)


def test_load_and_track(tmp_path):
    net = network(SMALL, head_bias=3.0)  # logits mostly above 0: peaks every few frames
    path = save_checkpoint(tmp_path / "final0.ckpt", net, SMALL)
    loaded = beat_this.load(path)
    assert loaded is beat_this.load(str(path)) and not loaded.training
    for key, value in net.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[key], value, rtol=0, atol=0)

    rng = np.random.default_rng(1)
    sample_rate, seconds = 44100, 8.0
    audio = 0.05 * rng.standard_normal(int(seconds * sample_rate)).astype(np.float32)
    for onset in range(0, len(audio) - 2000, sample_rate // 2):  # clicks at 120 bpm
        audio[onset:onset + 2000] += np.exp(-np.arange(2000) / 200.0).astype(np.float32)
    beats = beat_this.track(audio, sample_rate, path)
    assert beats.dtype == np.float64 and len(beats) > 0
    assert np.all(np.diff(beats) > 0) and 0 <= beats[0] and beats[-1] <= seconds
    assert beat_this.track(audio, sample_rate, path) is beats  # remembered
    assert beat_this.f1_against_context(audio, audio, sample_rate, path) == 1.0
    assert len(beat_this.track(audio[:400], sample_rate, path)) == 0  # shorter than half a frame at 22050 Hz

    spect = torch.randn(300, 128)  # shorter than a chunk: one call on it padded by the border
    with torch.inference_mode():
        beat, downbeat = beat_this.frame_logits(loaded, spect)
        direct = loaded(F.pad(spect, (0, 0, 6, 6))[None])
    torch.testing.assert_close(beat, direct["beat"][0, 6:-6], rtol=0, atol=0)
    torch.testing.assert_close(downbeat, direct["downbeat"][0, 6:-6], rtol=0, atol=0)


@pytest.mark.parametrize("frames", [1490, 2977, 3300])
def test_chunking_matches_beat_this(package_inference, frames):
    net = network(TINY, seed=frames)
    spect = torch.randn(frames, 128, generator=torch.Generator().manual_seed(frames))
    with torch.inference_mode():
        beat, downbeat = beat_this.frame_logits(net, spect)
        theirs = package_inference.split_predict_aggregate(spect, chunk_size=1500, border_size=6,
                                                           overlap_mode="keep_first", model=net)
    torch.testing.assert_close(beat, theirs["beat"], rtol=0, atol=0)
    torch.testing.assert_close(downbeat, theirs["downbeat"], rtol=0, atol=0)
    assert bool((beat > -1000).all())  # every frame predicted


def test_default_size_compiled_checkpoint(tmp_path, package_inference):
    """The published architecture (beat_this's defaults), saved from a compiled model ("_orig_mod.")."""
    net = network({})
    path = save_checkpoint(tmp_path / "final0.ckpt", net, {"spect_dim": 128, "transformer_dim": 512, "n_layers": 6},
                           key_prefix="model._orig_mod.")
    loaded = beat_this.load(path)
    theirs = package_inference.load_model(str(path))  # beat_this's own loader reads the same file
    for key, value in theirs.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[key], value, rtol=0, atol=0)


def refusal(path: Path) -> str:
    with pytest.raises(WeightsError) as error:
        beat_this.load(path)
    message = str(error.value)
    assert "--beat-this" in message and "\n" not in message
    return message


def test_refuses_wrong_files(tmp_path):
    assert "no such file" in refusal(tmp_path / "absent.ckpt")
    (tmp_path / "text.ckpt").write_text("not a checkpoint")
    assert "not a readable torch checkpoint" in refusal(tmp_path / "text.ckpt")

    net = network(TINY)
    state = {"model." + key: value for key, value in net.state_dict().items()}
    renamed = dict(state)
    renamed["model.frontend.linear.kernel"] = renamed.pop("model.frontend.linear.weight")
    torch.save({"state_dict": renamed, "hyper_parameters": TINY}, tmp_path / "renamed.ckpt")
    assert "lacks 'frontend.linear.weight'" in refusal(tmp_path / "renamed.ckpt")
    misshapen = dict(state, **{"model.task_heads.beat_downbeat_lin.weight": torch.zeros(2, 33)})
    torch.save({"state_dict": misshapen, "hyper_parameters": TINY}, tmp_path / "misshapen.ckpt")
    assert "has shape (2, 33)" in refusal(tmp_path / "misshapen.ckpt")
    torch.save({"state_dict": state}, tmp_path / "bare.ckpt")  # no hyper-parameters: the default size is expected
    assert "lacks 'frontend.blocks.0.partial" in refusal(tmp_path / "bare.ckpt")
    torch.save({"state_dict": state, "hyper_parameters": dict(TINY, transformer_dim=33)}, tmp_path / "hyper.ckpt")
    assert "hyper_parameters do not build" in refusal(tmp_path / "hyper.ckpt")
