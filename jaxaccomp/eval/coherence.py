"""Our own COCOLA-style coherence score: does a stem fit a context (the mixture without that stem)?

A substitute for the paper's COCOLA (whose checkpoint is not available offline), trained by
`python -m jaxaccomp.eval.coherence_train` on our rendered songs, so it is only meaningful on that
distribution and only relative to calibration rows (ground-truth stem, stem of another song):

  * features: audio at 16 kHz -> STFT (1024-point FFT, 40 ms Hann window, 20 ms hop) -> 64-band mel
    power (60-7800 Hz) -> median-filter HPSS (soft masks) into a harmonic and a percussive part -> dB.
    A model input is a 5-s window, [251 frames, 64 bands, 2 channels], scaled by its own loudest bin
    as COCOLA does (ref = max), so the score does not depend on loudness.
  * model: one small CNN encoder shared by context and stem -> 128-d embedding (LayerNorm, tanh);
    score(context, stem) = e_context^T W e_stem, a learned bilinear form (as COCOLA).
  * training (`coherence_train`): in-batch InfoNCE; every pair in a batch is (context, stem) of the
    same time window of a different song, and each context must pick out its own stem among the
    batch's stems and, unlike COCOLA, among copies of the stems shifted by 0.1-0.4 s.

`CoherenceModel.score` returns the raw bilinear score (unbounded, larger = more coherent), averaged
over 5-s windows with a 2.5-s hop (the last window zero-padded), as StreamMusicGen applies COCOLA.
It is not a probability: a sigmoid or softmax of it depends on what it is compared with, so
compare scores of candidates for the same context, or against the ground-truth row.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
from fractions import Fraction
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from jaxaccomp.nn.layers import GroupNorm, conv, downsample, linear

FEATURE_RATE = 16000
N_FFT = 1024
WIN_LENGTH = 640  # 40 ms
HOP_LENGTH = 320  # 20 ms: 50 frames per second
N_MELS = 64
F_MIN, F_MAX = 60.0, 7800.0
HARMONIC_KERNEL = 17  # frames (0.34 s) of the median along time
PERCUSSIVE_KERNEL = 9  # mel bands of the median along frequency
POWER_FLOOR = 1e-10  # -100 dB: what silence reads as
WINDOW_FRAMES = 251  # 5 s, as COCOLA's clips
HOP_FRAMES = 125  # 2.5-s hop between scored windows
DYNAMIC_RANGE_DB = 80.0  # a window keeps its loudest 80 dB, as power_to_db(top_db=80)
QUIET_REF_DB = -60.0  # a window whose loudest bin is below this is scaled as if it peaked here
FORMAT = "jaxaccomp-coherence-1"
META_FILE = "meta.json"
PARAMS_FILE = "params.npz"
DEFAULT_CHECKPOINT = Path(__file__).resolve().parent.parent / "models" / "coherence"


# ----------------------------------------------------------------------------------------------
# Features


def feature_settings() -> dict[str, float]:
    """Everything that fixes the features: recorded with a checkpoint and keys feature caches."""
    return {"sample_rate": FEATURE_RATE, "n_fft": N_FFT, "win_length": WIN_LENGTH, "hop_length": HOP_LENGTH,
            "n_mels": N_MELS, "f_min": F_MIN, "f_max": F_MAX, "harmonic_kernel": HARMONIC_KERNEL,
            "percussive_kernel": PERCUSSIVE_KERNEL, "window_frames": WINDOW_FRAMES}


def to_feature_rate(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Mono float32 audio at 16 kHz; a one-line error for anything else than a 1-D clip at >= 16 kHz."""
    audio = np.asarray(audio)
    if audio.ndim != 1:
        raise ValueError(f"expected mono audio as a 1-D array, got shape {audio.shape}")
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) or sample_rate < FEATURE_RATE:
        raise ValueError(f"sample rate must be an integer >= {FEATURE_RATE} Hz (the model hears up to "
                         f"{F_MAX:g} Hz), not {sample_rate!r}")
    audio = audio.astype(np.float32)
    if sample_rate == FEATURE_RATE:
        return audio
    from scipy.signal import resample_poly

    ratio = Fraction(FEATURE_RATE, int(sample_rate))
    return resample_poly(audio, ratio.numerator, ratio.denominator).astype(np.float32)


