"""COCOLA: the paper's coherence score, from the COCOLA_HP_v1 checkpoint the user brings.

COCOLA (Ciranni et al., arXiv 2404.16969; github.com/gladia-research-group/cocola) scores how well two
pieces of music fit together. It needs `checkpoint-epoch=87-val_loss=0.00.ckpt` (COCOLA_HP_v1, the
authors' Google Drive), a Lightning checkpoint read here with weights_only=True: its hyper-parameters
pickle enums of `contrastive_model.constants`, which become inert stand-ins (`STAND_INS`).

Followed exactly:
  * network: EfficientNet-B0 (efficientnet_pytorch, 2 input channels, no top) -> dropout -> flatten
    -> linear 1280->512 -> LayerNorm -> tanh for each side; score = e_context^T W e_stem (W 512x512).
    The modules carry COCOLA's attribute names, so the checkpoint's tensor names load unchanged.
  * features per 5-s window at 16 kHz: librosa.stft (n_fft 1024, win 400, hop 160) -> HPSS ->
    64-band mel power (60-7800 Hz) of |H|^2 and |P|^2 -> power_to_db(ref=max) -> [2, 64, 501].
  * windows as StreamMusicGen's `chunk_audio(x, 80000, 40000)`: 5 s, 2.5-s hop, the last one
    zero-padded (one window for <= 5 s); the clip's score is the mean over paired windows.

Departures:
  * resampling to 16 kHz uses scipy's resample_poly with a Kaiser-windowed sinc of torchaudio's
    "kaiser_best" parameters (64 zero crossings, rolloff 0.9476, beta 14.77), not torchaudio itself:
    the same filter design, not bit-identical samples.
  * harmonic / percussive modes zero the other channel of the features explicitly (percussive
    channel for "harmonic", harmonic channel for "percussive"), as COCOLA's training does. COCOLA's
    own `score()` ignores `set_embedding_mode`, so StreamMusicGen's "harmonic" and "percussive"
    numbers equal its "both" numbers; ours are the scores those modes are documented to give.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np
import torch
from efficientnet_pytorch import EfficientNet
from torch import nn

from jaxaccomp.eval.memo import remember_audio
from jaxaccomp.eval.paper import check_names, read_state_dict

SAMPLE_RATE = 16000
WINDOW = 5 * SAMPLE_RATE  # samples per scored window
HOP = WINDOW // 2
EMBEDDING_DIM = 512
MODES = {"both": None, "harmonic": 1, "percussive": 0}  # mode -> feature channel zeroed
# globals the checkpoint's model and data-module hyper-parameters pickle (enum members)
STAND_INS = tuple(f"contrastive_model.constants.{name}" for name in (
    "EmbeddingMode", "ModelInputType", "Dataset", "ModelFeatureExtractorType", "FeatureExtractionTime"))
# torchaudio's "kaiser_best" resampling filter (as StreamMusicGen resamples)
_ZERO_CROSSINGS, _ROLLOFF, _BETA = 64, 0.9475937167399596, 14.769656459379492


class _Backbone(nn.Module):
    """COCOLA's EfficientNetEncoder: EfficientNet-B0 features (2 channels, no top), dropout, flatten."""

    def __init__(self) -> None:
        super().__init__()
        self.model = nn.Sequential(EfficientNet.from_name("efficientnet-b0", include_top=False, in_channels=2),
                                   nn.Dropout(0.1), nn.Flatten())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class _Encoder(nn.Module):
    """COCOLA's CoColaEncoder: the backbone, then a linear projection to 512."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = _Backbone()
        self.projection = nn.Linear(1280, EMBEDDING_DIM)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.projection(self.encoder(x))


class _Bilinear(nn.Module):
    """COCOLA's BilinearSimilarity: the matrix W of x^T W y."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.zeros(EMBEDDING_DIM, EMBEDDING_DIM))


