"""Periodic continuation of the song: a guess at the context the musician has not played yet.

In look-ahead (w = 1) the model writes columns whose context lies in the future, so it must
extrapolate tempo and beat phase from the past alone, which the embedded models do not learn to do
on a CPU budget (docs/quality.md: chance level). Music repeats, though: a drum groove, a bass
riff and a chord progression come back every bar, every few bars, every verse. So the part of the
window the musician has not played yet is filled with a repetition of the song's own past, and the
model is shown a window whose context is complete, the case it follows well (w = -1). Only the
guess is new: when the musician really plays, the next step sees it.

Which past is found two ways, both on the song's log band energies (32 log-spaced bands, 512-sample
hops) and refined below a hop by a parabola through the best score:
- the **period** of the last `HISTORY_S`: the lag, between `MIN_PERIOD_S` and `MAX_PERIOD_S`, at
  which they correlate best with themselves (Pearson over the overlap, so long lags are not
  penalised for their shorter overlap); the guess repeats the last period;
- once `REPEAT_AFTER_S` of sound have been heard, the **repeat**: the lag at which the newest `RECENT_S`
  correlate best with an earlier stretch within the last `MEMORY_S`; the guess is what followed
  that stretch. When a verse comes back after a chorus, the period copies the chorus just played,
  the repeat finds the last verse: on rendered 90-s songs it named the chord 1.5-3 s ahead right
  0.57 of the time, the period 0.35. With less heard, 3 s matched judge the lag worse than the
  period's whole overlap, and the generated parts rated lower (docs/training.md).
Silence is not the song: a frame below the stop gate's floor takes no part in a period's score
(when the band pauses for a few seconds, the silent stretch matched itself at the shortest lag and
the guess repeated a one-second loop until the pause left the period's history), and a guess is
copied from the latest repetition that sounds (right after the band comes back, the last period
still holds the pause, and its copy told the model that silence was coming).
A band that moves on to another song (or to a part unlike anything before) would keep the old song's
period for as long as the old song fills most of the period's history, 8-12 s: so once the period no
longer describes the newest `CHECK_S` (their correlation with the stretch a period earlier, the latest
that sounds, is below `STILL_REPEATS`) and the period of the newest `NEW_SONG_S` does, that period is
taken and the song is taken to begin `NEW_SONG_S` ago. The repeat needs no such rule: the newest
seconds of the new song find themselves once they have been heard twice.
Band energies rather than an onset envelope, because they carry the harmony too: in 4/4 a drum
groove repeats after 15 beats almost as well as after 16, its chords do not (measured on rendered
songs: onset envelopes chose periods of 7.5 and 15 beats, band energies whole bars).
"""

from __future__ import annotations

import functools

import numpy as np
import scipy.fft
import scipy.signal

from jaxaccomp.constants import SAMPLE_RATE
from jaxaccomp.stop_gate import FLOOR_DB

FEATURE_HOP = 512  # samples per feature frame (11.6 ms at 44.1 kHz)
FEATURE_FFT = 2048  # analysis frame
BAND_EDGES_HZ = np.geomspace(30.0, 11000.0, 33)  # 32 log-spaced bands: bass notes to cymbals
MIN_PERIOD_S = 1.0  # shortest period or repeat tried: a bar of 4/4 at 240 bpm, two beats at 120
MAX_PERIOD_S = 12.0  # longest: six bars of 4/4 at 120 bpm (a longer reach finds whole chord progressions)
MIN_OVERLAP_S = 2.0  # a lag is scored only on at least this much overlap
MIN_CORRELATION = 0.2  # below this nothing repeats: no continuation, the future stays masked
HISTORY_S = MAX_PERIOD_S + MIN_OVERLAP_S + 1.0  # the newest audio in which the period is found
RECENT_S = 3.0  # the newest audio matched against the memory: a bar and a half at 120 bpm
MEMORY_S = 60.0  # how far back a repeat is looked for (and audio kept): a verse and a chorus
REPEAT_AFTER_S = 30.0  # heard this much (sounding, above the stop gate's floor), the repeat replaces the period
REESTIMATE_S = 1.0  # new audio after which the lag is found again
COPY_SOUNDING = 0.9  # share of a copied stretch's frames that must sound (a rest inside a bar is no pause)
CHECK_S = 1.5  # the newest audio the period must still describe (a bar at 160 bpm)
STILL_REPEATS = 0.3  # a period that describes it worse than this (Pearson) may be a song no longer played
NEW_SONG_S = 4.0  # the newest audio in which another song's period is looked for


