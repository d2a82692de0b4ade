"""Loudness handling of the reference evaluation protocol (StreamMusicGen; docs/evaluation.md, "The protocol").

Context, ground truth and generated stem are each brought to -18 LUFS (ITU-R BS.1770 integrated
loudness, pyloudnorm) and then scaled down if needed so the sample peak is at most 0.99. Metrics see
only normalised audio, so a model is not rewarded or punished for its output level. The +5 dB rule
applies only to listening mixes (`mix_with_stem`), never to a metric, as in the reference.
"""

from __future__ import annotations

import math

import numpy as np

TARGET_LUFS = -18.0
PEAK = 0.99
STEM_OFFSET_DB = 5.0  # the reference's PRED_DB_OFFSET: the stem sits 5 dB above an average context stem
MIN_SECONDS = 0.4  # one BS.1770 gating block


def loudness(audio: np.ndarray, sample_rate: int) -> float:
    """Integrated loudness in LUFS; -inf for silence (nothing above the -70 LUFS absolute gate)."""
    import pyloudnorm

    if audio.shape[0] < MIN_SECONDS * sample_rate:
        raise ValueError(f"loudness needs at least {MIN_SECONDS} s of audio, got {audio.shape[0] / sample_rate:.3f} s")
    return float(pyloudnorm.Meter(sample_rate).integrated_loudness(audio.astype(np.float64)))


def _gain_to(audio: np.ndarray, sample_rate: int, target: float) -> np.ndarray:
    level = loudness(audio, sample_rate)
    if not math.isfinite(level):
        return audio.astype(np.float32)  # silence stays silence
    return (audio * 10 ** ((target - level) / 20)).astype(np.float32)


def _limit_peak(audio: np.ndarray) -> np.ndarray:
    peak = float(np.max(np.abs(audio), initial=0.0))
    return audio * np.float32(PEAK / peak) if peak > PEAK else audio


def normalize(audio: np.ndarray, sample_rate: int, target: float = TARGET_LUFS) -> np.ndarray:
    """`audio` at `target` LUFS with its sample peak at most 0.99 (float32)."""
    return _limit_peak(_gain_to(audio, sample_rate, target))


def mix_with_stem(context: np.ndarray, stem: np.ndarray, sample_rate: int, context_stems: int = 3) -> np.ndarray:
    """A listening mix: the stem at the context's loudness - 10 log10(context_stems) + 5 dB, added to
    the context, the sum at -18 LUFS (peak <= 0.99)."""
    target = loudness(context, sample_rate) - 10 * math.log10(context_stems) + STEM_OFFSET_DB
    stem = _gain_to(stem, sample_rate, target) if math.isfinite(target) else stem
    return normalize(context + stem, sample_rate)