class Cocola(nn.Module):
    """COCOLA's CoCola network (attribute names as in its checkpoint)."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = _Encoder()
        self.layer_norm = nn.LayerNorm(EMBEDDING_DIM)
        self.tanh = nn.Tanh()
        self.similarity = _Bilinear()

    def embed(self, features: torch.Tensor) -> torch.Tensor:
        """[B, 2, 64, 501] features -> [B, 512] embeddings."""
        return self.tanh(self.layer_norm(self.encoder(features)))

    def pairwise(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """[B] scores embed(x)[i]^T W embed(y)[i]."""
        return (self.embed(x) * (self.embed(y) @ self.similarity.w.T)).sum(-1)


def load(path: str | Path) -> Cocola:
    """COCOLA with the weights of the checkpoint at `path`, in eval mode (cached per resolved path);
    a missing, unreadable or mismatched file raises WeightsError naming --cocola."""
    return _load(Path(path).resolve())


@functools.cache
def _load(path: Path) -> Cocola:
    state = read_state_dict(path, "cocola", stand_ins=STAND_INS)
    model = Cocola()
    check_names(state, model.state_dict(), "cocola", path)
    model.load_state_dict(state)
    return model.eval()


def to_16k(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Mono `audio` resampled to 16 kHz (Kaiser-windowed sinc, torchaudio's kaiser_best parameters)."""
    from scipy.signal import resample_poly

    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 1:
        raise ValueError(f"COCOLA scores mono audio, got shape {audio.shape}")
    g = math.gcd(SAMPLE_RATE, int(sample_rate))
    up, down = SAMPLE_RATE // g, int(sample_rate) // g
    if up == down:
        return audio
    return resample_poly(audio, up, down, window=_kaiser_best(up, down)).astype(np.float32)


@functools.cache
def _kaiser_best(up: int, down: int) -> np.ndarray:
    """The low-pass FIR at `up` times the input rate: cutoff `_ROLLOFF` of the lower Nyquist, Kaiser
    window spanning `_ZERO_CROSSINGS` zero crossings of the sinc on each side."""
    from scipy.signal import firwin

    rate = max(up, down)
    half = math.ceil(_ZERO_CROSSINGS * rate / _ROLLOFF)
    return firwin(2 * half + 1, _ROLLOFF / rate, window=("kaiser", _BETA))


def windows(audio_16k: np.ndarray) -> np.ndarray:
    """[n, 80000] 5-s windows with a 2.5-s hop, the last zero-padded (StreamMusicGen's chunk_audio)."""
    count = 1 if len(audio_16k) <= WINDOW else math.ceil((len(audio_16k) - WINDOW) / HOP) + 1
    padded = np.zeros((count - 1) * HOP + WINDOW, dtype=np.float32)
    padded[:len(audio_16k)] = audio_16k
    return np.stack([padded[i * HOP:i * HOP + WINDOW] for i in range(count)])


def _hpss_log_mel(window: np.ndarray) -> np.ndarray:
    """COCOLA's HPSS features of one 5-s window at 16 kHz: [2 (harmonic, percussive), 64, 501] dB."""
    import librosa

    stft = librosa.stft(window, n_fft=1024, win_length=400, hop_length=160)
    parts = librosa.decompose.hpss(stft)
    mels = [librosa.feature.melspectrogram(S=np.abs(part) ** 2, sr=SAMPLE_RATE, fmin=60.0, fmax=7800.0, n_mels=64)
            for part in parts]
    return np.stack([librosa.power_to_db(mel, ref=np.max) for mel in mels]).astype(np.float32)


def features(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """[windows, 2, 64, 501] COCOLA features of mono `audio` at `sample_rate`."""
    return np.stack([_hpss_log_mel(window) for window in windows(to_16k(audio, sample_rate))])


@remember_audio(16)  # ~6 MB per minute of audio each
def _features_reused(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """`features`, reused for the same audio (HPSS dominates the cost): across the three modes, and
    for a context scored against the stems of several models and regimes."""
    return features(audio, sample_rate)


def score(context: np.ndarray, stem: np.ndarray, sample_rate: int, path: str | Path, mode: str = "both") -> float:
    """COCOLA score of `stem` against `context` (mono, same length, at `sample_rate`): the mean over
    time-aligned 5-s windows of the bilinear score; `mode` "harmonic" / "percussive" zeroes the
    features' other channel first (explicitly: COCOLA's own score() does not)."""
    if mode not in MODES:
        raise ValueError(f"COCOLA mode {mode!r}; choose from {', '.join(MODES)}")
    model = load(path)
    x, y = (_features_reused(np.asarray(audio, np.float32), sample_rate).copy() for audio in (context, stem))
    if len(x) != len(y):
        raise ValueError(f"COCOLA pairs windows in time: the context has {len(x)}, the stem {len(y)}")
    if MODES[mode] is not None:
        x[:, MODES[mode]] = 0.0
        y[:, MODES[mode]] = 0.0
    with torch.inference_mode():
        return float(model.pairwise(torch.from_numpy(x), torch.from_numpy(y)).mean())
