"""`fd_logmel`: a Fréchet distance on a fixed log-mel embedding that needs no trained weights.

The paper's FAD embeds audio with VGGish, whose weights the user must bring (`paper/vggish.py`,
which shares this front end, `logmel_examples`); this keeps VGGish's front end and drops the
network. The embedding of a clip: resample to 16 kHz; 25 ms Hann frames (400 samples, periodic
window) every 10 ms, 512-point FFT magnitude; 64 triangular mel bands (HTK mel scale) from 125 to
7500 Hz; log(mel + 0.01); then the mean of each non-overlapping 0.96 s patch (96 frames, VGGish's
example length): one 64-d vector per 0.96 s. Two sets of vectors are
compared by the Fréchet distance of Gaussians fitted to them,
||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^1/2). It is timbre- and level-sensitive (compare
loudness-normalised audio), has no perceptual calibration, and its values are not on VGGish FAD's
scale: it is a different metric and is never reported as FAD.
"""

from __future__ import annotations

import functools
import warnings
from fractions import Fraction

import numpy as np

EMBED_RATE = 16000
FRAME, HOP, FFT = 400, 160, 512
MELS, FMIN, FMAX = 64, 125.0, 7500.0
LOG_OFFSET = 0.01
PATCH = 96  # frames per 0.96 s vector
EPSILON = 1e-6  # added to the covariances' diagonals when their product has no finite square root


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    return 1127.0 * np.log1p(hz / 700.0)


@functools.cache
def mel_filterbank() -> np.ndarray:
    """[FFT // 2 + 1, MELS] triangular filters, equally spaced on the HTK mel scale."""
    bins = _hz_to_mel(np.linspace(0, EMBED_RATE / 2, FFT // 2 + 1))
    edges = np.linspace(_hz_to_mel(np.array(FMIN)), _hz_to_mel(np.array(FMAX)), MELS + 2)
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising, falling = (bins - lower) / (centre - lower), (upper - bins) / (upper - centre)
    return np.maximum(0.0, np.minimum(rising, falling)).T


def logmel_examples(audio: np.ndarray, sample_rate: int, user: str = "the log-mel embedding") -> np.ndarray:
    """[examples, 96, 64] float64 log-mel of mono audio at any sample rate, one example per
    non-overlapping 0.96 s (VGGish's input); `user` names who needs it when the audio is too short."""
    from scipy.signal import resample_poly

    ratio = Fraction(EMBED_RATE, sample_rate)
    audio = resample_poly(np.asarray(audio, np.float64), ratio.numerator, ratio.denominator)
    if audio.shape[0] < FRAME + (PATCH - 1) * HOP:
        raise ValueError(f"{user} needs at least 0.96 s of audio, got {audio.shape[0] / EMBED_RATE:.2f} s")
    frames = np.lib.stride_tricks.sliding_window_view(audio, FRAME)[::HOP]
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(FRAME) / FRAME)
    logmel = np.log(np.abs(np.fft.rfft(frames * window, FFT)) @ mel_filterbank() + LOG_OFFSET)
    examples = logmel.shape[0] // PATCH
    return logmel[:examples * PATCH].reshape(examples, PATCH, MELS)


def logmel_vectors(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """[patches, 64] float32 embedding of mono audio at any sample rate (see the module docstring)."""
    return logmel_examples(audio, sample_rate).mean(axis=1).astype(np.float32)


def frechet_distance(reference: np.ndarray, candidate: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two [n, d] sets of vectors (n >= 2 each)."""
    from scipy.linalg import LinAlgWarning, sqrtm

    if reference.shape[0] < 2 or candidate.shape[0] < 2:
        raise ValueError(f"a Fréchet distance needs at least 2 vectors per set, got {reference.shape[0]} and "
                         f"{candidate.shape[0]}")
    a, b = np.asarray(reference, np.float64), np.asarray(candidate, np.float64)
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    with warnings.catch_warnings():  # a singular product (e.g. a silent set) is expected and handled
        warnings.simplefilter("ignore", LinAlgWarning)
        root = sqrtm(cov_a @ cov_b)
        if not np.all(np.isfinite(root)):
            shift = EPSILON * np.eye(cov_a.shape[0])
            root = sqrtm((cov_a + shift) @ (cov_b + shift))
    distance = np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2 * np.trace(np.real(root))
    return float(max(distance, 0.0))
