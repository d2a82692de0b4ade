"""The paper's COCOLA metric (jaxaccomp.eval.paper.cocola) against an independent computation.

A checkpoint in COCOLA_HP_v1's format (Lightning dict, COCOLA's tensor names, hyper-parameters that
pickle enums of a `contrastive_model.constants` module which is gone when the file is read) is built
from efficientnet_pytorch directly with random weights; the score must equal a forward written here
with torch.nn.functional on features computed here with librosa.
"""

from __future__ import annotations

import importlib
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("efficientnet_pytorch")
librosa = pytest.importorskip("librosa")

from efficientnet_pytorch import EfficientNet  # noqa: E402
from torch.nn import functional as F  # noqa: E402

from jaxaccomp.eval.paper import WeightsError, cocola  # noqa: E402

SR = 16000
BACKBONE = "encoder.encoder.model.0."  # CoCola.encoder (CoColaEncoder).encoder (EfficientNetEncoder).model[0]

CONSTANTS = '''
import enum


class EmbeddingMode(enum.Enum):
    HARMONIC = "harmonic"
    PERCUSSIVE = "percussive"
    BOTH = "both"
    RANDOM = "random"


class ModelInputType(enum.Enum):
    SINGLE_CHANNEL_MEL_SPECTROGRAM = "single_channel_mel_spectrogram"
    DOUBLE_CHANNEL_HARMONIC_PERCUSSIVE = "double_channel_harmonic_percussive"


class Dataset(enum.Enum):
    MIXED = "mixed_contrastive"


class ModelFeatureExtractorType(enum.Enum):
    HPSS = "hpss"


class FeatureExtractionTime(enum.Enum):
    OFFLINE = "offline"
'''