def band_energies(audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """[frames, 32] log band energies, one frame per `FEATURE_HOP` samples."""
    frames = 1 + (audio.shape[0] - FEATURE_FFT) // FEATURE_HOP
    if frames < 1:
        return np.zeros((0, BAND_EDGES_HZ.shape[0] - 1), np.float32)
    index = np.arange(FEATURE_FFT)[None, :] + FEATURE_HOP * np.arange(frames)[:, None]
    spectrum = scipy.fft.rfft(audio[index] * np.hanning(FEATURE_FFT).astype(np.float32), axis=1)
    power = spectrum.real ** 2 + spectrum.imag ** 2
    return np.log1p(1e4 * (power @ _band_matrix(sample_rate))).astype(np.float32)


@functools.cache
def _band_matrix(sample_rate: int) -> np.ndarray:
    """[FFT bins, bands] 0/1: which band each bin's power adds to."""
    band = np.digitize(np.fft.rfftfreq(FEATURE_FFT, 1.0 / sample_rate), BAND_EDGES_HZ) - 1
    return (band[:, None] == np.arange(BAND_EDGES_HZ.shape[0] - 1)[None, :]).astype(np.float32)


def sounding(features: np.ndarray) -> np.ndarray:
    """[frames] bool: the frame's mean square (30 Hz - 11 kHz, from its band energies) is above the
    stop gate's floor. Silence before the musician starts does not count as song heard."""
    power = np.expm1(features.astype(np.float64)).sum(axis=1) / 1e4
    # one-sided spectrum of a Hann-windowed frame: sum |X|^2 = N/2 * sum (x w)^2, and sum w^2 = 3N/8
    mean_square = power / (FEATURE_FFT / 2 * 3 * FEATURE_FFT / 8)
    return mean_square > 10.0 ** (FLOOR_DB / 10.0)


def lag_correlations(features: np.ndarray, lags: np.ndarray, sounds: np.ndarray | None = None,
                     min_pairs: int = 1) -> np.ndarray:
    """Pearson correlation of features[:-lag] with features[lag:] (each band centred over its overlap) for
    each lag, from FFT autocorrelations and prefix sums: O(N log N) for all lags at once. With `sounds`
    ([frames] bool) only the pairs of frames that both sound count, and a lag with fewer than
    `min_pairs` of them scores 0 (`_sounding_lag_correlations`)."""
    if sounds is not None and not sounds.all():
        return _sounding_lag_correlations(features, lags, sounds, min_pairs)
    x = features.astype(np.float64)
    n = x.shape[0]
    spectrum = np.fft.rfft(x, 2 * n, axis=0)
    products = np.fft.irfft(np.abs(spectrum) ** 2, 2 * n, axis=0)[lags].sum(axis=1)  # sum_t a.b over bands
    sums = np.concatenate([np.zeros((1, x.shape[1])), np.cumsum(x, axis=0)])  # sums[t] = x[:t].sum(0)
    squares = np.concatenate([np.zeros(1), np.cumsum((x * x).sum(axis=1))])
    overlap = n - lags
    sum_a, sum_b = sums[overlap], sums[n] - sums[lags]  # [lags, bands]
    covariance = products - (sum_a * sum_b).sum(axis=1) / overlap
    variance_a = squares[overlap] - (sum_a * sum_a).sum(axis=1) / overlap
    variance_b = squares[n] - squares[lags] - (sum_b * sum_b).sum(axis=1) / overlap
    denominator = np.sqrt(np.maximum(variance_a * variance_b, 0.0))
    return np.where(denominator > 1e-9 * overlap, covariance / np.where(denominator > 0, denominator, 1.0), 0.0)


def _sounding_lag_correlations(features: np.ndarray, lags: np.ndarray, sounds: np.ndarray,
                               min_pairs: int) -> np.ndarray:
    """`lag_correlations` over the pairs (t, t + lag) of sounding frames only: every sum is a
    correlation of the masked features with the mask, by FFT. A lag with fewer than `min_pairs` such
    pairs scores 0."""
    mask = sounds.astype(np.float64)
    x = features.astype(np.float64) * mask[:, None]
    n, size = x.shape[0], 2 * x.shape[0]

    def correlate(a: np.ndarray, b: np.ndarray) -> np.ndarray:  # sum_t a[t] b[t + lag], at `lags`
        return np.fft.irfft(np.conj(np.fft.rfft(a, size, axis=0)) * np.fft.rfft(b, size, axis=0), size, axis=0)[lags]

    ones = mask[:, None]
    pairs = correlate(ones, ones)[:, 0]
    sum_a, sum_b = correlate(x, ones), correlate(ones, x)  # [lags, bands]
    squares_a, squares_b = correlate(x * x, ones).sum(axis=1), correlate(ones, x * x).sum(axis=1)
    products = correlate(x, x).sum(axis=1)
    count = np.maximum(pairs, 1.0)
    covariance = products - (sum_a * sum_b).sum(axis=1) / count
    variance_a = squares_a - (sum_a * sum_a).sum(axis=1) / count
    variance_b = squares_b - (sum_b * sum_b).sum(axis=1) / count
    denominator = np.sqrt(np.maximum(variance_a * variance_b, 0.0))
    enough = (pairs >= min_pairs - 0.5) & (denominator > 1e-9 * count)
    return np.where(enough, covariance / np.where(denominator > 0, denominator, 1.0), 0.0)


def recent_correlations(features: np.ndarray, recent: int) -> np.ndarray:
    """Pearson correlation of the newest `recent` frames with the `recent` frames `lag` earlier, for
    every lag from 0 to len - recent (each band centred over its stretch): one FFT correlation and
    prefix sums, O(N log N) for all lags at once."""
    x = features.astype(np.float64)
    newest = x[-recent:] - x[-recent:].mean(axis=0)
    products = scipy.signal.fftconvolve(x, newest[::-1], mode="valid", axes=0).sum(axis=1)  # by start
    sums = np.concatenate([np.zeros((1, x.shape[1])), np.cumsum(x, axis=0)])
    squares = np.concatenate([np.zeros(1), np.cumsum((x * x).sum(axis=1))])
    window_sums = sums[recent:] - sums[:-recent]  # [starts, bands]
    variances = squares[recent:] - squares[:-recent] - (window_sums * window_sums).sum(axis=1) / recent
    denominator = np.sqrt(np.maximum(variances * (newest * newest).sum(), 0.0))
    by_start = np.where(denominator > 1e-9 * recent, products / np.where(denominator > 0, denominator, 1.0), 0.0)
    return by_start[::-1]  # start n - recent - lag -> lag


def find_period(audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> int | None:
    """The song's repetition period in samples, or None if the audio is too short or does not repeat."""
    features = band_energies(np.asarray(audio, np.float32), sample_rate)
    per_second = sample_rate / FEATURE_HOP
    shortest = int(np.ceil(MIN_PERIOD_S * per_second))
    longest = min(int(MAX_PERIOD_S * per_second), features.shape[0] - int(MIN_OVERLAP_S * per_second))
    if longest < shortest + 2:
        return None
    lags = np.arange(shortest - 1, longest + 2)  # one extra on each side for the parabola
    scores = lag_correlations(features, lags, sounding(features), int(MIN_OVERLAP_S * per_second))
    return _best_lag(scores, lags[0])


def find_repeat(features: np.ndarray, sample_rate: int = SAMPLE_RATE) -> int | None:
    """The lag in samples at which the song last sounded as its newest `RECENT_S` do, or None if the
    features are too short or nothing repeats."""
    per_second = sample_rate / FEATURE_HOP
    recent, shortest = int(RECENT_S * per_second), int(np.ceil(MIN_PERIOD_S * per_second))
    if features.shape[0] - recent < shortest + 1:
        return None
    scores = recent_correlations(features, recent)  # lags 0 .. len - recent
    return _best_lag(scores[shortest - 1:], shortest - 1)


def _best_lag(scores: np.ndarray, first_lag: int) -> int | None:
    """The best-scoring lag in samples, refined below a hop by a parabola through it and its
    neighbours; `scores` are for frame lags first_lag, first_lag + 1, ..., and the first and last
    are only neighbours. None if the best scores below `MIN_CORRELATION`."""
    best = int(np.argmax(scores[1:-1])) + 1
    if scores[best] < MIN_CORRELATION:
        return None
    left, mid, right = scores[best - 1:best + 2]
    curvature = left - 2 * mid + right
    # the parabola's vertex; a flat top (curvature near 0) is no evidence of a sub-hop shift beyond half a hop
    offset = float(np.clip(0.5 * (left - right) / curvature, -0.5, 0.5)) if curvature < 0 else 0.0
    return int(round((first_lag + best + offset) * FEATURE_HOP))


class PeriodicContinuation:
    """A stream's continuation. It keeps the band energies of the last `MEMORY_S` of the stream,
    computing each frame once: all of them would take about 0.1 s on one core, too much for a step
    of a small r (94 ms at r = 1/64). A song's repetition changes slowly, so the lag is found again
    once `REESTIMATE_S` of new audio has come (or the stream went back)."""

    def __init__(self, sample_rate: int = SAMPLE_RATE):
        self.sample_rate = sample_rate
        self.lag: int | None = None  # samples; None: the song does not repeat (yet)
        self._found_at: int | None = None  # stream position of the last search
        self._features = np.zeros((0, BAND_EDGES_HZ.shape[0] - 1), np.float32)
        self._next_frame = 0  # stream frame index of the frame after the last one kept
        self._song_start = 0  # stream position where the song now played began, as far as is known

    def __call__(self, history: np.ndarray, end: int, length: int) -> np.ndarray | None:
        """The `length` samples after stream position `end`, `history` being the audio just before it, or
        None where the song does not repeat."""
        if self._found_at is None or not 0 <= end - self._found_at < REESTIMATE_S * self.sample_rate:
            if self._found_at is not None and end < self._found_at:
                self._features, self._next_frame, self._song_start = self._features[:0], 0, 0  # went back: start again
            self._remember(np.asarray(history, np.float32), end)
            if np.count_nonzero(sounding(self._features)) >= REPEAT_AFTER_S * self.sample_rate / FEATURE_HOP:
                self.lag, song = find_repeat(self._features, self.sample_rate), history
            else:
                self.lag = self._find_period(history, end)
                song = self.song(history, end)
            if self.lag is not None:
                self.lag = self._latest_sounding_repetition(song, self.lag, length)
            self._found_at = end
        if self.lag is None or self.lag > history.shape[0]:
            return None
        return np.tile(np.asarray(history[-self.lag:], np.float32), -(-length // self.lag))[:length]

    def song(self, history: np.ndarray, end: int) -> np.ndarray:
        """The part of `history` (ending at stream position `end`) played since the song began."""
        return history[max(0, history.shape[0] - (end - self._song_start)):]

    def _find_period(self, history: np.ndarray, end: int) -> int | None:
        """The period of the song's newest `HISTORY_S`; if it no longer describes the newest `CHECK_S` and
        the period of the newest `NEW_SONG_S` describes them, the band has moved on to another song (or
        to a part unlike anything before): that period, and the song is taken to begin `NEW_SONG_S` ago.
        Else the old song would hold the period for as long as it fills most of the history."""
        period = find_period(self.song(history, end)[-int(HISTORY_S * self.sample_rate):], self.sample_rate)
        if period is None or end - self._song_start <= NEW_SONG_S * self.sample_rate:
            return period
        describes = self._describes(period)
        if describes is None or describes >= STILL_REPEATS:
            return period
        newest = find_period(history[-int(NEW_SONG_S * self.sample_rate):], self.sample_rate)
        if newest is None or (self._describes(newest) or 0.0) <= STILL_REPEATS:
            return period
        self._song_start = end - int(NEW_SONG_S * self.sample_rate)
        return newest

    def _describes(self, lag: int) -> float | None:
        """Pearson correlation of the newest `CHECK_S` of band energies with those a multiple of `lag`
        earlier, the latest that sounds, or None where none does or the newest do not (a pause says
        nothing of the song; after one, the song before it is what the newest seconds are held against)."""
        check, lag_frames = int(CHECK_S * self.sample_rate / FEATURE_HOP), int(round(lag / FEATURE_HOP))
        newest = self._features[-check:]
        if newest.shape[0] < check or sounding(newest).mean() < COPY_SOUNDING:
            return None
        for back in range(lag_frames, self._features.shape[0] - check + 1, lag_frames):
            earlier = self._features[-check - back:][:check]
            if sounding(earlier).mean() >= COPY_SOUNDING:
                return float(lag_correlations(np.concatenate([earlier, newest]), np.array([check]))[0])
        return None

    def _latest_sounding_repetition(self, history: np.ndarray, lag: int, length: int) -> int:
        """The smallest multiple of `lag`, within `history`, whose copy (the first `length` samples of
        `history[-multiple:]`) sounds in at least `COPY_SOUNDING` of its frames; `lag` if none does."""
        for back in range(lag, history.shape[0] + 1, lag):
            frames = sounding(band_energies(np.asarray(history[-back:][:length], np.float32), self.sample_rate))
            if frames.size == 0 or frames.mean() >= COPY_SOUNDING:
                return back
        return lag

    def _remember(self, history: np.ndarray, end: int) -> None:
        """Add the frames that end by `end` and are not kept yet; keep the last `MEMORY_S`."""
        first_available = -(-(end - history.shape[0]) // FEATURE_HOP)  # first frame inside the history
        if self._next_frame < first_available:  # a gap (a jump forward): the memory would not be contiguous
            self._features, self._next_frame = self._features[:0], first_available
        start = self._next_frame * FEATURE_HOP - (end - history.shape[0])
        new = band_energies(history[start:], self.sample_rate)
        kept = int(MEMORY_S * self.sample_rate / FEATURE_HOP)
        self._features = np.concatenate([self._features, new])[-kept:]
        self._next_frame += new.shape[0]
