"""Follow-the-song figures: does a generated stem play with the true stem, in time and in harmony?

Both compare a stem with the true stem it stands in for (mono, 44.1 kHz, same length); both are
independent of either signal's level and lie in [-1, 1]:
  onset correlation   the Pearson correlation of the two onset envelopes. An onset envelope is the
                      half-wave-rectified first difference of log energy over 512-sample hops
                      (11.6 ms), the energy floored 40 dB below the signal's mean hop energy (quiet
                      tails and noise make no onsets), then smoothed by a 3-hop triangle so that an
                      onset one hop early or late still counts.
  chroma correlation  the mean over 4096-sample frames (93 ms, Hann window) where both signals are
                      non-silent (frame energy within 30 dB of the signal's mean frame energy) of the
                      Pearson correlation of their 12-bin chroma vectors: the power of every FFT bin
                      between 55 Hz and 4.2 kHz added to the pitch class of its nearest semitone.
A figure with nothing to correlate (a silent signal, no frame where both sound, a flat envelope)
is 0: no evidence of following, never NaN.

Two more, without a control (the demo prints them), of what a musician hears first:
`level_difference_db`, the stem's RMS level over the true stem's (a part 6 dB too loud drowns the
player), and `full_scale_share`, the share of the stem's samples at full scale (clipped: distortion
in bursts).

Alone a correlation says little (chroma correlation is well above 0 for any stem in the song's
key), so `follow` reports each with a control from the same song: the figure against the true stem
delayed by 2 1/4 beats (half a 4/4 bar and a sixteenth), which keeps the song's key, tempo and
sound but puts its onsets off the beat grid and its chords half a bar late. On rendered songs the
true stem scores 1 aligned and about 0 (onsets) and 0.4-0.5 (chroma) so delayed; another song's
stem about 0 and 0.0-0.3.
"""

from __future__ import annotations

import functools

import numpy as np

from jaxaccomp.constants import SAMPLE_RATE
from jaxaccomp.eval.clips import delay

ONSET_HOP = 512
ONSET_SMOOTHING = np.array([0.5, 1.0, 0.5])  # +-1 hop
ONSET_FLOOR = 1e-4  # of the mean hop energy: -40 dB
CHROMA_FRAME = 4096
CHROMA_RANGE_HZ = (55.0, 4200.0)
SILENT = 1e-3  # frame energy below -30 dB of the signal's mean frame energy
FULL_SCALE = 0.999  # a sample this loud was clipped (decoders clip at 1)
TINY = 1e-20  # keeps an all-zero signal's floor and logarithm finite


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two equal-length vectors; 0 when either is constant (nothing to follow)."""
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return 0.0
    a, b = a - a.mean(), b - b.mean()
    return float(np.dot(a, b) / np.sqrt(np.dot(a, a) * np.dot(b, b)))


def _frames(audio: np.ndarray, size: int) -> np.ndarray:
    """[n, size] consecutive non-overlapping frames (a partial last frame is dropped)."""
    count = audio.shape[0] // size
    return np.asarray(audio[:count * size], np.float64).reshape(count, size)


def onset_envelope(audio: np.ndarray) -> np.ndarray:
    """The smoothed, half-wave-rectified log-energy difference per 512-sample hop (see the docstring)."""
    energy = np.mean(_frames(audio, ONSET_HOP) ** 2, axis=1)
    log_energy = np.log(energy + ONSET_FLOOR * energy.mean() + TINY)
    rise = np.maximum(np.diff(log_energy, prepend=log_energy[:1]), 0.0)
    return np.convolve(rise, ONSET_SMOOTHING, mode="same")


def onset_correlation(truth: np.ndarray, stem: np.ndarray, sample_rate: int) -> float:
    """Pearson correlation of the two signals' onset envelopes."""
    _check(truth, stem, sample_rate)
    return pearson(onset_envelope(truth), onset_envelope(stem))


@functools.cache
def _pitch_classes() -> np.ndarray:
    """[bins, 12]: 1 where an FFT bin inside the chroma range is nearest to that pitch class."""
    freqs = np.fft.rfftfreq(CHROMA_FRAME, 1.0 / SAMPLE_RATE)
    inside = np.flatnonzero((freqs >= CHROMA_RANGE_HZ[0]) & (freqs <= CHROMA_RANGE_HZ[1]))
    classes = np.zeros((freqs.shape[0], 12))
    classes[inside, np.round(12.0 * np.log2(freqs[inside] / 440.0)).astype(int) % 12] = 1.0
    return classes


def chroma(audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """([n, 12] chroma, [n] energy) of each 4096-sample frame."""
    frames = _frames(audio, CHROMA_FRAME)
    power = np.abs(np.fft.rfft(frames * np.hanning(CHROMA_FRAME), axis=1)) ** 2
    return power @ _pitch_classes(), np.mean(frames ** 2, axis=1)


def chroma_correlation(truth: np.ndarray, stem: np.ndarray, sample_rate: int) -> float:
    """Mean per-frame Pearson correlation of the chroma vectors where both signals sound."""
    _check(truth, stem, sample_rate)
    (truth_chroma, truth_energy), (stem_chroma, stem_energy) = chroma(truth), chroma(stem)
    sounding = _sounding(truth_energy) & _sounding(stem_energy)
    values = [pearson(a, b) for a, b in zip(truth_chroma[sounding], stem_chroma[sounding])]
    return float(np.mean(values)) if values else 0.0


def _sounding(energy: np.ndarray) -> np.ndarray:
    return energy > SILENT * energy.mean() + TINY


def _check(truth: np.ndarray, stem: np.ndarray, sample_rate: int) -> None:
    if sample_rate != SAMPLE_RATE:
        raise ValueError(f"follow-the-song figures need {SAMPLE_RATE} Hz audio, got {sample_rate} Hz")
    if truth.ndim != 1 or truth.shape != stem.shape:
        raise ValueError(f"need two mono signals of one length, got shapes {truth.shape} and {stem.shape}")


FIGURES = {"onset_corr": onset_correlation, "chroma_corr": chroma_correlation}
CONTROL_BEATS = 2.25  # half a 4/4 bar and a sixteenth


def level_difference_db(truth: np.ndarray, stem: np.ndarray) -> float:
    """The stem's RMS level minus the true stem's, in dB."""
    power = [np.mean(np.square(audio, dtype=np.float64)) + TINY for audio in (stem, truth)]
    return 10.0 * float(np.log10(power[0] / power[1]))


def full_scale_share(stem: np.ndarray) -> float:
    """The share of samples at full scale (|x| >= FULL_SCALE): what clipping left."""
    return float(np.mean(np.abs(stem) >= FULL_SCALE))


def follow(truth: np.ndarray, stem: np.ndarray, sample_rate: int, beat_seconds: float) -> dict[str, float]:
    """Every figure of `stem` against `truth`, and as `<figure>_control` against `truth` delayed by
    CONTROL_BEATS beats of `beat_seconds` (see the module docstring)."""
    control = delay(truth, round(CONTROL_BEATS * beat_seconds * sample_rate))
    figures = {}
    for name, figure in FIGURES.items():
        figures[name] = figure(truth, stem, sample_rate)
        figures[f"{name}_control"] = figure(control, stem, sample_rate)
    return figures