def stft(audio: np.ndarray) -> np.ndarray:
    """Complex STFT [frames, N_FFT // 2 + 1] of 16-kHz audio; frame k is centred on sample k * HOP_LENGTH.

    Linear in the audio, so a context's spectrum is the sum of its stems' (training uses that).
    Scaled by the window sum: a full-scale sine peaks at magnitude 0.5 whatever the window length.
    """
    window = np.zeros(N_FFT, np.float32)
    offset = (N_FFT - WIN_LENGTH) // 2
    window[offset:offset + WIN_LENGTH] = np.hanning(WIN_LENGTH + 2)[1:-1]  # no zero end points
    frames = 1 + len(audio) // HOP_LENGTH
    padded = np.pad(audio, (N_FFT // 2, N_FFT // 2 + HOP_LENGTH))
    index = np.arange(frames)[:, None] * HOP_LENGTH + np.arange(N_FFT)[None, :]
    return (np.fft.rfft(padded[index] * window, axis=1) / window.sum()).astype(np.complex64)


@functools.lru_cache(maxsize=1)
def mel_filterbank() -> np.ndarray:
    """[N_FFT // 2 + 1, N_MELS] triangular filters, equally spaced on the HTK mel scale, peak 1."""
    def to_mel(f):
        return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)

    edges = 700.0 * (10 ** (np.linspace(to_mel(F_MIN), to_mel(F_MAX), N_MELS + 2) / 2595.0) - 1.0)
    freqs = np.fft.rfftfreq(N_FFT, 1.0 / FEATURE_RATE)[:, None]
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (freqs - lower) / (centre - lower)
    falling = (upper - freqs) / (upper - centre)
    return np.maximum(0.0, np.minimum(rising, falling)).astype(np.float32)


def hpss(power: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Median-filter HPSS (Fitzgerald 2010) of a [frames, bands] power spectrogram: harmonic + percussive == power.

    Harmonic sounds are steady (horizontal lines), percussive ones short and broadband (vertical
    lines): a median along time keeps the first, along frequency the second, and each bin is split
    between the two in proportion to the medians (a soft Wiener mask on magnitudes). Done on the
    64-band mel power rather than the STFT: 8x fewer bins, which makes feature extraction ~5x faster.
    """
    from scipy.ndimage import median_filter

    along_time = median_filter(power, size=(HARMONIC_KERNEL, 1), mode="reflect")
    along_freq = median_filter(power, size=(1, PERCUSSIVE_KERNEL), mode="reflect")
    total = along_time + along_freq
    harmonic = power * np.divide(along_time, total, out=np.full_like(total, 0.5), where=total > 0)
    return harmonic, power - harmonic


def features_of_stft(spectrum: np.ndarray) -> np.ndarray:
    """Harmonic and percussive log-mel power [frames, N_MELS, 2] (dB) of an STFT from `stft`."""
    power = (np.square(spectrum.real) + np.square(spectrum.imag)) @ mel_filterbank()
    harmonic, percussive = hpss(power)
    return (10.0 * np.log10(np.maximum(np.stack([harmonic, percussive], axis=-1), POWER_FLOOR))).astype(np.float32)


def features(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Harmonic and percussive log-mel power of a whole clip: [frames, N_MELS, 2] float32 dB (50 fps)."""
    return features_of_stft(stft(to_feature_rate(audio, sample_rate)))


def normalise(windows_db: jax.Array | np.ndarray) -> jax.Array:
    """Model inputs in [0, 1] from dB windows [..., frames, N_MELS, 2]: 0 dB is the window's loudest bin.

    As COCOLA's power_to_db(ref=max) the score ignores loudness, but a near-silent window is scaled
    against QUIET_REF_DB instead of its own peak, so it stays near-silent rather than becoming noise.
    """
    windows_db = jnp.asarray(windows_db, jnp.float32)
    ref = jnp.maximum(windows_db.max(axis=(-3, -2, -1), keepdims=True), QUIET_REF_DB)
    return jnp.clip(windows_db - ref, -DYNAMIC_RANGE_DB, 0.0) / DYNAMIC_RANGE_DB + 1.0


def windows(feature_db: np.ndarray) -> np.ndarray:
    """[n, WINDOW_FRAMES, N_MELS, 2]: 5-s windows every 2.5 s, the last padded with silence."""
    frames = feature_db.shape[0]
    count = max(1, math.ceil((frames - WINDOW_FRAMES) / HOP_FRAMES) + 1)
    total = (count - 1) * HOP_FRAMES + WINDOW_FRAMES
    padded = np.pad(feature_db, ((0, total - frames), (0, 0), (0, 0)), constant_values=10 * np.log10(POWER_FLOOR))
    return np.stack([padded[i * HOP_FRAMES:i * HOP_FRAMES + WINDOW_FRAMES] for i in range(count)])


# ----------------------------------------------------------------------------------------------
# Model


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    # per conv stage; each stage halves time and frequency (a narrow first stage: 4x faster than 16 wide)
    channels: tuple[int, ...] = (8, 16, 32, 64, 128)
    embedding: int = 128


class CoherenceNet(nnx.Module):
    """A CNN encoder shared by contexts and stems, and COCOLA's bilinear score between embeddings."""

    def __init__(self, config: ModelConfig, *, rngs: nnx.Rngs):
        self.config = config
        widths = (2, *config.channels)
        self.convs = nnx.List([conv(cin, cout, 3, rngs, jnp.float32) for cin, cout in zip(widths, widths[1:])])
        self.norms = nnx.List([GroupNorm(c, rngs) for c in config.channels])
        self.proj = linear(2 * config.channels[-1], config.embedding, rngs, jnp.float32)
        self.out_norm = nnx.LayerNorm(config.embedding, rngs=rngs)
        self.bilinear = nnx.Param(0.05 * jax.random.normal(rngs.params(), (config.embedding, config.embedding)))

    def embed(self, x: jax.Array) -> jax.Array:
        """[B, WINDOW_FRAMES, N_MELS, 2] normalised windows -> [B, embedding] in (-1, 1)."""
        for conv_layer, norm in zip(self.convs, self.norms):
            x = downsample(jax.nn.gelu(norm(conv_layer(_even(x)))))
        # mean and max over time and frequency: how much, and how strongly at its peak
        pooled = jnp.concatenate([x.mean(axis=(1, 2)), x.max(axis=(1, 2))], axis=-1)
        return jnp.tanh(self.out_norm(self.proj(pooled)))

    def scores(self, a: jax.Array, b: jax.Array) -> jax.Array:
        """[B, B] bilinear scores a_i^T W b_j between embeddings."""
        return a @ self.bilinear[...] @ b.T

    def paired_scores(self, a: jax.Array, b: jax.Array) -> jax.Array:
        """[B] scores a_i^T W b_i of aligned pairs."""
        return jnp.sum((a @ self.bilinear[...]) * b, axis=-1)


def _even(x: jax.Array) -> jax.Array:
    """Crop time and frequency to even sizes so 2x2 pooling tiles them."""
    return x[:, : x.shape[1] // 2 * 2, : x.shape[2] // 2 * 2]


def info_nce(scores: jax.Array) -> jax.Array:
    """Symmetric in-batch InfoNCE over [B, B + extra] scores of B contexts against B stems (+ extra).

    Mean of two cross-entropies of picking the diagonal: each context among all stems (the extra
    columns are negatives for every context), and each of the B stems among the contexts.
    """
    batch = scores.shape[0]
    labels = jnp.arange(batch)
    rows = -jax.nn.log_softmax(scores, axis=1)[labels, labels].mean()
    cols = -jax.nn.log_softmax(scores[:, :batch], axis=0)[labels, labels].mean()
    return 0.5 * (rows + cols)


def retrieval_accuracy(scores: jax.Array) -> jax.Array:
    """Share of contexts (rows) whose own stem scores highest among the columns; chance is 1 / columns."""
    return jnp.mean(jnp.argmax(scores, axis=1) == jnp.arange(scores.shape[0]))


@functools.lru_cache(maxsize=4)
def graphdef_of(config: ModelConfig) -> Any:
    return nnx.graphdef(nnx.eval_shape(lambda: CoherenceNet(config, rngs=nnx.Rngs(0))))


def init_params(config: ModelConfig, seed: int) -> dict:
    """Random parameters (pure dict) of a fresh network."""
    return nnx.to_pure_dict(nnx.state(CoherenceNet(config, rngs=nnx.Rngs(seed)), nnx.Param))


def network(params: dict, config: ModelConfig) -> CoherenceNet:
    return nnx.merge(graphdef_of(config), params)


# ----------------------------------------------------------------------------------------------
# Checkpoints and scoring


def save_checkpoint(path: str | Path, params: dict, config: ModelConfig, record: dict[str, Any]) -> Path:
    """Write params.npz and meta.json (format, model config and `record`: training provenance, accuracy)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    np.savez(path / PARAMS_FILE, **{name: np.asarray(v) for name, v in _named_leaves(params)})
    meta = {"format": FORMAT, "model": dataclasses.asdict(config), "features": feature_settings(), **record}
    (path / META_FILE).write_text(json.dumps(meta, indent=1) + "\n")
    return path


def _named_leaves(params: dict) -> list[tuple[str, Any]]:
    """(path such as "convs/0/kernel", array) in jax.tree order."""
    leaves = jax.tree_util.tree_flatten_with_path(params)[0]
    return [("/".join(str(k.key) for k in keys), value) for keys, value in leaves]


class CoherenceModel:
    """A loaded coherence checkpoint; `score` rates how well a stem fits a context."""

    def __init__(self, params: dict, config: ModelConfig, meta: dict[str, Any]):
        self.params = params
        self.config = config
        self.meta = meta

    @functools.cached_property
    def _paired(self):
        config = self.config

        @jax.jit
        def paired(params: dict, context: jax.Array, stem: jax.Array) -> jax.Array:
            net = network(params, config)
            return net.paired_scores(net.embed(normalise(context)), net.embed(normalise(stem)))

        return paired

    def window_scores(self, context: np.ndarray, stem: np.ndarray, sample_rate: int) -> np.ndarray:
        """The score of every 5-s window (2.5-s hop) of two equally long mono clips."""
        if np.shape(context) != np.shape(stem):
            raise ValueError(f"context and stem must have the same shape, got {np.shape(context)} and {np.shape(stem)}")
        ctx, st = windows(features(context, sample_rate)), windows(features(stem, sample_rate))
        count = ctx.shape[0]
        bucket = 1 << (count - 1).bit_length()  # pad to a power of two: few distinct shapes to compile
        pad = ((0, bucket - count), (0, 0), (0, 0), (0, 0))
        scores = self._paired(self.params, np.pad(ctx, pad), np.pad(st, pad))
        return np.asarray(scores)[:count]

    def score(self, context: np.ndarray, stem: np.ndarray, sample_rate: int) -> float:
        """Mean bilinear score over 5-s windows (unbounded; larger = the stem fits the context better)."""
        return float(self.window_scores(context, stem, sample_rate).mean())


def load_coherence(path: str | Path | None = None) -> CoherenceModel:
    """The coherence model at `path` (default: the checkpoint shipped in jaxaccomp/models/coherence)."""
    path = Path(path) if path is not None else DEFAULT_CHECKPOINT
    meta_path, params_path = path / META_FILE, path / PARAMS_FILE
    if not meta_path.is_file() or not params_path.is_file():
        raise FileNotFoundError(f"{path} is not a coherence checkpoint (needs {META_FILE} and {PARAMS_FILE})")
    meta = json.loads(meta_path.read_text())
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path} has checkpoint format {meta.get('format')!r}, expected {FORMAT!r}")
    if meta.get("features") != feature_settings():
        raise ValueError(f"{path} was trained on other features than this code computes: {meta.get('features')}")
    try:
        config = ModelConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in meta["model"].items()})
    except (KeyError, TypeError, AttributeError):
        raise ValueError(f"{path}: meta.json has no valid model config ({meta.get('model')!r})") from None
    target = jax.eval_shape(lambda: init_params(config, 0))  # shapes only: no initialisation to run
    with np.load(params_path) as stored:
        flat = dict(stored)
    leaves = []
    for name, value in _named_leaves(target):
        if name not in flat or flat[name].shape != value.shape:
            raise ValueError(f"{path}: parameter {name} is missing or has the wrong shape for its model config")
        leaves.append(jnp.asarray(flat[name]))
    params = jax.tree.unflatten(jax.tree.structure(target), leaves)
    return CoherenceModel(params, config, meta)