def song(seconds: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(context, stem) at 16 kHz: chords plus clicks, and a bass line with its own clicks."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    context = sum(0.1 * np.sin(2 * np.pi * f * t) for f in (261.6, 329.6, 392.0))
    context = context + 0.3 * (np.mod(t, 0.5) < 0.01) * rng.standard_normal(len(t))
    stem = 0.3 * np.sin(2 * np.pi * 65.4 * t) * (np.mod(t, 0.25) < 0.2) + 0.2 * (np.mod(t + 0.25, 0.5) < 0.005)
    return context.astype(np.float32), stem.astype(np.float32)


def librosa_features(audio: np.ndarray) -> np.ndarray:
    """COCOLA's HPSS features, window by window: [0, 5 s], [2.5, 7.5 s], ... zero-padded at the end."""
    starts = [0] + list(range(40000, len(audio) - 80000 + 40000 - 1, 40000))
    out = []
    for start in starts:
        window = np.zeros(80000, np.float32)
        piece = audio[start:start + 80000]
        window[:len(piece)] = piece
        stft = librosa.stft(window, n_fft=1024, win_length=400, hop_length=160)
        harmonic, percussive = librosa.decompose.hpss(stft)
        mels = [librosa.feature.melspectrogram(S=np.abs(part) ** 2, sr=SR, fmin=60.0, fmax=7800.0, n_mels=64)
                for part in (harmonic, percussive)]
        out.append(np.stack([librosa.power_to_db(mel, ref=np.max) for mel in mels]))
    return np.stack(out)


def reference_score(state: dict, x: np.ndarray, y: np.ndarray) -> float:
    """Mean over windows of tanh(LN(Wp f(x) + b))^T W tanh(LN(Wp f(y) + b)), f = EfficientNet-B0."""
    net = EfficientNet.from_name("efficientnet-b0", include_top=False, in_channels=2)
    net.load_state_dict({k[len(BACKBONE):]: v for k, v in state.items() if k.startswith(BACKBONE)})
    net.eval()

    def embed(features: np.ndarray) -> torch.Tensor:
        h = net(torch.from_numpy(features)).flatten(1)
        h = F.linear(h, state["encoder.projection.weight"], state["encoder.projection.bias"])
        return torch.tanh(F.layer_norm(h, (512,), state["layer_norm.weight"], state["layer_norm.bias"]))

    with torch.no_grad():
        return float(torch.einsum("bi,ij,bj->b", embed(x), state["similarity.w"], embed(y)).mean())


def save_lightning(path, state: dict, tmp_path) -> None:
    """`state` saved as COCOLA's Lightning checkpoint, hyper-parameters pickling real-named enums."""
    package = tmp_path / "training_code"
    (package / "contrastive_model").mkdir(parents=True)
    (package / "contrastive_model" / "__init__.py").write_text("")
    (package / "contrastive_model" / "constants.py").write_text(CONSTANTS)
    sys.path.insert(0, str(package))
    try:
        constants = importlib.import_module("contrastive_model.constants")
        torch.save({
            "epoch": 87, "global_step": 12345, "pytorch-lightning_version": "2.2.1", "hparams_name": "kwargs",
            "state_dict": state,
            "hyper_parameters": {"learning_rate": 0.001, "embedding_dim": 512,
                                 "embedding_mode": constants.EmbeddingMode.RANDOM,
                                 "input_type": constants.ModelInputType.DOUBLE_CHANNEL_HARMONIC_PERCUSSIVE,
                                 "dropout_p": 0.1},
            "datamodule_hyper_parameters": {"root_dir": "~/", "dataset": constants.Dataset.MIXED, "batch_size": 32,
                                            "feature_extractor_type": constants.ModelFeatureExtractorType.HPSS,
                                            "feature_extraction_time": constants.FeatureExtractionTime.OFFLINE},
            "optimizer_states": [{"state": {0: {"step": torch.tensor(5.0), "exp_avg": torch.zeros(3)}},
                                  "param_groups": [{"lr": 0.001, "betas": (0.9, 0.999), "params": [0]}]}],
            "callbacks": {"ModelCheckpoint{'monitor': 'valid_loss', 'mode': 'min'}":
                          {"monitor": "valid_loss", "best_model_score": torch.tensor(0.0), "best_model_path": "x"}},
        }, path)
    finally:
        sys.path.remove(str(package))
        for name in ("contrastive_model.constants", "contrastive_model"):
            sys.modules.pop(name, None)
        importlib.invalidate_caches()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(checkpoint path, its state dict, context, stem, librosa features of both) with random weights
    whose batch-norm statistics are those of the test audio, so no layer saturates."""
    tmp_path = tmp_path_factory.mktemp("cocola")
    torch.manual_seed(0)
    context, stem = song(6.0, seed=0)  # two windows, the second zero-padded
    x, y = librosa_features(context), librosa_features(stem)
    net = EfficientNet.from_name("efficientnet-b0", include_top=False, in_channels=2)
    for module in net.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.reset_running_stats()
            module.momentum = None  # cumulative: the statistics of one pass
            torch.nn.init.normal_(module.weight, 1.0, 0.1)
            torch.nn.init.normal_(module.bias, 0.0, 0.1)
    with torch.no_grad():
        net.train()(torch.from_numpy(np.concatenate([x, y])))
    state = {BACKBONE + k: v.clone() for k, v in net.state_dict().items()}
    projection = torch.nn.Linear(1280, 512)
    state |= {"encoder.projection.weight": projection.weight.detach(),
              "encoder.projection.bias": projection.bias.detach(),
              "layer_norm.weight": 1.0 + 0.1 * torch.randn(512), "layer_norm.bias": 0.1 * torch.randn(512),
              "similarity.w": 0.05 * torch.randn(512, 512)}
    path = tmp_path / "checkpoint-epoch=87-val_loss=0.00.ckpt"
    save_lightning(path, state, tmp_path)
    return path, state, context, stem, x, y


def test_checkpoint_format_loads_and_scores_like_an_independent_forward(trained):
    path, state, context, stem, x, y = trained
    with pytest.raises(Exception):  # the enums really are in the pickle: unreadable without stand-ins
        torch.load(path, weights_only=True)
    model = cocola.load(path)
    assert not model.training and cocola.load(str(path)) is model
    np.testing.assert_allclose(cocola.features(context, SR), x, atol=1e-5)
    expected = reference_score(state, x, y)
    assert abs(expected) > 1.0
    assert cocola.score(context, stem, SR, path) == pytest.approx(expected, rel=1e-5, abs=1e-5)


def test_modes_zero_the_other_channel(trained):
    path, state, context, stem, x, y = trained
    both = cocola.score(context, stem, SR, path, "both")
    for mode, zeroed in (("harmonic", 1), ("percussive", 0)):
        xm, ym = x.copy(), y.copy()
        xm[:, zeroed] = 0.0
        ym[:, zeroed] = 0.0
        masked = cocola.score(context, stem, SR, path, mode)
        assert masked == pytest.approx(reference_score(state, xm, ym), rel=1e-5, abs=1e-5)
        assert abs(masked - both) > 0.1
    with pytest.raises(ValueError, match="mode"):
        cocola.score(context, stem, SR, path, "drums")
    with pytest.raises(ValueError, match="pairs windows"):
        cocola.score(context, stem[:SR * 5], SR, path)


def test_wrong_files_are_refused_in_one_line(trained, tmp_path):
    path, state, *_ = trained
    junk = tmp_path / "junk.ckpt"
    junk.write_bytes(b"this is not a torch checkpoint")
    lacking = tmp_path / "lacking.ckpt"
    torch.save({"state_dict": {k: v for k, v in state.items() if k != "similarity.w"}}, lacking)
    misshapen = tmp_path / "misshapen.ckpt"
    torch.save({"state_dict": state | {"encoder.projection.weight": torch.zeros(512, 1000)}}, misshapen)
    for file, says in ((tmp_path / "absent.ckpt", "no such file"), (junk, "not a readable torch checkpoint"),
                       (lacking, "similarity.w"), (misshapen, "encoder.projection.weight")):
        with pytest.raises(WeightsError) as refusal:
            cocola.load(file)
        message = str(refusal.value)
        assert message.startswith(f"--cocola {file.resolve()}") and says in message and "\n" not in message


def test_windows_follow_streammusicgen_chunking():
    ramp = np.arange(10 * SR, dtype=np.float32)
    windows = cocola.windows(ramp)  # 10 s -> starts 0, 2.5, 5 s
    assert windows.shape == (3, 80000)
    np.testing.assert_array_equal(windows[:, 0], [0, 40000, 80000])
    np.testing.assert_array_equal(windows[2, -1], 159999)
    longer = cocola.windows(np.ones(10 * SR + 1, np.float32))  # one sample more -> a 4th from 7.5 s, zero-padded
    assert longer.shape == (4, 80000) and longer[3, :40001].all() and not longer[3, 40001:].any()
    assert cocola.windows(np.ones(SR, np.float32)).shape == (1, 80000)
    assert cocola.features(song(10.0, seed=1)[1], SR).shape == (3, 2, 64, 501)


def test_resampling_to_16k_keeps_the_band_and_drops_above_it():
    t = np.arange(2 * 44100) / 44100
    for hz, gain in ((1000.0, 1.0), (7000.0, 1.0), (9000.0, 0.0)):
        out = cocola.to_16k(np.sin(2 * np.pi * hz * t).astype(np.float32), 44100)
        assert out.shape == (2 * SR,) and out.dtype == np.float32
        expected = gain * np.sin(2 * np.pi * hz * np.arange(len(out)) / SR)
        np.testing.assert_allclose(out[4000:-4000], expected[4000:-4000], atol=1e-4)
