"""The embedded codec: a fixed DSP analysis/synthesis pair on Music2Latent's latent grid.

No learned weights and no network: it runs anywhere, offline, far faster than real time. Each
64-channel frame (4096 samples) holds
  0-35   log energies of 36 mel bands (30 Hz - 16 kHz): the spectral envelope, i.e. timbre;
  36-43  the log mean square of each of the frame's eight 512-sample blocks: onsets and rhythm at
         11.6 ms resolution, and the absolute level that decoding restores;
  44-55  a 12-bin chroma (share of 55 Hz - 4.2 kHz energy per pitch class): the harmony of chords;
  56-59  log2 f0 of the dominant periodic sound in each 1024-sample quarter frame: the exact
         pitch, which the bands cannot hold (the lowest spans 30 - 165 Hz, two octaves of bass);
         where nothing is periodic the neighbours' pitch is interpolated, so the curve stays smooth;
  60-63  the periodicity of each quarter frame (1 - YIN's aperiodicity): how much of the energy is
         one harmonic tone at that pitch rather than noise, drums or a chord.
Decoding is a harmonic-plus-residual vocoder. A wavetable oscillator plays the encoded pitch with
partial amplitudes read off the band envelope; it gets the periodic share of the energy. The rest
is the band envelope times a pitch-class comb with seeded random phases, overlap-added: noise,
drums and chords. Finally each block is scaled towards its encoded energy, exactly so over a
frame. It keeps onsets, level, spectral envelope, pitch and pitch classes, not timbre detail, phase
or the notes of a chord: it is a codec a small model can learn and a person can hear, not a
high-fidelity one.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
import scipy.fft
from scipy.signal import resample_poly

from jaxaccomp.codec import intonation
from jaxaccomp.codec.base import GridConstants, HeardBand, check_audio, check_latents, decoded_length, num_frames
from jaxaccomp.constants import SAMPLE_RATE

N_FFT = 2048  # STFT window of the band and chroma analysis
STFT_HOP = 512  # STFT hop, also the length of an energy block
HOPS_PER_FRAME = 8  # 4096 / 512
QUARTERS = 4  # pitch estimates per frame
QUARTER = 1024  # samples per pitch estimate (4096 / 4)
HOPS_PER_QUARTER = HOPS_PER_FRAME // QUARTERS  # energy blocks per pitch estimate
FIRST_BLOCK = (N_FFT - STFT_HOP) // 2  # the first block is centred on the first STFT hop
MEL_BANDS = 36  # enough for the envelope; pitch no longer has to come from the bands
CHROMA_BINS = 12  # one per pitch class
MEL_RANGE_HZ = (30.0, 16000.0)  # below 30 Hz is rumble, above 16 kHz little that matters
CHROMA_RANGE_HZ = (55.0, 4200.0)  # A1 to C8: where pitch classes are heard
COMB_SHARE = 0.8  # of each bin's residual energy given to the pitch-class comb when decoding
# Affine maps from the features to roughly unit-scale latents.
LOG_POWER_OFFSET, LOG_POWER_SCALE = 8.0, 4.0  # natural-log band power
LOG_MEAN_SQUARE_OFFSET, LOG_MEAN_SQUARE_SCALE = 10.0, 5.0  # natural-log block mean square
CHROMA_SCALE = 2.0  # natural-log chroma share
LOG2_F0_CENTRE, LOG2_F0_SCALE = np.log2(200.0), 2.0  # log2 f0: E1 -> -1.1, C6 -> 1.2
A4_HZ = 440.0  # the reference of the semitone grid that pitch tracks are measured on
FLOOR = 1e-8  # keeps logarithms and divisions finite
# Floors keep silent blocks and absent pitch classes at bounded latent values.
MEAN_SQUARE_FLOOR = 1e-9  # -90 dBFS
CHROMA_FLOOR = 1e-2  # relative to a flat chroma
BAND_CORRECTIONS = 12  # iterations that undo the mel filters' overlap when decoding
ENVELOPE_RAMP = 64  # samples over which a block's amplitude changes when decoding
ENVELOPE_TOLERANCE = 1.0  # block energy errors (in nats) that decoding leaves uncorrected
# Synthesis gains that make a decoded hop analyse to the encoded power after window-normalised
# overlap-add: random-phase hops add incoherently (a factor N/hop of power is lost), phase-coherent
# hops add up as sinusoids (window sum 2 over window-square sum 1.5, and irfft's 2/N vs Hann's N/4).
INCOHERENT_GAIN = (N_FFT / STFT_HOP) ** 0.5
COHERENT_GAIN = 1.5
PHASE_STEPS = 4096  # random phases are whole steps around the circle: a table lookup
NOISE_HOPS = 4096  # the residual's random phases repeat after this many hops (47.6 s): one table per seed
# Pitch analysis: YIN (de Cheveigne and Kawahara 2002) on a decimated copy, which is 4x cheaper
# and still holds the first five partials of C6.
DECIMATION = 4  # 44.1 kHz -> 11025 Hz
DECIMATION_REACH = 10 * DECIMATION  # samples either side that one decimated sample reads (resample_poly's filter)
PITCH_RATE = SAMPLE_RATE / DECIMATION  # Hz
F0_RANGE_HZ = (35.0, 2000.0)  # a little below E1 (41.2 Hz), well above C6 (1046.5 Hz)
MIN_LAG = int(PITCH_RATE / F0_RANGE_HZ[1])  # shortest period searched, in decimated samples
MAX_LAG = int(np.ceil(PITCH_RATE / F0_RANGE_HZ[0]))  # longest period searched
YIN_WINDOW = 576  # integration window: two periods of E1 (2 x 268 samples)
YIN_SPAN = YIN_WINDOW + MAX_LAG + 2  # samples one estimate reads (spare lags for the minimum)
YIN_FFT = 1024  # >= YIN_SPAN: the correlation does not wrap
LAG_STEPS = 4  # lags searched per decimated sample: the resolution of the full rate
YIN_THRESHOLD = 0.15  # the first dip below this aperiodicity is the period (YIN's absolute threshold)
# Twice that period is taken where its dip is 12x deeper, unless the period's is clean already: a
# guitar's E2 reaches 0.02 - 0.05 at half its period and 13x - 85x less at its period, while the
# first 0.3 s of a plucked bass note can be up to 10x deeper at twice its period.
OCTAVE_FACTOR, OCTAVE_FLOOR = 12.0, 0.015
VOICED_APERIODICITY = YIN_THRESHOLD  # above it a quarter's pitch is interpolated from its neighbours
YIN_NOISE_POWER = 1e-8  # mean square (-80 dBFS) added to the difference: silence is aperiodic
# Periodicities mapped to a harmonic share of 0 and 1: noise and drums stay below 0.25, a note
# reaches 0.9 - 1, a chord (one harmonic series at its common period) about 0.85.
VOICING_RANGE = (0.5, 0.85)
# The band's chord, for notes that land on it (codec.intonation): a window four times the STFT's
# resolves neighbouring semitones down to about 90 Hz, where the chroma rows' 2048 samples merge
# two or three (their strongest two pitch classes were among a constant-Q chroma's strongest three
# in 51-64 % of a band's frames, this analysis's in 81-84 %).
CHORD_FFT = 8192
CHORD_RANGE_HZ = (60.0, 2000.0)  # the band's fundamentals and first partials: where its chord is heard
# Harmonic synthesis.
MAX_PARTIALS = int(MEL_RANGE_HZ[1] / F0_RANGE_HZ[0])  # 457: the lowest pitch's partials below 16 kHz
TABLE_SIZE = 2048  # wavetable points: room for 1023 partials
# Channel ranges of a frame, as the module docstring lists them.
_MEL = slice(0, MEL_BANDS)
_BLOCKS = slice(MEL_BANDS, MEL_BANDS + HOPS_PER_FRAME)
_CHROMA = slice(_BLOCKS.stop, _BLOCKS.stop + CHROMA_BINS)
_PITCH = slice(_CHROMA.stop, _CHROMA.stop + QUARTERS)
_PERIODICITY = slice(_PITCH.stop, _PITCH.stop + QUARTERS)
CHANNEL_GROUPS = {"mel": _MEL, "block_energies": _BLOCKS, "chroma": _CHROMA, "pitch": _PITCH,
                  "periodicity": _PERIODICITY}


def pitch_track(latents: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """[..., 64, T] raw latents -> ([..., 4T] pitch in semitones above A4, [..., 4T] periodicity 0-1),
    quarter frames in time order."""
    pitch = np.swapaxes(latents[..., _PITCH, :], -1, -2) * LOG2_F0_SCALE + LOG2_F0_CENTRE  # [..., T, 4]
    periodicity = (np.swapaxes(latents[..., _PERIODICITY, :], -1, -2) + 1) / 2
    flat = (*pitch.shape[:-2], -1)
    return 12 * (pitch.reshape(flat) - np.log2(A4_HZ)), periodicity.reshape(flat)


def voiced_decisively(periodicity: np.ndarray, stretch: float) -> np.ndarray:
    """`periodicity` with every quarter that the decoder voices at all (above VOICING_RANGE's floor)
    moved `stretch` times further from that floor, at most to 1; the others unchanged.

    Why: a model unsure whether a part sounds a note predicts a periodicity between noise and note
    (the shipped student's guitar mostly 0.5-0.8, where the real guitar's notes mostly lie above 0.85),
    and the decoder plays such a quarter partly as noise: a guitar of noisy strums, pitched a quarter
    to two thirds as often as the real one. Stretched, the same notes sound as notes (docs/streaming.md,
    "Notes voiced decisively")."""
    floor = VOICING_RANGE[0]
    return np.where(periodicity > floor, np.minimum(floor + stretch * (periodicity - floor), 1.0), periodicity)


@functools.lru_cache(maxsize=2)
def noise_phases(seed: int) -> np.ndarray:
    """[NOISE_HOPS, bins] the residual's random phases of every hop of a stream decoded with `seed`
    (read-only, 8 MB; a stream decodes with one seed, an evaluation with seed 0: two are kept)."""
    table = np.random.default_rng([seed, NOISE_HOPS]).integers(0, PHASE_STEPS, (NOISE_HOPS, N_FFT // 2 + 1),
                                                                dtype=np.uint16)
    table.setflags(write=False)
    return table


def band_chord(audio: np.ndarray, offset: float, sample_rate: int = SAMPLE_RATE, every: int = 1) -> np.ndarray:
    """[12, T / every] each pitch class's share (C = 0) of the spectral peaks of the [4096 T + 1536]
    band audio in a CHORD_FFT window centred on every `every`th latent frame, on the grid `offset`
    semitones from A440; flat (1/12) where the band is silent."""
    frames = (audio.shape[0] - FIRST_BLOCK * 2) // (HOPS_PER_FRAME * STFT_HOP)
    centres = FIRST_BLOCK + HOPS_PER_FRAME * STFT_HOP * np.arange(0, frames, every) + HOPS_PER_FRAME * STFT_HOP // 2
    padded = np.pad(audio.astype(np.float32), CHORD_FFT // 2)  # padded[c : c + CHORD_FFT] is centred on audio[c]
    windows = np.lib.stride_tricks.sliding_window_view(padded, CHORD_FFT)[centres] * np.hanning(CHORD_FFT).astype(np.float32)
    freqs = np.fft.rfftfreq(CHORD_FFT, 1.0 / sample_rate)
    top = int(np.searchsorted(freqs, CHORD_RANGE_HZ[1])) + 2  # bins above cannot be, or bound, a peak inside
    power = _spectral_peaks(np.abs(scipy.fft.rfft(windows, axis=1)[:, :top]) ** 2)  # float32: 3x numpy's float64
    inside = (freqs[:top] >= CHORD_RANGE_HZ[0]) & (freqs[:top] <= CHORD_RANGE_HZ[1])
    classes = (np.round(12 * np.log2(freqs[:top][inside] / A4_HZ) - offset).astype(int) + intonation.A4_CLASS) % 12
    shares = power[:, inside] @ np.eye(12)[classes]  # [T, 12]
    total = shares.sum(axis=1, keepdims=True)
    return np.where(total > FLOOR, shares / np.maximum(total, FLOOR), 1.0 / 12).T


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + hz / 700.0)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)


def mel_filterbank(sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """[bins, bands] triangular filters, each summing to 1: a band value is a weighted mean bin power."""
    freqs = np.fft.rfftfreq(N_FFT, 1.0 / sample_rate)
    edges = _mel_to_hz(np.linspace(*_hz_to_mel(np.array(MEL_RANGE_HZ)), MEL_BANDS + 2))
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (freqs[None, :] - lower) / (centre - lower)
    falling = (upper - freqs[None, :]) / (upper - centre)
    weights = np.clip(np.minimum(rising, falling), 0.0, None)  # [bands, bins]
    return (weights / weights.sum(axis=1, keepdims=True)).T


def chroma_weights(sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """[bins, 12] soft pitch-class membership of each bin inside the chroma range (0 outside)."""
    freqs = np.fft.rfftfreq(N_FFT, 1.0 / sample_rate)
    inside = (freqs >= CHROMA_RANGE_HZ[0]) & (freqs <= CHROMA_RANGE_HZ[1])
    pitch = 12.0 * np.log2(np.maximum(freqs, 1.0) / 440.0) + 69.0
    distance = np.abs(((pitch[:, None] - np.arange(CHROMA_BINS)[None, :]) + 6.0) % 12.0 - 6.0)
    return np.exp(-0.5 * (distance / 0.5) ** 2) * inside[:, None]


def _spectral_peaks(power: np.ndarray) -> np.ndarray:
    """Power at local maxima along the last axis, 0 elsewhere: keeps window leakage out of chroma."""
    left = np.pad(power[..., :-1], [(0, 0)] * (power.ndim - 1) + [(1, 0)])
    right = np.pad(power[..., 1:], [(0, 0)] * (power.ndim - 1) + [(0, 1)])
    return np.where((power >= left) & (power >= right), power, 0.0)


def _aperiodicity(segments: np.ndarray) -> np.ndarray:
    """YIN's cumulative mean normalised difference of each segment at lags 0, 1/4, 1/2 ... MAX_LAG + 1.

    The difference x[j] - x[j + lag] over the window expands into two energies and a correlation;
    the correlation comes from one FFT per segment instead of a loop over lags, at quarter-sample
    lags by zero-padding the spectrum: a C6 period (10.5 samples) falls between whole lags, where
    its upper partials would not cancel.
    """
    count = (MAX_LAG + 2) * LAG_STEPS  # lag steps
    spectrum = np.conj(np.fft.rfft(segments[..., :YIN_WINDOW], YIN_FFT)) * np.fft.rfft(segments, YIN_FFT)
    correlation = LAG_STEPS * np.fft.irfft(spectrum, LAG_STEPS * YIN_FFT)[..., :count]
    energy = np.pad(np.cumsum(np.square(segments), axis=-1), [(0, 0)] * (segments.ndim - 1) + [(1, 0)])
    window_energy = energy[..., YIN_WINDOW:YIN_WINDOW + MAX_LAG + 3] - energy[..., :MAX_LAG + 3]  # whole lags
    whole, frac = np.divmod(np.arange(count), LAG_STEPS)  # energy changes slowly: interpolate it
    low, high = window_energy[..., whole], window_energy[..., whole + 1]
    shifted_energy = low + frac / LAG_STEPS * (high - low)
    difference = window_energy[..., :1] + shifted_energy - 2 * correlation
    difference = np.maximum(difference, 0.0) + 2 * YIN_WINDOW * YIN_NOISE_POWER
    cumulative_mean = np.cumsum(difference[..., 1:], axis=-1) / np.arange(1, count)
    return np.concatenate([np.ones_like(difference[..., :1]), difference[..., 1:] / cumulative_mean], axis=-1)


def _best_lag(aperiodicity: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(period in decimated samples, aperiodicity there) of each row of YIN's curve."""
    return _refine(aperiodicity, _octave_below(aperiodicity, _first_dip(aperiodicity)))


def _first_dip(aperiodicity: np.ndarray) -> np.ndarray:
    """Lag step of YIN's period: the first dip below the threshold, else the deepest.

    Not the deepest dip: every multiple of the period fits a periodic sound as well (an octave or
    more too low), and where a new note rings over the last one's tail only their common period
    fits exactly.
    """
    steps = np.arange(MIN_LAG * LAG_STEPS, MAX_LAG * LAG_STEPS + 1)
    here, before, after = (aperiodicity[..., steps + shift] for shift in (0, -1, 1))
    dip = (here <= before) & (here < after) & (here < YIN_THRESHOLD)
    return steps[np.where(dip.any(axis=-1), dip.argmax(axis=-1), here.argmin(axis=-1))]


def _octave_below(aperiodicity: np.ndarray, step: np.ndarray) -> np.ndarray:
    """Twice the lag `step` where the dip there is far deeper: a weak fundamental and faint odd
    partials (E2 on a guitar) let half the period pass YIN's threshold, an octave too high."""
    window = 2 * step[..., None] + np.arange(-LAG_STEPS, LAG_STEPS + 1)  # one sample either side
    inside = window[..., -1] <= MAX_LAG * LAG_STEPS
    window = np.minimum(window, MAX_LAG * LAG_STEPS)
    values = np.take_along_axis(aperiodicity, window, axis=-1)
    double = np.take_along_axis(window, values.argmin(axis=-1)[..., None], axis=-1)[..., 0]
    single = np.take_along_axis(aperiodicity, step[..., None], axis=-1)[..., 0]
    deeper = inside & (single > OCTAVE_FLOOR) & (values.min(axis=-1) * OCTAVE_FACTOR < single)
    return np.where(deeper, double, step)


def _refine(aperiodicity: np.ndarray, step: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(lag, aperiodicity) at the minimum of the parabola through the dip at `step` and its neighbours."""
    here, before, after = (np.take_along_axis(aperiodicity, (step + shift)[..., None], axis=-1)[..., 0]
                           for shift in (0, -1, 1))
    curvature = before - 2 * here + after
    offset = np.clip(0.5 * (before - after) / np.maximum(curvature, FLOOR), -0.5, 0.5)
    return (step + offset) / LAG_STEPS, here - 0.25 * (before - after) * offset


def _fill_unvoiced(log2_f0: np.ndarray, voiced: np.ndarray) -> np.ndarray:
    """Pitch where nothing is periodic, interpolated from the voiced neighbours (held at the ends)."""
    filled = np.full_like(log2_f0, LOG2_F0_CENTRE)
    position = np.arange(log2_f0.shape[1])
    for row in range(log2_f0.shape[0]):
        if voiced[row].any():
            filled[row] = np.interp(position, position[voiced[row]], log2_f0[row, voiced[row]])
    return filled


def _anchored_phase(anchored: np.ndarray, advance: np.ndarray, held: np.ndarray) -> np.ndarray:
    """[B, C] the oscillator's phase (cycles) at C quarter-frame centres: `anchored` ([B, C]) at the
    first centre and at every centre of a held note (its pitch `held`, [B, C - 1], into the next centre
    or from the one before: a note's first centre too, so that the glide between two notes, not the
    note, takes up the difference), else the last centre's phase plus the `advance` ([B, C - 1]) of
    the glide between them."""
    steps = np.concatenate([np.zeros_like(anchored[:, :1]), np.cumsum(advance, axis=1)], axis=1)
    into, from_before = (np.pad(held, ((0, 0), pad)) for pad in ((0, 1), (1, 0)))
    is_anchor = into | from_before
    is_anchor[:, 0] = True
    last = np.maximum.accumulate(np.where(is_anchor, np.arange(anchored.shape[1]), 0), axis=1)
    rows = np.arange(anchored.shape[0])[:, None]
    return anchored[rows, last] + steps - steps[rows, last]


def column_reach(first: int, count: int) -> tuple[int, int]:
    """Samples [lo, hi) of a clip that the `column_features` of its frames [first, first + count) read."""
    return HOPS_PER_FRAME * STFT_HOP * first, HOPS_PER_FRAME * STFT_HOP * (first + count) + N_FFT - STFT_HOP


def quarter_reach(first: int, count: int) -> tuple[int, int]:
    """Samples [lo, hi) of a clip that the `quarter_pitch` of its quarters [first, first + count) read,
    the decimating filter's reach included (below 0 and past the clip's end they read zeros)."""
    start, stop = _segment_span(first, count)
    return DECIMATION * start - DECIMATION_REACH, DECIMATION * (stop - 1) + DECIMATION_REACH + 1


def quarter_pitch(audio: np.ndarray, first: int, count: int) -> tuple[np.ndarray, np.ndarray]:
    """([B, count] lag in decimated samples, [B, count] YIN aperiodicity) of the quarter frames [first,
    first + count) of the [B, 4096 T + 1536] float64 clip, each one YIN estimate centred on its quarter.
    It decimates only the samples they read, with the values decimating the whole clip gives."""
    start, stop = _segment_span(first, count)
    low = _decimated(audio, start, stop)
    segments = np.lib.stride_tricks.sliding_window_view(low, YIN_SPAN, axis=1)[:, ::QUARTER // DECIMATION]
    return _best_lag(_aperiodicity(segments))


def _segment_span(first: int, count: int) -> tuple[int, int]:
    """Decimated samples [start, stop) of a clip that the YIN segments of quarters [first, first + count) span."""
    start = (FIRST_BLOCK + QUARTER // 2) // DECIMATION - YIN_SPAN // 2 + first * (QUARTER // DECIMATION)
    return start, start + (count - 1) * (QUARTER // DECIMATION) + YIN_SPAN


def _decimated(audio: np.ndarray, start: int, stop: int) -> np.ndarray:
    """[B, stop - start] decimated samples [start, stop) of the [B, L] clip, zeros outside its L / DECIMATION."""
    margin = -(-DECIMATION_REACH // DECIMATION)  # decimated samples whose filter reaches into [start, stop)
    lo, hi = DECIMATION * (start - margin), DECIMATION * (stop + margin)
    chunk = np.zeros((audio.shape[0], hi - lo))
    inside = slice(max(lo, 0), min(hi, audio.shape[1]))
    if inside.start < inside.stop:
        chunk[:, inside.start - lo:inside.stop - lo] = audio[:, inside]
    low = resample_poly(chunk, 1, DECIMATION, axis=1)[:, margin:margin + stop - start]
    index = np.arange(start, stop)
    low[:, (index < 0) | (index >= -(-audio.shape[1] // DECIMATION))] = 0.0
    return low


class EmbeddedCodec(GridConstants):
    """Mel envelope + block energies + chroma + pitch analysis, harmonic-plus-residual synthesis."""

    name = "embedded-2"
    is_pretrained = False

    def __init__(self) -> None:
        self.window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)  # periodic Hann
        # Audio of mean square m gives STFT power summed over bins (N/2) m sum(window^2), noise
        # and sinusoids alike.
        self.power_per_mean_square = N_FFT / 2 * np.square(self.window).sum()
        self.circle = np.exp(2j * np.pi * np.arange(PHASE_STEPS) / PHASE_STEPS).astype(np.complex64)
        self.mel = mel_filterbank(self.sample_rate)
        self.chroma = chroma_weights(self.sample_rate)
        # Decoding spreads each band's mean power back over its bins.
        self.mel_to_bins = self.mel / np.maximum(self.mel.sum(axis=1, keepdims=True), FLOOR)  # [bins, bands]
        self.covered = self.mel.sum(axis=1) > 0
        self.chroma_share = self.chroma / np.maximum(self.chroma.sum(axis=1, keepdims=True), FLOOR)

    # ------------------------------------------------------------------------------------------
    # Analysis

    def encode(self, audio: np.ndarray) -> np.ndarray:
        audio = check_audio(audio).astype(np.float64)
        lag, aperiodicity = quarter_pitch(audio, 0, num_frames(audio.shape[1]) * QUARTERS)
        return self.latents(self.column_features(audio), lag, aperiodicity)

    def column_features(self, audio: np.ndarray) -> np.ndarray:
        """[B, T, 56] the mel, block-energy and chroma rows of each frame of the [B, 4096 T + 1536] float64
        clip. Frame t reads only the clip's samples [4096 t, 4096 t + 5632) (`column_reach`)."""
        power = self._power(audio)
        b, hops, _ = power.shape
        frames = hops // HOPS_PER_FRAME
        per_frame = power.reshape(b, frames, HOPS_PER_FRAME, -1)
        bands = per_frame.mean(axis=2) @ self.mel  # [B, T, 36]
        mean_square = self._block_energy(audio, frames) / STFT_HOP  # [B, T, 8]
        chroma = _spectral_peaks(per_frame.sum(axis=2)) @ self.chroma + FLOOR  # [B, T, 12]
        share = chroma / chroma.sum(axis=2, keepdims=True)
        return np.concatenate([
            (np.log(bands + FLOOR) + LOG_POWER_OFFSET) / LOG_POWER_SCALE,
            (np.log(mean_square + MEAN_SQUARE_FLOOR) + LOG_MEAN_SQUARE_OFFSET) / LOG_MEAN_SQUARE_SCALE,
            np.log(CHROMA_BINS * share + CHROMA_FLOOR) / CHROMA_SCALE,
        ], axis=2)

    @staticmethod
    def latents(columns: np.ndarray, lag: np.ndarray, aperiodicity: np.ndarray) -> np.ndarray:
        """[B, 64, T] latents from the [B, T, 56] `column_features` and the [B, 4T] `quarter_pitch` of one
        clip. Only here does one frame depend on others: an unvoiced quarter's pitch comes from its voiced
        neighbours in the clip."""
        b, frames, _ = columns.shape
        log2_f0 = _fill_unvoiced(np.log2(PITCH_RATE / lag), aperiodicity < VOICED_APERIODICITY)
        periodicity = np.clip(1.0 - aperiodicity, 0.0, 1.0)
        latents = np.concatenate([
            columns,
            (log2_f0.reshape(b, frames, QUARTERS) - LOG2_F0_CENTRE) / LOG2_F0_SCALE,
            2 * periodicity.reshape(b, frames, QUARTERS) - 1,
        ], axis=2)
        return latents.transpose(0, 2, 1).astype(np.float32)

    def _power(self, audio: np.ndarray) -> np.ndarray:
        frames = np.lib.stride_tricks.sliding_window_view(audio, N_FFT, axis=1)[:, ::STFT_HOP]
        return np.abs(np.fft.rfft(frames * self.window, axis=-1)) ** 2  # [B, 8T, bins]

    def _block_energy(self, audio: np.ndarray, frames: int) -> np.ndarray:
        """[B, T, 8] energies of the 512-sample blocks centred on the STFT hops (they tile the audio)."""
        blocks = audio[:, FIRST_BLOCK:FIRST_BLOCK + frames * HOPS_PER_FRAME * STFT_HOP]
        return np.square(blocks).reshape(audio.shape[0], frames, HOPS_PER_FRAME, STFT_HOP).sum(axis=-1)

    def in_tune(self, target: np.ndarray, context: np.ndarray, band: HeardBand | None = None,
                roots: Sequence[bool] = (), voicing: Sequence[float] = ()) -> np.ndarray:
        """Each note of the [S, 64, W] target one pitch on the [64, W] context's semitone grid
        (`codec.intonation`); given what was heard of the `band`, one of its strongest pitch classes
        over the note (`band_chord` where heard, `intonation.chord_ahead` after), or its chord's root
        for the parts `roots` marks; and each part's notes voiced more decisively by its `voicing`
        stretch (`voiced_decisively`). Only the pitch and periodicity rows change."""
        target, context = check_latents(target), check_latents(context[None])[0]
        offset = intonation.band_offset(*pitch_track(context))
        chord = None if band is None else np.repeat(self._band_chords(band, offset, context.shape[1]), QUARTERS, axis=1)
        out = target.copy()
        for stem, (semitones, periodicity) in enumerate(zip(*pitch_track(target))):
            root = stem < len(roots) and roots[stem]
            snapped = intonation.snap_notes(semitones, periodicity, periodicity > VOICING_RANGE[0], offset, chord, root)
            log2_f0 = snapped / 12 + np.log2(A4_HZ)
            out[stem, _PITCH] = ((log2_f0 - LOG2_F0_CENTRE) / LOG2_F0_SCALE).reshape(-1, QUARTERS).T
            if stem < len(voicing) and voicing[stem] != 1:
                decisive = voiced_decisively(periodicity, voicing[stem])
                out[stem, _PERIODICITY] = (2 * decisive - 1).reshape(-1, QUARTERS).T
        return out

    def _band_chords(self, band: HeardBand, offset: float, frames: int) -> np.ndarray:
        """[12, frames] the band's pitch-class shares over the window: heard, then predicted."""
        heard = band_chord(band.audio[:decoded_length(min(band.heard, frames))], offset, self.sample_rate)
        past = band.past[-int(intonation.KEY_S * self.sample_rate):]
        frame_s = intonation.KEY_EVERY * self.hop / self.sample_rate
        key = (intonation.song_key(band_chord(past, offset, self.sample_rate, intonation.KEY_EVERY), frame_s)
               if num_frames(past.shape[0]) else np.full(12, 1.0 / 12))
        return np.concatenate([heard, intonation.chord_ahead(heard, key, frames - heard.shape[1])], axis=1)

    # ------------------------------------------------------------------------------------------
    # Synthesis

    def decode(self, latents: np.ndarray, seed: int = 0, start_column: int = 0) -> np.ndarray:
        """[B, 64, T] latents, the first of them column `start_column` of a longer stream, -> [B, 4096 T + 1536]
        audio. Every random phase and the oscillator's phase are functions of the absolute position and
        the seed, so two decodes (one seed) of overlapping columns play the same samples where they overlap,
        away from their edges, and a client's crossfade between them does not dip (docs/codecs.md)."""
        latents = check_latents(latents).astype(np.float64).transpose(0, 2, 1)  # [B, T, 64]
        b, frames, _ = latents.shape
        band_power = np.exp(latents[..., _MEL] * LOG_POWER_SCALE - LOG_POWER_OFFSET)
        mean_square = np.maximum(np.exp(latents[..., _BLOCKS] * LOG_MEAN_SQUARE_SCALE - LOG_MEAN_SQUARE_OFFSET)
                                 - MEAN_SQUARE_FLOOR, 0.0)
        share = np.maximum(np.exp(latents[..., _CHROMA] * CHROMA_SCALE) - CHROMA_FLOOR, 0.0) + FLOOR
        share /= share.sum(axis=2, keepdims=True)
        # Pitches outside the analysed range (a model's stray predictions) are held at its ends.
        log2_f0 = np.clip(latents[..., _PITCH] * LOG2_F0_SCALE + LOG2_F0_CENTRE, *np.log2(F0_RANGE_HZ)).reshape(b, -1)
        periodicity = (latents[..., _PERIODICITY].reshape(b, -1) + 1) / 2
        voiced = np.clip((periodicity - VOICING_RANGE[0]) / (VOICING_RANGE[1] - VOICING_RANGE[0]), 0.0, 1.0)

        comb = CHROMA_BINS * (share @ self.chroma_share.T)  # 1 everywhere when chroma is flat
        comb_share = np.where(self.chroma.sum(axis=1) > 0, COMB_SHARE, 0.0)
        tonal = comb_share * comb + (1 - comb_share)
        power = self._bin_power(band_power, tonal)  # [B, T, bins]: the frame's spectral shape

        rng = np.random.default_rng(seed)
        length = decoded_length(frames)
        quarter_square = mean_square.reshape(b, -1, HOPS_PER_QUARTER).mean(axis=2)  # [B, 4T]
        audio = self._harmonic(power, log2_f0, voiced * quarter_square, length, rng, start_column)
        residual_square = np.repeat(1 - voiced, HOPS_PER_QUARTER, axis=1) * mean_square.reshape(b, -1)
        audio += self._residual(power, comb_share * comb / tonal, residual_square, length, rng,
                                start_column * HOPS_PER_FRAME, noise_phases(seed))
        audio = self._impose_block_energy(audio, STFT_HOP * mean_square)
        return np.clip(audio, -1.0, 1.0).astype(np.float32)

    def _bin_power(self, band_power: np.ndarray, tonal: np.ndarray) -> np.ndarray:
        """Per-bin power whose mel analysis gives back `band_power`, shaped within bands by `tonal`.

        Bands are interpolated in the log domain, so a quiet band next to a loud one stays quiet
        (music spans 100 dB across bands), then corrected a few times for the filters' overlap.
        """
        log_target = np.log(band_power + FLOOR)
        log_power = log_target @ self.mel_to_bins.T + np.log(tonal)
        for _ in range(BAND_CORRECTIONS):
            analysed = np.log(np.exp(log_power) @ self.mel + FLOOR)
            log_power += (log_target - analysed) @ self.mel_to_bins.T
        return np.exp(log_power) * self.covered  # bins outside every mel band stay silent

    def _harmonic(self, power: np.ndarray, log2_f0: np.ndarray, mean_square: np.ndarray, length: int,
                  rng: np.random.Generator, start_column: int) -> np.ndarray:
        """[B, length] a harmonic tone gliding through the quarter frames' pitches ([B, 4T] each).

        Each quarter frame gets a wavetable whose partials share out `mean_square` as the spectral
        envelope `power` ([B, T, bins]) does around them. Between two quarter-frame centres the
        pitch glides in log frequency at one continuous phase and the two tables crossfade, so
        notes neither click nor jump. Where a note holds one pitch (a quarter's pitch equals a
        neighbour's, as in every note the engine puts in tune), the oscillator is at each of its centres
        where a tone of that pitch started at the stream's sample 0 would be (`start_column` places the
        clip in the stream): a held note has the same phase in every decode of it, and the glide from
        the last note into its first centre absorbs the difference (at most half a cycle over a
        quarter frame).
        Elsewhere (a pitch that moves, as an analysed real part's does from quarter to quarter) the
        phase runs on freely: anchoring there would bend the pitch by up to half a cycle in every
        quarter frame.
        """
        b = log2_f0.shape[0]
        # Two copies of the first and last quarter frame on either side: every sample of the clip
        # then lies between two centres, and the samples come out as [B, segments, 1024].
        log2_f0 = np.pad(log2_f0, ((0, 0), (2, 2)), mode="edge")
        tables = np.pad(self._wavetables(power, log2_f0[:, 2:-2], mean_square, rng), ((0, 0), (2, 2), (0, 0)),
                        mode="edge")
        segments = log2_f0.shape[1] - 1
        fade = np.arange(QUARTER) / QUARTER
        start = 2 * QUARTER - (FIRST_BLOCK + QUARTER // 2)  # where sample 0 lies after the padding
        centres = start_column * self.hop + np.arange(segments + 1) * QUARTER - start  # absolute sample of each centre
        sample_f0 = 2.0 ** (log2_f0[:, :-1, None] * (1 - fade) + log2_f0[:, 1:, None] * fade)
        glide = np.cumsum(sample_f0 / self.sample_rate, axis=2) - sample_f0 / self.sample_rate  # from each centre
        advance = glide[:, :, -1] + sample_f0[:, :, -1] / self.sample_rate  # cycles from one centre to the next
        phase = _anchored_phase(np.mod(2.0**log2_f0 * centres / self.sample_rate, 1.0), advance,
                                np.diff(log2_f0, axis=1) == 0)
        gap = phase[:, 1:] - phase[:, :-1] - advance
        gap -= np.round(gap)  # the nearest way round: at most half a cycle
        cycle = phase[:, :-1, None] + glide + gap[..., None] * fade
        point = (cycle - np.floor(cycle)) * TABLE_SIZE
        whole = point.astype(np.int32)
        frac = (point - whole).astype(np.float32)
        first = (np.arange(b)[:, None] * (segments + 1) + np.arange(segments)) * (TABLE_SIZE + 1)
        flat = tables.reshape(-1)
        audio = np.zeros((b, segments, QUARTER), np.float32)
        for table, weight in ((first, 1 - fade), (first + TABLE_SIZE + 1, fade)):  # this centre's, the next's
            index = table[..., None] + whole
            near = flat[index]
            audio += weight.astype(np.float32) * (near + frac * (flat[index + 1] - near))
        return audio.reshape(b, -1)[:, start:start + length]

    def _wavetables(self, power: np.ndarray, log2_f0: np.ndarray, mean_square: np.ndarray,
                    rng: np.random.Generator) -> np.ndarray:
        """[B, 4T, TABLE_SIZE + 1] one period of each quarter frame's tone (the first point repeated)."""
        b, quarters = log2_f0.shape
        f0 = 2.0**log2_f0
        # The highest partial stays under 16 kHz at the neighbouring quarters' pitch too.
        padded = np.pad(f0, ((0, 0), (1, 1)), mode="edge")
        highest = np.maximum(np.maximum(padded[:, :-2], padded[:, 1:-1]), padded[:, 2:])
        partial = np.arange(1, MAX_PARTIALS + 1)
        frame_power = np.repeat(power, QUARTERS, axis=1)  # [B, 4T, bins]
        region = self._region_power(frame_power, f0[..., None] * (partial - 0.5), f0[..., None] * (partial + 0.5))
        region *= partial * highest[..., None] < MEL_RANGE_HZ[1]
        amplitude = np.sqrt(2 * mean_square[..., None] * region / np.maximum(region.sum(axis=-1, keepdims=True), FLOOR))
        phases = np.exp(2j * np.pi * rng.uniform(size=(b, 1, MAX_PARTIALS)))
        spectrum = np.zeros((b, quarters, TABLE_SIZE // 2 + 1), np.complex64)
        spectrum[..., 1:MAX_PARTIALS + 1] = amplitude * phases * (TABLE_SIZE / 2)
        tables = np.fft.irfft(spectrum, TABLE_SIZE, axis=-1)
        return np.concatenate([tables, tables[..., :1]], axis=-1)

    @staticmethod
    def _region_power(power: np.ndarray, low_hz: np.ndarray, high_hz: np.ndarray) -> np.ndarray:
        """Power of `power`'s bins ([..., bins]) between `low_hz` and `high_hz` ([..., K]), bins pro rata."""
        bins = power.shape[-1]
        cumulative = np.concatenate([np.zeros_like(power[..., :1]), np.cumsum(power, axis=-1)], axis=-1)

        def below(hz: np.ndarray) -> np.ndarray:  # bin i spans i - 1/2 to i + 1/2 bin widths
            edge = np.clip(hz * N_FFT / SAMPLE_RATE + 0.5, 0, bins)
            whole = np.minimum(edge.astype(int), bins - 1)
            start = np.take_along_axis(cumulative, whole, axis=-1)
            return start + (edge - whole) * np.take_along_axis(power, whole, axis=-1)

        return below(high_hz) - below(low_hz)

    def _residual(self, power: np.ndarray, comb_share: np.ndarray, mean_square: np.ndarray, length: int,
                  rng: np.random.Generator, first_hop: int, noise_phases: np.ndarray) -> np.ndarray:
        """[B, length] noise and pitch-class comb: spectral shape `power` ([B, T, bins]), of which
        `comb_share` goes to the comb, at the hops' mean squares ([B, 8T]). The hops are the stream's
        from `first_hop` on; each takes its random phases from its row of `noise_phases`."""
        b, frames, bins = power.shape
        # Each hop gets its own energy, so a loud hop's spectrum does not spill into the quiet hops
        # around it; the time-domain pass afterwards sharpens the onsets. float32 from here on:
        # the spectra are the largest arrays of decoding.
        shape = self.power_per_mean_square * power / np.maximum(power.sum(axis=2, keepdims=True), FLOOR)
        amplitude = np.sqrt(np.repeat(shape.astype(np.float32), HOPS_PER_FRAME, axis=1)
                            * mean_square[..., None].astype(np.float32))
        comb_share = np.repeat(comb_share.astype(np.float32), HOPS_PER_FRAME, axis=1)
        # Phases are indices into a table of the unit circle (cheaper than complex exponentials).
        hop_bins = (b, frames * HOPS_PER_FRAME, bins)
        stream_hop = first_hop + np.arange(hop_bins[1])
        rows = (stream_hop[None] + np.arange(b)[:, None] * (NOISE_HOPS // 4 + 1)) % NOISE_HOPS  # one row per stem and hop
        noise_phase = noise_phases[rows]
        # Comb bins keep one phase that advances with the bin frequency, so hops add up to steady
        # sinusoids (sharp spectral peaks) instead of noise: a quarter turn per bin and hop (uint16
        # products wrap at 65536, a multiple of PHASE_STEPS, so the phase stays right).
        hop, bin_ = (stream_hop % PHASE_STEPS).astype(np.uint16), np.arange(bins, dtype=np.uint16)
        comb_phase = rng.integers(0, PHASE_STEPS, bins, dtype=np.uint16) + hop[:, None] * bin_ * (PHASE_STEPS // 4)
        spectrum = amplitude * (INCOHERENT_GAIN * np.sqrt(1 - comb_share) * self.circle[noise_phase]
                                + COHERENT_GAIN * np.sqrt(comb_share) * self.circle[comb_phase % PHASE_STEPS])
        return self._overlap_add(np.fft.irfft(spectrum, n=N_FFT, axis=-1) * self.window, length)

    def _impose_block_energy(self, audio: np.ndarray, target: np.ndarray) -> np.ndarray:
        """Scale each 512-sample block towards its target energy ([B, T, 8]).

        Measuring what was actually synthesised removes the energy that overlap-add carries from a
        loud frame into a quiet neighbour and keeps onsets in their block. Block by block only
        errors beyond a tolerance are corrected: the energy ripple of beating partials, and of a
        bass whose period spans two blocks, is left alone, because modulating it would splatter a
        loud bass over every band above it. Over a frame that ripple averages out, so each frame's
        energy is then matched exactly: the level holds. Amplitudes change over a short ramp to
        avoid clicks.
        """
        actual = self._block_energy(audio, target.shape[1])
        error = np.log(target + FLOOR) - np.log(actual + FLOOR)
        gain = np.exp(np.sign(error) * np.maximum(np.abs(error) - ENVELOPE_TOLERANCE, 0.0) / 2)
        gain *= np.sqrt((target.sum(axis=2, keepdims=True) + FLOOR)
                        / (np.sum(actual * gain**2, axis=2, keepdims=True) + FLOOR))
        curve = np.repeat(gain.reshape(audio.shape[0], -1), STFT_HOP, axis=1)
        curve = np.pad(curve, ((0, 0), (FIRST_BLOCK + ENVELOPE_RAMP, audio.shape[1] - FIRST_BLOCK - curve.shape[1])),
                       mode="edge")
        running = np.cumsum(curve, axis=1)  # moving average over the ramp length
        return audio * (running[:, ENVELOPE_RAMP:] - running[:, :-ENVELOPE_RAMP]) / ENVELOPE_RAMP

    def _overlap_add(self, hops: np.ndarray, length: int) -> np.ndarray:
        """Window-normalised overlap-add; the hop divides the FFT size, so it is 4 shifted adds."""
        b, count, _ = hops.shape
        parts = N_FFT // STFT_HOP
        chunks = hops.reshape(b, count, parts, STFT_HOP)
        window_sq = (self.window**2).reshape(parts, STFT_HOP)
        out = np.zeros((b, count + parts - 1, STFT_HOP))
        norm = np.zeros((count + parts - 1, STFT_HOP))
        for part in range(parts):
            out[:, part:part + count] += chunks[:, :, part]
            norm[part:part + count] += window_sq[part]
        # The window-square sum is 1.5 inside; the floor fades the first and last hop in and out.
        return (out / np.maximum(norm, 0.5)).reshape(b, -1)[:, :length]
