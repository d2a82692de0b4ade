"""Periodic continuation of the song: a guess at the context the musician has not played yet.

In look-ahead (w = 1) the model writes columns whose context lies in the future, so it must
extrapolate tempo and beat phase from the past alone, which the embedded models do not learn to do
on a CPU budget (docs/quality.md: chance level). Music repeats, though: a drum groove, a bass
riff and a chord progression come back every bar or every few bars. So the part of the window the
musician has not played yet is filled with the song's own last period, and the model is shown a
window whose context is complete, the case it follows well (w = -1). Only the guess is new: when
the musician really plays, the next step sees it.

The period is the lag, between `MIN_PERIOD_S` and `MAX_PERIOD_S`, at which the song's log band
energies (32 log-spaced bands, 512-sample hops) correlate best with themselves: Pearson over the
overlap, so long lags are not penalised for their shorter overlap, refined below a hop by a
parabola through the peak. Band energies rather than an onset envelope, because they carry the
harmony too: in 4/4 a drum groove repeats after 15 beats almost as well as after 16, its chords do
not (measured on rendered songs: onset envelopes chose periods of 7.5 and 15 beats, band energies
whole bars).
"""

from __future__ import annotations

import numpy as np

from jaxaccomp.constants import SAMPLE_RATE

FEATURE_HOP = 512  # samples per feature frame (11.6 ms at 44.1 kHz)
FEATURE_FFT = 2048  # analysis frame
BAND_EDGES_HZ = np.geomspace(30.0, 11000.0, 33)  # 32 log-spaced bands: bass notes to cymbals
MIN_PERIOD_S = 1.0  # shortest period tried: a bar of 4/4 at 240 bpm, two beats at 120
MAX_PERIOD_S = 8.0  # longest: four bars of 4/4 at 120 bpm
MIN_OVERLAP_S = 2.0  # a lag is scored only on at least this much overlap
MIN_CORRELATION = 0.2  # below this nothing repeats: no continuation, the future stays masked
HISTORY_S = MAX_PERIOD_S + MIN_OVERLAP_S + 1.0  # audio kept to find and copy the period


def band_energies(audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """[frames, 32] log band energies, one frame per `FEATURE_HOP` samples."""
    frames = 1 + (audio.shape[0] - FEATURE_FFT) // FEATURE_HOP
    if frames < 1:
        return np.zeros((0, BAND_EDGES_HZ.shape[0] - 1), np.float32)
    index = np.arange(FEATURE_FFT)[None, :] + FEATURE_HOP * np.arange(frames)[:, None]
    power = np.abs(np.fft.rfft(audio[index] * np.hanning(FEATURE_FFT).astype(np.float32), axis=1)) ** 2
    band = np.digitize(np.fft.rfftfreq(FEATURE_FFT, 1.0 / sample_rate), BAND_EDGES_HZ) - 1
    bands = np.stack([power[:, band == b].sum(axis=1) for b in range(BAND_EDGES_HZ.shape[0] - 1)], axis=1)
    return np.log1p(1e4 * bands).astype(np.float32)


def lag_correlations(features: np.ndarray, lags: np.ndarray) -> np.ndarray:
    """Pearson correlation of features[:-lag] with features[lag:] (each band centred) for each lag."""
    out = np.empty(lags.shape[0], np.float64)
    for i, lag in enumerate(lags):
        a, b = features[:-lag], features[lag:]
        a, b = a - a.mean(axis=0), b - b.mean(axis=0)
        denom = np.sqrt((a * a).sum() * (b * b).sum())
        out[i] = (a * b).sum() / denom if denom > 0 else 0.0
    return out


def find_period(audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> int | None:
    """The song's repetition period in samples, or None if the audio is too short or does not repeat."""
    features = band_energies(np.asarray(audio, np.float32), sample_rate)
    per_second = sample_rate / FEATURE_HOP
    shortest = int(np.ceil(MIN_PERIOD_S * per_second))
    longest = min(int(MAX_PERIOD_S * per_second), features.shape[0] - int(MIN_OVERLAP_S * per_second))
    if longest < shortest + 2:
        return None
    lags = np.arange(shortest - 1, longest + 2)  # one extra on each side for the parabola
    scores = lag_correlations(features, lags)
    best = int(np.argmax(scores[1:-1])) + 1
    if scores[best] < MIN_CORRELATION:
        return None
    left, mid, right = scores[best - 1:best + 2]
    curvature = left - 2 * mid + right
    # the parabola's vertex; a flat top (curvature near 0) is no evidence of a sub-hop shift beyond half a hop
    offset = float(np.clip(0.5 * (left - right) / curvature, -0.5, 0.5)) if curvature < 0 else 0.0
    return int(round((lags[best] + offset) * FEATURE_HOP))


def continue_periodically(history: np.ndarray, length: int, sample_rate: int = SAMPLE_RATE) -> np.ndarray | None:
    """`length` samples that follow `history` by repeating its last period, or None where it does not repeat."""
    period = find_period(history, sample_rate)
    if period is None or period > history.shape[0]:
        return None
    last = history[-period:]
    return np.tile(last, -(-length // period))[:length].astype(np.float32)
